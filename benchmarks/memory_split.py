"""Split a model case's peak-memory increment: runtime start-up, first-call loading, training.

``benchmarks/run.py`` reports the peak RSS of three training steps above a baseline taken
after set-up and the framework's runtime start-up (benchmarks/memory.py). This tool measures
the three parts apart, in a fresh process per framework and dataset:

1. **runtime**: one tiny operation that uses none of the model's kernels
   (``Framework.start_runtime``). For tinymm-Numba this is the largest part: the first call of
   *any* Numba function, even one loaded from the on-disk cache, builds Numba's CPU target
   context (some 200 modules of lowering code and LLVM's code generator), ~62 MiB, once per
   process. PyTorch's import already holds its runtime, so its part is small;
2. **one-time**: one training step at batch 2 on a throwaway copy of the model; the model and
   its optimizer are then freed, and what the process kept is the one-time cost of this
   model (for tinymm-Numba its kernels loaded from the cache; for PyTorch its lazily built
   kernels and allocator pools);
3. **training**: a fresh model, then the peak RSS of three steps at batch 32 above the
   baseline just before them (``memory.measure_increment``, as run.py does).

    python -m benchmarks.memory_split                       # every built-in dataset
    python -m benchmarks.memory_split --datasets sentiment_prosody --frameworks tinymm-numba
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys

from .runner import REPO, bench_env

BATCH = 32
SMALL_BATCH = 2


def measure(framework: str, dataset: str, threads: int, seed: int = 0) -> dict:
    """In this process: the runtime start-up, one-time and training increments (MiB) of one
    model case."""
    from . import frameworks
    from .cases_models import _dataset_step
    from .memory import measure_increment, release_free_heap, rss_mb

    def settled() -> float:   # RSS without garbage or free heap (see memory.release_free_heap)
        gc.collect()
        release_free_heap()
        return rss_mb()

    fw = frameworks.make(framework, threads)
    throwaway = _dataset_step(fw, seed, dataset, SMALL_BATCH)
    before = settled()
    fw.start_runtime()
    runtime = settled() - before
    before = rss_mb()
    throwaway.step()
    del throwaway
    one_time = settled() - before
    bench = _dataset_step(fw, seed, dataset, BATCH)
    training = measure_increment(bench.step, 3)
    return {"framework": framework, "dataset": dataset, "runtime_mb": round(runtime, 1),
            "one_time_mb": round(one_time, 1),
            "training_mb": round(training["increment_mb"], 1),
            "exact": bool(training["exact"])}


def _run_fresh(framework: str, dataset: str, threads: int) -> dict:
    code = (f"import json; from benchmarks.memory_split import measure; "
            f"print(json.dumps(measure({framework!r}, {dataset!r}, {threads})))")
    done = subprocess.run([sys.executable, "-c", code], env=bench_env(threads), cwd=str(REPO),
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"framework": framework, "dataset": dataset, "error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mb(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def table(rows: list[dict], frameworks: list[str]) -> str:
    """A markdown table: one line per dataset, runtime, one-time and training MiB per framework."""
    head = "| dataset | " + " | ".join(f"{f} runtime | {f} one-time | {f} training"
                                       for f in frameworks) + " |"
    lines = [head, "|---" * (1 + 3 * len(frameworks)) + "|"]
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        cells = []
        for f in frameworks:
            r = next((r for r in rows if r["dataset"] == ds and r["framework"] == f), {})
            if "error" in r or not r:
                cells += [r.get("error", "not run")[:60], "—", "—"]
            else:
                cells += [_mb(r.get("runtime_mb")), _mb(r["one_time_mb"]), _mb(r["training_mb"])]
        lines.append(f"| `{ds}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from .cases_models import dataset_names

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="*", default=None, help="default: every built-in one")
    p.add_argument("--frameworks", nargs="*", default=["tinymm-numba", "torch"],
                   choices=["tinymm-numba", "tinymm-numpy", "torch"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = p.parse_args(argv)
    known = dataset_names()
    datasets = args.datasets or known
    unknown = [d for d in datasets if d not in known]
    if unknown:
        p.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    rows = []
    for ds in datasets:
        for f in args.frameworks:
            print(f"[memory_split] {f} on {ds}", file=sys.stderr, flush=True)
            rows.append(_run_fresh(f, ds, args.threads))
    print(table(rows, args.frameworks))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
