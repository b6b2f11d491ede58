"""Scratch benchmark: conv2d / max_pool2d in tinymm (numba and numpy backends) vs PyTorch.

    python benchmarks/_scratch_convpool.py [--reps 30] [--json out.json]

PyTorch runs in its own process (``--torch-only``, 2 threads) so its thread pool never spins
against OpenBLAS/Numba's in ours. Times are medians of ``--reps`` runs after warm-up, in ms,
through the public API (autograd included): "fwd" under ``tm.no_grad()``, "fwd+bwd" a
forward with gradients for every input and ``y.backward(ones)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

# name -> (kind, input shape, (C_out, kernel, padding) for conv | (kernel,) for pool)
CASES = {
    "conv2d 64->128 3x3 p1 16x16 b32": ("conv", (32, 64, 16, 16), (128, 3, 1)),
    "conv2d 3->64 3x3 p1 32x32 b32": ("conv", (32, 3, 32, 32), (64, 3, 1)),
    "max_pool2d 2x2 (32,64,32,32)": ("pool", (32, 64, 32, 32), (2,)),
}


def median_ms(fn, reps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def _arrays(kind, shape, extra):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "pool":
        return x, None, None
    c_out, k, _ = extra
    w = (rng.standard_normal((c_out, shape[1], k, k)) * 0.1).astype(np.float32)
    return x, w, rng.standard_normal(c_out).astype(np.float32)


def _timings(op, inputs, leaves, no_grad, ones_like, reps, warmup=3) -> dict:
    """fwd (no graph) and fwd+bwd medians of ``op(*inputs)``."""

    def fwd():
        with no_grad():
            op(*inputs)

    def fwd_bwd():
        for t in leaves:
            t.grad = None
        y = op(*inputs)
        y.backward(ones_like(y))

    return {"fwd": median_ms(fwd, reps, warmup), "fwd+bwd": median_ms(fwd_bwd, reps, warmup)}


def bench_torch(reps: int) -> dict:
    import torch
    import torch.nn.functional as tF

    torch.set_num_threads(2)
    out = {}
    for name, (kind, shape, extra) in CASES.items():
        x, w, b = (None if a is None else torch.from_numpy(a) for a in _arrays(kind, shape, extra))
        if kind == "conv":
            op, inputs = (lambda x, w, b, p=extra[2]: tF.conv2d(x, w, b, padding=p)), (x, w, b)
        else:
            op, inputs = (lambda x, k=extra[0]: tF.max_pool2d(x, k)), (x,)
        leaves = [t.requires_grad_() for t in inputs]
        out[name] = _timings(op, inputs, leaves, torch.no_grad, torch.ones_like, reps)
    return out


def bench_tinymm(backend: str, reps: int) -> dict:
    import tinymm as tm
    from tinymm.functional.conv import conv2d
    from tinymm.functional.pool import max_pool2d

    def ones_like(y):
        return tm.ones(*y.shape)

    slow = backend == "numpy"  # the reference conv backward takes ~0.25 s: fewer reps
    out = {}
    with tm.backend(backend):
        for name, (kind, shape, extra) in CASES.items():
            arrays = _arrays(kind, shape, extra)
            x, w, b = (None if a is None else tm.tensor(a, requires_grad=True) for a in arrays)
            if kind == "conv":
                op, inputs = (lambda x, w, b, p=extra[2]: conv2d(x, w, b, padding=p)), (x, w, b)
            else:
                op, inputs = (lambda x, k=extra[0]: max_pool2d(x, k)), (x,)
            out[name] = _timings(op, inputs, inputs, tm.no_grad, ones_like,
                                 max(20, reps // 2) if slow else reps, 1 if slow else 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--skip-numpy", action="store_true",
                        help="skip the (slow) NumPy reference backend")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_only:
        print(json.dumps(bench_torch(args.reps)))
        return

    done = subprocess.run([sys.executable, __file__, "--torch-only", "--reps", str(args.reps)],
                          capture_output=True, text=True, check=True)
    results = {"torch": json.loads(done.stdout.strip().splitlines()[-1])}
    from tinymm import kernels
    kernels.warmup()
    results["numpy"] = {}
    for backend in ("numba",) if args.skip_numpy else ("numba", "numpy"):
        results[backend] = bench_tinymm(backend, args.reps)

    print(f"{'op':34s} {'pass':8s} {'numba':>9s} {'numpy':>9s} {'torch':>9s} {'numba/torch':>12s}")
    for name in CASES:
        for part in ("fwd", "fwd+bwd"):
            nb, t = results["numba"][name][part], results["torch"][name][part]
            np_ = results["numpy"].get(name, {}).get(part, float("nan"))
            print(f"{name:34s} {part:8s} {nb:9.2f} {np_:9.2f} {t:9.2f} {nb / t:12.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
