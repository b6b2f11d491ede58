"""int8 kernels against float32, and against PyTorch's dynamic quantisation, in one run.

    python benchmarks/quant.py                   # ~1 min; --threads 1 for single-thread ratios

Cases (forward, inference): Linear 1024 -> 1024 at batch 1, 32 and 256; Conv2d 64 -> 128,
3x3, padding 1, on 16x16 images at batch 8. Contenders, all in ONE process with the same
thread count (Numba, OpenBLAS and torch): tinymm's float32 layer, tinymm's int8 layer
(``QuantizedLinear`` / ``QuantizedConv2d``: activations quantised per call, uint8 x int8
products summed in int32 by the Numba kernel, rescaled in the same pass), PyTorch float32
and, for Linear, ``torch.ao.quantization.quantize_dynamic`` (int8 weights, fbgemm kernels).

Every repetition calls each contender once, in a rotating order, so a burst of load from
other processes hits all of them alike; the table gives the median time per contender and
the median over repetitions of the *per-repetition* ratio (robust on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = {"linear_b1": ("linear", 1), "linear_b32": ("linear", 32), "linear_b256": ("linear", 256),
         "conv_64x128_16_b8": ("conv", 8)}
CONTENDERS = ("tinymm-f32", "tinymm-int8", "torch-f32", "torch-dynamic-int8")


def _cpu_name() -> str:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.machine import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} logical CPUs"


def _layers(kind: str, batch: int) -> dict:
    """contender -> a zero-argument callable running one forward pass."""
    import numpy as np
    import torch

    import tinymm as tm
    from tinymm import nn
    from tinymm.compress import QuantizedConv2d, QuantizedLinear

    rng = np.random.default_rng(0)
    tm.manual_seed(0)
    if kind == "conv":
        x_np = rng.standard_normal((batch, 64, 16, 16)).astype(np.float32)
        layer = nn.Conv2d(64, 128, 3, padding=1)
        qlayer = QuantizedConv2d.from_float(layer)
        tlayer = torch.nn.Conv2d(64, 128, 3, padding=1).eval()
        tq = None  # dynamic quantisation covers Linear (and RNN) layers only
    else:
        x_np = rng.standard_normal((batch, 1024)).astype(np.float32)
        layer = nn.Linear(1024, 1024)
        qlayer = QuantizedLinear.from_float(layer)
        tlayer = torch.nn.Linear(1024, 1024).eval()
        tq = torch.ao.quantization.quantize_dynamic(tlayer, {torch.nn.Linear}, dtype=torch.qint8)
    x, tx = tm.tensor(x_np), torch.from_numpy(x_np)

    def run_tm(mod):
        def f():
            with tm.no_grad():
                mod(x)
        return f

    def run_torch(mod):
        def f():
            with torch.no_grad():
                mod(tx)
        return f

    out = {"tinymm-f32": run_tm(layer), "tinymm-int8": run_tm(qlayer), "torch-f32": run_torch(tlayer)}
    if tq is not None:
        out["torch-dynamic-int8"] = run_torch(tq)
    return out


def measure(kind: str, batch: int, reps: int, budget_s: float) -> dict:
    """{contender: [seconds per repetition]}; each repetition times every contender once."""
    fns = _layers(kind, batch)
    names = list(fns)
    for f in fns.values():  # compile / warm caches
        f()
        f()
    inner = {}
    for name, f in fns.items():  # calls per timing so one timing lasts >= budget_s / reps / 4
        t0 = time.perf_counter()
        f()
        one = max(time.perf_counter() - t0, 1e-6)
        inner[name] = max(1, int(budget_s / reps / len(fns) / one))
    times: dict = {n: [] for n in names}
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            f, k = fns[name], inner[name]
            t0 = time.perf_counter()
            for _ in range(k):
                f()
            times[name].append((time.perf_counter() - t0) / k)
    return times


def _ratio(a: list, b: list) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=31)
    ap.add_argument("--budget", type=float, default=6.0, help="seconds of timing per case")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--out", type=Path, default=HERE / "QUANT.md")
    ap.add_argument("--note", default="", help="a line added under the table (e.g. machine load)")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy, numba and torch load their pools
    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rows = []
    for case in args.cases:
        kind, batch = CASES[case]
        t = measure(kind, batch, args.reps, args.budget)
        med = {n: statistics.median(v) for n, v in t.items()}
        vs_f32 = _ratio(t["tinymm-int8"], t["tinymm-f32"])
        vs_torch = _ratio(t["tinymm-int8"], t["torch-dynamic-int8"]) if "torch-dynamic-int8" in t else None
        rows.append((case, med, vs_f32, vs_torch))
        extra = "" if vs_torch is None else f", int8/torch-int8 {vs_torch:.2f}"
        print(f"{case}: int8/f32 {vs_f32:.2f}{extra}", flush=True)
    fmt = lambda v: "—" if v is None else f"{1e3 * v:.3f}"  # noqa: E731
    cmd = f"python benchmarks/quant.py --threads {args.threads} --reps {args.reps} --budget {args.budget}"
    lines = ["# int8 kernels: tinymm against its float32 path and PyTorch", "",
             f"Command: `{cmd}`  ",
             f"Machine: {_cpu_name()}; {args.threads} thread(s) for Numba, OpenBLAS and torch alike; "
             f"all contenders in one process, interleaved; medians of {args.reps} repetitions (ms, forward); "
             "ratios are medians of per-repetition ratios.", "",
             "| case | tinymm f32 | tinymm int8 | **int8 / f32** (< 1: int8 faster) | torch f32 | "
             "torch dynamic int8 | tinymm int8 / torch int8 |", "|---|---|---|---|---|---|---|"]
    for case, m, vs_f32, vs_torch in rows:
        lines.append(f"| {case} | {fmt(m['tinymm-f32'])} | {fmt(m['tinymm-int8'])} | **{vs_f32:.2f}** | "
                     f"{fmt(m['torch-f32'])} | {fmt(m.get('torch-dynamic-int8'))} | "
                     f"{'—' if vs_torch is None else f'{vs_torch:.2f}'} |")
    if args.note:
        lines += ["", args.note]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
