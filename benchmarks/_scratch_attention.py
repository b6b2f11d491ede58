"""Scratch timing of attention, layer norm and embedding: tinymm (numba, numpy) vs PyTorch.

    python benchmarks/_scratch_attention.py [--reps 30] [--rounds 1] [--json out.json]

Every framework runs in its own worker process (this script with ``--worker NAME``), so
thread pools never compete; 2 threads each (``torch.set_num_threads(2)``; Numba and
OpenBLAS default to the 2 cores). Each case is warmed up, then timed ``--reps`` times; the
median is reported (the best median over ``--rounds`` rounds, the workers alternating).
"forward" runs under no_grad; "fwd+bwd" records the graph and backpropagates ``out.sum()``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

FRAMEWORKS = ("numba", "numpy", "torch")


def _cases(lib, fw: str):
    """name -> (forward step, forward+backward step) in framework ``fw``."""
    rng = np.random.default_rng(0)
    if fw == "torch":
        import torch
        F, nn = torch.nn.functional, torch.nn
        no_grad = torch.no_grad

        def leaf(a, grad=True):
            return torch.tensor(a, requires_grad=grad)

        def index(a):
            return torch.from_numpy(a)

        torch.manual_seed(0)
        mha_cls, ln_fn, emb_fn = nn.MultiheadAttention, F.layer_norm, F.embedding
        sdpa = F.scaled_dot_product_attention
    else:
        import tinymm as tm
        from tinymm.functional.attention import scaled_dot_product_attention as sdpa
        from tinymm.functional.norm import layer_norm as ln_fn
        from tinymm.functional.sparse import embedding as emb_fn
        from tinymm.nn.attention import MultiheadAttention as mha_cls

        tm.set_backend(fw)
        tm.manual_seed(0)
        no_grad = tm.no_grad

        def leaf(a, grad=True):
            return tm.tensor(a, requires_grad=grad)

        def index(a):
            return a

    def clear(*ts):
        for t in ts:
            t.grad = None

    cases = {}
    for L in (20, 128):
        q, k, v = (leaf(rng.standard_normal((32, 4, L, 32)).astype(np.float32))
                   for _ in range(3))

        def sdpa_fwd(q=q, k=k, v=v):
            with no_grad():
                sdpa(q, k, v)

        def sdpa_fb(q=q, k=k, v=v):
            clear(q, k, v)
            sdpa(q, k, v).sum().backward()

        cases[f"sdpa b32 h4 L{L} d32"] = (sdpa_fwd, sdpa_fb)

        mha = mha_cls(128, 4)
        x = leaf(rng.standard_normal((L, 32, 128)).astype(np.float32))
        params = list(mha.parameters())

        def mha_fwd(mha=mha, x=x):
            with no_grad():
                mha(x, x, x)

        def mha_fb(mha=mha, x=x, params=params):
            clear(x, *params)
            out, _ = mha(x, x, x)
            out.sum().backward()

        cases[f"MHA b32 L{L} E128 h4"] = (mha_fwd, mha_fb)

    x = leaf(rng.standard_normal((32 * 128, 128)).astype(np.float32))
    w = leaf(rng.standard_normal(128).astype(np.float32))
    b = leaf(rng.standard_normal(128).astype(np.float32))

    def ln_fwd():
        with no_grad():
            ln_fn(x, (128,), w, b)

    def ln_fb():
        clear(x, w, b)
        ln_fn(x, (128,), w, b).sum().backward()

    cases["layer_norm (4096, 128)"] = (ln_fwd, ln_fb)

    table = leaf(rng.standard_normal((10000, 128)).astype(np.float32))
    ids = index(rng.integers(0, 10000, (32, 20)))

    def emb_fwd():
        with no_grad():
            emb_fn(ids, table)

    def emb_fb():
        clear(table)
        emb_fn(ids, table).sum().backward()

    cases["embedding 10000x128 [32x20]"] = (emb_fwd, emb_fb)
    return cases


def _median_ms(step, reps: int) -> float:
    for _ in range(3):
        step()  # warm-up: JIT compile / cache load, allocator
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def worker(fw: str, reps: int) -> dict:
    if fw == "torch":
        import torch

        torch.set_num_threads(2)
        lib = torch
    else:
        import tinymm as lib
    results = {}
    for name, (fwd, fb) in _cases(lib, fw).items():
        results[name] = {"forward": _median_ms(fwd, reps), "fwd+bwd": _median_ms(fb, reps)}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.reps)))
        return
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for fw in FRAMEWORKS:
            out = subprocess.run([sys.executable, __file__, "--worker", fw, "--reps",
                                  str(args.reps)], capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            for case, times in res.items():
                slot = best.setdefault(case, {}).setdefault(fw, {})
                for phase, ms in times.items():
                    slot[phase] = min(ms, slot.get(phase, np.inf))
    head = f"{'case':<30}{'phase':<9}" + "".join(f"{fw:>10}" for fw in FRAMEWORKS)
    print(head + f"{'numba/torch':>13}{'numpy/torch':>13}")
    for case, by_fw in best.items():
        for phase in ("forward", "fwd+bwd"):
            ms = [by_fw[fw][phase] for fw in FRAMEWORKS]
            print(f"{case:<30}{phase:<9}" + "".join(f"{m:10.3f}" for m in ms)
                  + f"{ms[0] / ms[2]:13.2f}{ms[1] / ms[2]:13.2f}")
    print("(milliseconds, median of", args.reps, "reps; best of", args.rounds, "round(s))")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(best, f, indent=1)


if __name__ == "__main__":
    main()
