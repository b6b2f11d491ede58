"""Data-parallel scaling on this machine, and an α–β prediction beyond it.

    python benchmarks/distributed.py                 # 5 alternating rounds, ~5 min
    python benchmarks/distributed.py --rounds 1 --steps 3 --models default   # a smoke run

Measures, for each model, the training throughput (samples/s, Adam steps with a fixed
per-process batch, i.e. weak scaling as Horovod reports it) in three configurations:

- ``1x2``: one process, two threads (BLAS and Numba);
- ``1x1``: one process, one thread;
- ``2x1``: two MPI processes (``mpiexec -n 2``) of one thread each, DistributedDataParallel.

**Scaling efficiency** = throughput(2x1) / (2 · throughput(1x1)). Configurations alternate
round by round (the machine is shared and noisy); medians are reported. In the 2x1 runs it
also records the seconds each step spent waiting for the all-reduce at the end of backward,
and the time a blocking all-reduce of all gradients takes alone: the share of the latter
that the wait no longer shows is the share the overlap hid. The 2x1 configuration is run
twice, with MPICH's default progress and with ``MPIR_CVAR_ASYNC_PROGRESS=1``.

Then an α–β cost model of ring all-reduce, ``T(p, n) = 2(p−1)/p · n/β + 2(p−1)·α``, with the
compute time measured here, predicts the efficiency at 8–256 processes on 10/25/100 Gb/s
links (see ``LINKS`` for the assumptions), and ``results`` are written as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
MODELS = ("seed", "default")

# Link assumptions for the prediction: (name, bandwidth β in bytes/s, latency α in s).
# β: the line rate at 90 % efficiency; α: a typical MPI small-message latency over TCP on
# Ethernet (tens of µs) and over RDMA (RoCE/InfiniBand, a few µs). They are assumptions of
# order of magnitude, stated so a reader can redo the table with their own cluster's figures.
LINKS = (
    ("10 Gb/s Ethernet, TCP", 10e9 / 8 * 0.9, 30e-6),
    ("25 Gb/s Ethernet, RoCE", 25e9 / 8 * 0.9, 5e-6),
    ("100 Gb/s InfiniBand/RoCE", 100e9 / 8 * 0.9, 2e-6),
)
PROCESSES = (8, 16, 32, 64, 128, 256)


# --------------------------------------------------------------------------- worker
def build(model_name: str, batch: int, seed: int):
    import numpy as np

    import tinymm as tm
    from tinymm.models import build_model, seed_model

    tm.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if model_name == "seed":
        model = seed_model(10, image_size=32)
        inputs = {"image": tm.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)),
                  "text": tm.tensor(rng.integers(1, 10000, (batch, 20)))}
        labels = tm.tensor(rng.integers(0, 10, batch))
    else:
        from tinymm.data import get_dataset

        data = get_dataset("shapes_captions", split="train", seed=seed)
        model = build_model(data, modality_dropout=0.0)
        take = rng.integers(0, len(data), batch)
        arrays = data.get_batch(take)
        inputs = {m: tm.tensor(arrays[m]) for m in data.modalities}
        labels = tm.tensor(arrays["label"])
    return model, inputs, labels


def worker(model_name: str, batch: int, steps: int, warmup: int) -> dict:
    """Runs in each process of a configuration; returns rank 0's measurements."""
    import numpy as np

    import tinymm.distributed as dist
    import tinymm.functional as F
    from tinymm import optim

    rank, world = dist.init()
    model, inputs, labels = build(model_name, batch, seed=rank)
    # the "missing modality" vectors take no part when every modality is present
    net = dist.DistributedDataParallel(model, find_unused_parameters=True) if world > 1 else model
    opt = optim.Adam(model.parameters(), lr=1e-4)
    times, waits = [], []
    for step in range(warmup + steps):
        dist.barrier()
        wait0 = net.stats["wait_seconds"] if world > 1 else 0.0
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(inputs), labels).backward()
        opt.step()
        elapsed = time.perf_counter() - t0
        if step >= warmup:
            times.append(elapsed)
            waits.append((net.stats["wait_seconds"] - wait0) if world > 1 else 0.0)
    grad_bytes = sum(p.data.nbytes for p in model.parameters())
    blocking = []
    if world > 1:
        flat = np.ones(grad_bytes // 4, np.float32)
        for _ in range(5):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(flat)
            blocking.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    return {"rank": rank, "world": world, "step_s": step_s, "samples_per_s": world * batch / step_s,
            "wait_s": statistics.median(waits),
            "allreduce_s": statistics.median(blocking) if blocking else 0.0,
            "grad_bytes": grad_bytes, "params": int(sum(p.data.size for p in model.parameters()))}


# --------------------------------------------------------------------------- launcher
def mpiexec() -> str:
    here = Path(sys.executable).with_name("mpiexec")
    return str(here) if here.exists() else "mpiexec"


def run_config(config: str, model_name: str, batch: int, steps: int, warmup: int,
               async_progress: bool = False) -> dict:
    procs, threads = {"1x2": (1, 2), "1x1": (1, 1), "2x1": (2, 1)}[config]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    if async_progress:
        env["MPIR_CVAR_ASYNC_PROGRESS"] = "1"
    cmd = [sys.executable, __file__, "--worker", model_name, "--batch", str(batch),
           "--steps", str(steps), "--warmup", str(warmup)]
    if procs > 1:
        cmd = [mpiexec(), "-n", str(procs)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{config} {model_name} failed:\n{out.stdout}\n{out.stderr}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][0]
    return json.loads(line[len("RESULT "):])


def ring_allreduce_s(p: int, nbytes: float, beta: float, alpha: float) -> float:
    """α–β time of a ring all-reduce of ``nbytes`` over ``p`` processes."""
    return 2 * (p - 1) / p * nbytes / beta + 2 * (p - 1) * alpha


def prediction_rows(compute_s: float, grad_bytes: float) -> list[tuple]:
    rows = []
    for name, beta, alpha in LINKS:
        for p in PROCESSES:
            comm_s = ring_allreduce_s(p, grad_bytes, beta, alpha)
            rows.append((name, p, comm_s, compute_s / (compute_s + comm_s),
                         compute_s / max(compute_s, comm_s)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    ap.add_argument("--batch", type=int, default=32, help="per-process batch (default 32)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per run (default 10)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "distributed.json")
    ap.add_argument("--results-md", type=Path, default=HERE / "DISTRIBUTED.md")
    args = ap.parse_args(argv)
    if args.worker:
        result = worker(args.worker, args.batch, args.steps, args.warmup)
        if result["rank"] == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return 0

    configs = ("1x1", "2x1", "1x2", "2x1-async")
    runs: dict = {m: {c: [] for c in configs} for m in args.models}
    total = args.rounds * len(args.models) * len(configs)
    done = 0
    for r in range(args.rounds):
        for m in args.models:
            order = configs if r % 2 == 0 else tuple(reversed(configs))
            for c in order:
                res = run_config(c.split("-")[0], m, args.batch, args.steps, args.warmup,
                                 async_progress=c.endswith("async"))
                runs[m][c].append(res)
                done += 1
                print(f"[{done}/{total}] round {r + 1} {m} {c}: {res['samples_per_s']:.1f} samples/s",
                      flush=True)
    summary = {}
    for m in args.models:
        med = {c: statistics.median(x["samples_per_s"] for x in runs[m][c]) for c in configs}
        eff_rounds = [b["samples_per_s"] / (2 * a["samples_per_s"])
                      for a, b in zip(runs[m]["1x1"], runs[m]["2x1"])]
        two = runs[m]["2x1"]
        summary[m] = {
            "params": two[0]["params"], "grad_bytes": two[0]["grad_bytes"],
            "samples_per_s": med,
            "efficiency": med["2x1"] / (2 * med["1x1"]),
            "efficiency_async": med["2x1-async"] / (2 * med["1x1"]),
            "efficiency_per_round": eff_rounds,
            "wait_s": statistics.median(x["wait_s"] for x in two),
            "allreduce_s": statistics.median(x["allreduce_s"] for x in two),
            "wait_s_async": statistics.median(x["wait_s"] for x in runs[m]["2x1-async"]),
            "step_s_1x1": statistics.median(x["step_s"] for x in runs[m]["1x1"]),
        }
        s = summary[m]
        s["overlap_hidden"] = max(0.0, 1 - s["wait_s"] / s["allreduce_s"]) if s["allreduce_s"] else 0.0
        s["overlap_hidden_async"] = (max(0.0, 1 - s["wait_s_async"] / s["allreduce_s"])
                                     if s["allreduce_s"] else 0.0)
        s["prediction"] = prediction_rows(s["step_s_1x1"], s["grad_bytes"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python benchmarks/distributed.py " + " ".join(argv or sys.argv[1:]),
            "cpu": _cpu_name(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=1))
    md = render(meta, summary, args)
    args.results_md.write_text(md)
    print(md)
    return 0


def render(meta: dict, summary: dict, args) -> str:
    out = ["# Data-parallel scaling (MPI)", "",
           f"Command: `{meta['command']}`  ", f"Machine: {meta['cpu']}  ", f"Date: {meta['date']}  ",
           f"Per-process batch {args.batch}, {args.steps} timed Adam steps after {args.warmup} warm-up, "
           f"{args.rounds} alternating rounds, medians.", "",
           "| model | params | 1x2 samples/s | 1x1 | 2x1 | 2x1 async progress | efficiency 2x1 / (2 · 1x1) "
           "| async | all-reduce alone ms | wait after backward ms | hidden by overlap | async |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        sp = s["samples_per_s"]
        out.append(f"| {m} | {s['params']:,} | {sp['1x2']:.1f} | {sp['1x1']:.1f} | {sp['2x1']:.1f} | "
                   f"{sp['2x1-async']:.1f} | **{s['efficiency']:.0%}** | {s['efficiency_async']:.0%} | "
                   f"{s['allreduce_s'] * 1e3:.2f} | {s['wait_s'] * 1e3:.2f} | {s['overlap_hidden']:.0%} | "
                   f"{s['overlap_hidden_async']:.0%} |")
    out += ["", "Efficiency per round (2x1 / 2·1x1): " + "; ".join(
        f"{m}: " + ", ".join(f"{e:.0%}" for e in s["efficiency_per_round"]) for m, s in summary.items()),
        "", "## Beyond this machine: an α–β model of ring all-reduce", "",
        "T(p, n) = 2(p−1)/p · n/β + 2(p−1)·α for n gradient bytes over p processes; compute time per "
        "step is the 1x1 step measured here (per-process batch fixed). Efficiency without overlap = "
        "T_c / (T_c + T_ar); with perfect overlap = T_c / max(T_c, T_ar). Links (assumptions of order "
        "of magnitude): " + "; ".join(f"{n}: β = {b / 1e9:.2f} GB/s, α = {a * 1e6:.0f} µs"
                                      for n, b, a in LINKS) + ".", ""]
    for m, s in summary.items():
        out += [f"### {m} ({s['grad_bytes'] / 2**20:.1f} MiB of gradients, "
                f"compute {s['step_s_1x1'] * 1e3:.0f} ms per step)", "",
                "| link | " + " | ".join(f"p={p}" for p in PROCESSES) + " |",
                "|---|" + "---|" * len(PROCESSES)]
        for name, *_ in LINKS:
            cells = [f"{e:.0%} ({o:.0%})" for n, p, _, e, o in s["prediction"] if n == name]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out += ["", "Cells: efficiency without overlap (with perfect overlap).", ""]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
