"""A benchmark worker: one framework, one case, one process, driven over stdin/stdout.

    python -m benchmarks.worker --framework torch --case lstm_32x20_fb --threads 2

The orchestrator (``benchmarks/run.py``) sends one JSON command per line and reads one JSON
reply per line; everything the case code prints goes to stderr. Commands::

    {"cmd": "setup"}                         build the case (weights and data from --seed)
    {"cmd": "check", "path": "out.npz"}      run once, save the arrays the guard compares
    {"cmd": "check", "path": "a.npz", "path_later": "b.npz", "later_call": 3}
                                             ... and again on call 3 (buffers reused from call 2)
    {"cmd": "memprobe", "steps": 3}          peak RSS increment of steps above the baseline
    {"cmd": "warmup", "min_reps": 3, "min_s": 0.2, "max_s": 60}
    {"cmd": "time", "reps": k}               k timed repetitions -> seconds each
    {"cmd": "profile", "reps": k, "top": 30} cProfile of k repetitions -> text
    {"cmd": "memory"}                        peak RSS of this process (ru_maxrss)
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import sys
import time
import traceback

UNAVAILABLE = (ImportError, AttributeError, NotImplementedError)


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB.

    /proc/self/status VmHWM first: ``ru_maxrss`` survives ``exec`` on Linux, so a worker
    would report its parent's peak if that was larger.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024.0


class Worker:
    def __init__(self, framework: str, case_name: str, threads: int, seed: int):
        self.framework_name = framework
        self.case_name = case_name
        self.threads = threads
        self.seed = seed
        self.fw = None
        self.case = None
        self.bench = None

    # ------------------------------------------------------------------------- commands
    def start(self) -> dict:
        from . import frameworks, registry

        t0 = time.perf_counter()
        self.fw = frameworks.make(self.framework_name, self.threads)
        import_s = time.perf_counter() - t0
        self.case = registry.get(self.case_name)
        return {"import_s": import_s, "rss_mb": rss_mb(), "version": self.fw.version()}

    def setup(self, msg: dict) -> dict:
        t0 = time.perf_counter()
        try:
            self.bench = self.case.setup(self.fw, self.seed)
            wrap = getattr(self.fw, "wrap", None)
            if wrap is not None:
                self.bench = wrap(self.bench)
        except UNAVAILABLE as exc:
            return {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=6)}
        return {"setup_s": time.perf_counter() - t0, "rss_mb": rss_mb()}

    def check(self, msg: dict) -> dict:
        import numpy as np

        t0 = time.perf_counter()
        outputs = self.bench.outputs()                       # call 1
        arrays = {k: np.asarray(v) for k, v in outputs.items()}
        np.savez(msg["path"], **arrays)
        reply = {"keys": sorted(arrays), "calls": [1]}
        if msg.get("path_later"):
            later = int(msg.get("later_call", 3))
            for _ in range(later - 2):                       # calls 2 .. later-1
                self.bench.step()
            if self.bench.reset is not None:                 # same state as call 1
                self.bench.reset()
            arrays = {k: np.asarray(v) for k, v in self.bench.outputs().items()}
            np.savez(msg["path_later"], **arrays)
            reply["calls"].append(later)
        reply["seconds"] = time.perf_counter() - t0
        return reply

    def warmup(self, msg: dict) -> dict:
        times = []
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            self.bench.step()
            times.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - start
            if len(times) >= msg.get("min_reps", 3) and elapsed >= msg.get("min_s", 0.2):
                break
            if elapsed >= msg.get("max_s", 60.0) and len(times) >= 2:
                break
        return {"times": times}

    def time(self, msg: dict) -> dict:
        gc.collect()
        step = self.bench.step
        times = []
        for _ in range(int(msg["reps"])):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        return {"times": times}

    def profile(self, msg: dict) -> dict:
        prof = cProfile.Profile()
        step = self.bench.step
        reps = int(msg.get("reps", 5))
        prof.enable()
        for _ in range(reps):
            step()
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(int(msg.get("top", 30)))
        out.write("\n--- by cumulative time ---\n")
        stats.sort_stats("cumulative").print_stats(int(msg.get("top", 30)))
        text = out.getvalue()
        # shorten paths: repo files relative to the repo, libraries relative to site-packages
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
        text = text.replace(repo, "")
        for path in sorted({p for p in sys.path if p.endswith("site-packages")}, key=len,
                           reverse=True):
            text = text.replace(path + os.sep, "")
        return {"text": text, "reps": reps}

    def memprobe(self, msg: dict) -> dict:
        """Peak memory of ``steps`` calls above the baseline after imports, set-up and the
        framework's runtime start-up (reported apart as ``runtime_mb``)."""
        from .memory import measure_increment

        return measure_increment(self.bench.step, int(msg.get("steps", 3)),
                                 start_runtime=getattr(self.fw, "start_runtime", None))

    def memory(self, msg: dict) -> dict:
        return {"peak_rss_mb": peak_rss_mb(), "rss_mb": rss_mb()}


def serve(worker: Worker, reply_stream) -> None:
    def reply(obj: dict) -> None:
        reply_stream.write(json.dumps(obj) + "\n")
        reply_stream.flush()

    try:
        reply({"status": "ok", **worker.start()})
    except UNAVAILABLE as exc:
        reply({"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"})
        return
    except Exception as exc:  # noqa: BLE001  (reported to the orchestrator)
        reply({"status": "error", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc()})
        return
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        cmd = msg.get("cmd")
        if cmd == "quit":
            reply({"status": "ok"})
            return
        handler = getattr(worker, cmd, None) if cmd in (
            "setup", "check", "warmup", "time", "profile", "memory", "memprobe") else None
        if handler is None:
            reply({"status": "error", "error": f"unknown command {cmd!r}"})
            continue
        try:
            result = handler(msg)
            result.setdefault("status", "ok")
            reply(result)
        except Exception as exc:  # noqa: BLE001
            reply({"status": "error", "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # Replies go to the real stdout; anything else printed goes to stderr.
    sys.stdout.flush()
    reply_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # C-level writes to fd 1 (Numba, BLAS warnings) must not corrupt replies
    sys.stdout = sys.stderr
    serve(Worker(args.framework, args.case, args.threads, args.seed), reply_stream)


if __name__ == "__main__":
    main()
