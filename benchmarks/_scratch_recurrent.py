"""Scratch timing of LSTM, GRU and RNN layers: tinymm (numba, numpy backends) vs PyTorch.

    python benchmarks/_scratch_recurrent.py [--reps 30] [--rounds 3] [--threads 2]
                                            [--clock wall|cpu] [--json out.json]

Batch 32, 20 steps, 128 -> 128, float32, time-major input that requires grad (as behind an
embedding). Every framework runs in its own worker process (this script with
``--worker NAME``), so thread pools never compete; ``--threads`` threads each
(``torch.set_num_threads``; ``OPENBLAS_NUM_THREADS``/``NUMBA_NUM_THREADS`` in the workers'
environment). Each case is warmed up, then timed ``--reps`` times; the median is reported
(the best median over ``--rounds`` rounds, the workers alternating). "forward" runs under
no_grad; "fwd+bwd" records the graph and backpropagates ``output.sum()`` into the input and
every parameter. ``--clock cpu`` times process CPU seconds instead of wall seconds: with
``--threads 1`` that measures the work done, unaffected by other processes on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

FRAMEWORKS = ("numba", "numpy", "torch")
T, N, I, H = 20, 32, 128, 128


def _cases(fw: str) -> dict:
    """name -> (forward step, forward+backward step) in framework ``fw``."""
    x_np = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    if fw == "torch":
        import torch

        torch.manual_seed(0)
        modules = {name: getattr(torch.nn, name)(I, H) for name in ("LSTM", "GRU", "RNN")}
        x = torch.tensor(x_np, requires_grad=True)
        no_grad = torch.no_grad
    else:
        import tinymm as tm
        from tinymm.nn.recurrent import GRU, LSTM, RNN

        tm.set_backend(fw)
        tm.manual_seed(0)
        modules = {"LSTM": LSTM(I, H), "GRU": GRU(I, H), "RNN": RNN(I, H)}
        x = tm.tensor(x_np, requires_grad=True)
        no_grad = tm.no_grad

    cases = {}
    for name, module in modules.items():
        params = list(module.parameters())

        def forward(module=module):
            with no_grad():
                module(x)

        def forward_backward(module=module, params=params):
            for t in (x, *params):
                t.grad = None
            output, _ = module(x)
            output.sum().backward()

        label = "RNN tanh" if name == "RNN" else name
        cases[f"{label} b{N} T{T} {I}->{H}"] = (forward, forward_backward)
    return cases


def _median_ms(step, reps: int, clock) -> float:
    for _ in range(5):
        step()  # warm-up: JIT compile / cache load, allocator, thread pools
    times = []
    for _ in range(reps):
        start = clock()
        step()
        times.append(clock() - start)
    return float(np.median(times) * 1e3)


def worker(fw: str, reps: int, threads: int, clock_name: str) -> dict:
    if fw == "torch":
        import torch

        torch.set_num_threads(threads)
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    results = {}
    for name, (fwd, fb) in _cases(fw).items():
        results[name] = {"forward": _median_ms(fwd, reps, clock),
                         "fwd+bwd": _median_ms(fb, reps, clock)}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.reps, args.threads, args.clock)))
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads),
               NUMBA_NUM_THREADS=str(args.threads))
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for fw in FRAMEWORKS:
            out = subprocess.run([sys.executable, __file__, "--worker", fw, "--reps",
                                  str(args.reps), "--threads", str(args.threads), "--clock",
                                  args.clock], capture_output=True, text=True, check=True,
                                 env=env)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            for case, times in res.items():
                slot = best.setdefault(case, {}).setdefault(fw, {})
                for phase, ms in times.items():
                    slot[phase] = min(ms, slot.get(phase, np.inf))
    head = f"{'case':<26}{'phase':<9}" + "".join(f"{fw:>10}" for fw in FRAMEWORKS)
    print(head + f"{'numba/torch':>13}{'numpy/torch':>13}")
    for case, by_fw in best.items():
        for phase in ("forward", "fwd+bwd"):
            ms = [by_fw[fw][phase] for fw in FRAMEWORKS]
            print(f"{case:<26}{phase:<9}" + "".join(f"{m:10.3f}" for m in ms)
                  + f"{ms[0] / ms[2]:13.2f}{ms[1] / ms[2]:13.2f}")
    print(f"({args.clock}-clock milliseconds, {args.threads} thread(s), median of {args.reps} "
          f"reps; best of {args.rounds} round(s))")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(best, f, indent=1)


if __name__ == "__main__":
    main()
