"""int8 kernels against float32, and against PyTorch's dynamic quantisation, in one run.

    python benchmarks/quant.py                  # ~2 min; --rounds 3 for a quicker look

Cases (forward, inference): Linear 1024 -> 1024 at batch 1, 32 and 256; Conv2d 64 -> 128,
3x3, padding 1, on 16x16 images at batch 8. Frameworks, each in its own process with the same
thread count: tinymm's float32 layer, tinymm's int8 layer (``QuantizedLinear`` /
``QuantizedConv2d``: uint8 x int8 products summed in int32 by the Numba kernel, activations
quantised per call), and, for Linear, ``torch.ao.quantization.quantize_dynamic`` (int8
weights, fbgemm kernels). Rounds alternate the frameworks; medians over rounds are reported,
with the CPU they ran on, in ``benchmarks/QUANT.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu_name() -> str:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.machine import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} logical CPUs"
CASES = {"linear_b1": ("linear", 1), "linear_b32": ("linear", 32), "linear_b256": ("linear", 256),
         "conv_64x128_16_b8": ("conv", 8)}
FRAMEWORKS = ("tinymm-f32", "tinymm-int8", "torch-dynamic-int8", "torch-f32")


def _time(fn, budget_s: float = 0.4, min_reps: int = 5) -> float:
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(framework: str, case: str) -> float | None:
    import numpy as np

    kind, batch = CASES[case]
    rng = np.random.default_rng(0)
    if framework.startswith("torch"):
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        if kind == "conv":
            if framework == "torch-dynamic-int8":
                return None  # dynamic quantisation covers Linear (and RNN) layers only
            layer = torch.nn.Conv2d(64, 128, 3, padding=1).eval()
            x = torch.from_numpy(rng.standard_normal((batch, 64, 16, 16)).astype(np.float32))
        else:
            layer = torch.nn.Linear(1024, 1024).eval()
            x = torch.from_numpy(rng.standard_normal((batch, 1024)).astype(np.float32))
            if framework == "torch-dynamic-int8":
                layer = torch.ao.quantization.quantize_dynamic(layer, {torch.nn.Linear},
                                                               dtype=torch.qint8)
        with torch.no_grad():
            return _time(lambda: layer(x))
    import tinymm as tm
    from tinymm import nn
    from tinymm.compress import QuantizedConv2d, QuantizedLinear

    tm.manual_seed(0)
    if kind == "conv":
        layer = nn.Conv2d(64, 128, 3, padding=1)
        x = tm.tensor(rng.standard_normal((batch, 64, 16, 16)).astype(np.float32))
        if framework == "tinymm-int8":
            layer = QuantizedConv2d.from_float(layer)
    else:
        layer = nn.Linear(1024, 1024)
        x = tm.tensor(rng.standard_normal((batch, 1024)).astype(np.float32))
        if framework == "tinymm-int8":
            layer = QuantizedLinear.from_float(layer)
    with tm.no_grad():
        return _time(lambda: layer(x))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "CASE"), help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "QUANT.md")
    args = ap.parse_args(argv)
    if args.worker:
        result = worker(*args.worker)
        print("RESULT " + json.dumps(result))
        return 0
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(args.threads)
    times: dict = {c: {f: [] for f in FRAMEWORKS} for c in CASES}
    for r in range(args.rounds):
        order = FRAMEWORKS if r % 2 == 0 else tuple(reversed(FRAMEWORKS))
        for case in CASES:
            for fw in order:
                out = subprocess.run([sys.executable, __file__, "--worker", fw, case],
                                     capture_output=True, text=True, env=env, timeout=600)
                if out.returncode != 0:
                    raise RuntimeError(out.stderr[-2000:])
                value = json.loads(out.stdout.strip().splitlines()[-1][len("RESULT "):])
                if value is not None:
                    times[case][fw].append(value)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    med = {c: {f: statistics.median(v) if v else None for f, v in d.items()} for c, d in times.items()}
    lines = ["# int8 kernels: tinymm against its float32 path and PyTorch", "",
             f"Command: `python benchmarks/quant.py --rounds {args.rounds} --threads {args.threads}`  ",
             f"Machine: {_cpu_name()}; {args.threads} threads per framework, each in its own process; "
             f"medians of {args.rounds} alternating rounds (ms, forward).", "",
             "| case | tinymm f32 | tinymm int8 | int8 / f32 (< 1: int8 faster) | torch f32 | "
             "torch dynamic int8 | tinymm int8 / torch int8 |", "|---|---|---|---|---|---|---|"]
    for c, m in med.items():
        fmt = lambda v: "—" if v is None else f"{1e3 * v:.3f}"
        ratio = m["tinymm-int8"] / m["tinymm-f32"]
        vs_torch = "—" if m["torch-dynamic-int8"] is None else \
            f"{m['tinymm-int8'] / m['torch-dynamic-int8']:.2f}"
        lines.append(f"| {c} | {fmt(m['tinymm-f32'])} | {fmt(m['tinymm-int8'])} | **{ratio:.2f}** | "
                     f"{fmt(m['torch-f32'])} | {fmt(m['torch-dynamic-int8'])} | {vs_torch} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
