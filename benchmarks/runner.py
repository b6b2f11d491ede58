"""The orchestrator: spawns one worker process per framework, checks, then times in rounds.

For one case (see :func:`run_case`):

1. start a worker per framework (``python -m benchmarks.worker``), same environment for all;
2. ``setup`` each (seeded weights and data), ``check`` each: tinymm's arrays are compared with
   PyTorch's; a tinymm backend that disagrees is FAILED-CHECK and is not timed;
3. warm up each framework alone (JIT compile, caches, allocator), excluded from timing;
4. ``rounds`` interleaved rounds: in each, each framework runs ``k`` repetitions in turn (the
   order rotates every round, with a short pause between frameworks so that spinning BLAS /
   OpenMP threads of the previous one have gone to sleep), so machine noise hits all alike;
5. read the peak RSS of each worker, stop the workers;
6. for model cases, the peak-memory increment above the baseline, one fresh worker per
   framework (see ``memory.py``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import check as check_mod
from . import machine, stats
from .case import Case
from .frameworks import FRAMEWORKS

REPO = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass
class Settings:
    threads: int = 2
    seed: int = 0
    rounds: int = 5
    round_s: float = 0.4          # target seconds of work per framework per round
    max_reps: int = 50            # repetitions per framework per round, at most
    warmup_reps: int = 3          # at least this many untimed calls (the first may compile)
    warmup_s: float = 0.3         # ... and at least this long
    budget_s: float = 60.0        # timed seconds per framework per case, at most (slow cases
                                  # then run fewer rounds)
    gap_s: float = 0.2            # pause between frameworks (lets spinning threads sleep)
    timeout_s: float = 1800.0     # one worker request, at most
    frameworks: tuple[str, ...] = FRAMEWORKS
    check: bool = True
    quiet: float | None = None    # wait until other processes use less than this CPU fraction
    quiet_wait_s: float = 120.0   # ... for at most this long per case
    later_call: int = 3           # the guard checks call 1 and this call (0: call 1 only)
    memory: bool = True           # peak-memory increment of model cases, fresh processes
    memory_steps: int = 3
    allocator: str = "same"       # or "glibc-default": see bench_env
    log_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="tinymm-bench-"))

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The workers' environment for these settings (:func:`bench_env`)."""
        return bench_env(self.threads, extra, self.allocator)


ALLOCATORS = ("same", "glibc-default")
# Fixed glibc thresholds for every worker: blocks up to 32 MiB (the most glibc allows) come
# from the heap, and up to 512 MiB of free heap stays with the process
SAME_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(512 << 20)}


def bench_env(threads: int, extra: dict[str, str] | None = None,
              allocator: str = "same") -> dict[str, str]:
    """The environment of every worker: this process's, plus the same thread counts for all.

    ``allocator``: ``"same"`` (the default) gives every worker the same fixed glibc
    thresholds (``SAME_ALLOCATOR``, glibc's own variables). ``"glibc-default"`` leaves glibc's
    *dynamic* thresholds, which rise when a large block is freed, so a framework's speed then
    depends on what ran before in its process: the correctness guard's large temporaries were
    enough. PyTorch's seed step measured 50 ms without the guard (7,700 page faults a step)
    and 41 ms after it (none) on the Zen 4 EPYC. Nothing is set for one framework only, and
    tinymm itself never changes the allocator (docs/performance.md, pitfall 2).
    """
    if allocator not in ALLOCATORS:
        raise ValueError(f"bench_env: allocator must be one of {', '.join(ALLOCATORS)}, "
                         f"got {allocator!r}")
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    if allocator == "same":
        env.update(SAME_ALLOCATOR)
    env.update(extra or {})
    return env


class WorkerError(RuntimeError):
    pass


class WorkerProc:
    """One ``benchmarks.worker`` subprocess and its JSON-lines conversation."""

    def __init__(self, framework: str, case: str, settings: Settings, env: dict[str, str],
                 case_name: str | None = None):
        self.framework = framework
        self.settings = settings
        safe = case.replace("/", "_")
        case = case_name or case
        self.log_path = Path(settings.log_dir) / f"{safe}.{framework}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", "--framework", framework, "--case", case,
             "--threads", str(settings.threads), "--seed", str(settings.seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=str(REPO),
            env=env, text=True, bufsize=1)
        self.hello: dict | None = None
        self.start_jiffies = machine.process_jiffies(self.proc.pid) or 0
        self.cpu_jiffies = 0  # CPU time used, updated by close()

    def used_jiffies(self) -> int:
        now = machine.process_jiffies(self.proc.pid)
        if now is not None:
            self.cpu_jiffies = now - self.start_jiffies
        return self.cpu_jiffies

    def read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise WorkerError(f"{self.framework}: no reply within {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise WorkerError(f"{self.framework}: worker exited (code {self.proc.returncode}); "
                              f"log tail: {self.log_tail()}")
        return json.loads(line)

    def send(self, **msg) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def request(self, timeout: float | None = None, **msg) -> dict:
        self.send(**msg)
        return self.read(timeout or self.settings.timeout_s)

    def log_tail(self, n: int = 800) -> str:
        try:
            self._log.flush()
            return self.log_path.read_text()[-n:].strip()
        except OSError:
            return ""

    def close(self) -> None:
        self.used_jiffies()
        try:
            if self.proc.poll() is None:
                self.send(cmd="quit")
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._log.close()


def _status_of(reply: dict) -> str:
    return reply.get("status", "error")


def _error_text(reply: dict) -> str:
    return reply.get("error", "unknown error")


def run_case(case: Case, settings: Settings, env: dict[str, str] | None = None,
             progress=None) -> dict:
    """Check and time ``case`` in every framework of ``settings``; a JSON-ready dict."""
    env = env or settings.env()
    say = progress or (lambda msg: None)
    if settings.quiet is not None:
        busy = machine.wait_quiet(settings.quiet, settings.quiet_wait_s, say)
    else:
        busy = machine.cpu_busy(0.3)
    result = {"name": case.name, "group": case.group, "title": case.title, "flops": case.flops,
              "rtol": case.rtol, "load_avg_1m": os.getloadavg()[0], "cpu_busy_elsewhere": busy,
              "frameworks": {}}
    fws = result["frameworks"]
    workers: dict[str, WorkerProc] = {}
    all_workers: list[WorkerProc] = []
    cpu0, self0 = machine.cpu_totals(), machine.self_jiffies()
    try:
        # 1. start (concurrently: start-up is not timed here), 2. setup
        for name in settings.frameworks:
            workers[name] = WorkerProc(name, case.name, settings, env)
            all_workers.append(workers[name])
        for name, w in list(workers.items()):
            fws[name] = {"status": "ok"}
            try:
                hello = w.read(settings.timeout_s)
            except WorkerError as exc:
                hello = {"status": "error", "error": str(exc)}
            if _status_of(hello) != "ok":
                fws[name] = {"status": _status_of(hello), "error": _error_text(hello)}
                w.close()
                del workers[name]
                continue
            fws[name].update(version=hello.get("version"), base_rss_mb=hello.get("rss_mb"))
            w.send(cmd="setup")
        for name, w in list(workers.items()):
            try:
                reply = w.read(settings.timeout_s)
            except WorkerError as exc:
                reply = {"status": "error", "error": str(exc)}
            if _status_of(reply) != "ok":
                fws[name].update(status=_status_of(reply), error=_error_text(reply),
                                 traceback=reply.get("traceback"))
                w.close()
                del workers[name]
            else:
                fws[name]["setup_s"] = reply.get("setup_s")
        # 3. correctness guard
        if settings.check:
            _guard(case, settings, workers, fws, say)
        else:
            for name in workers:
                fws[name]["check_status"] = ("reference" if name == "torch"
                                             else "skipped: --no-check")
        # 4. warm-up, each alone
        estimates = {}
        for name, w in list(workers.items()):
            say(f"  warm-up {name}")
            reply = _safe_request(w, fws, name, cmd="warmup", min_reps=settings.warmup_reps,
                                  min_s=settings.warmup_s, max_s=settings.budget_s / 2)
            if reply is None:
                del workers[name]
                continue
            times = reply["times"]
            fws[name]["warmup_ms"] = [1e3 * t for t in times]
            steady = times[1:] if len(times) > 1 else times
            estimates[name] = max(stats.median(steady), 1e-6)
            time.sleep(settings.gap_s)
        # 5. interleaved rounds
        plan = {}
        for name, est in estimates.items():
            k = int(min(settings.max_reps, max(1, round(settings.round_s / est))))
            n_rounds = int(min(settings.rounds, max(1, settings.budget_s // (k * est))))
            plan[name] = (k, n_rounds)
            fws[name].update(reps_per_round=k, rounds=n_rounds)
        samples: dict[str, list[float]] = {name: [] for name in plan}
        order = list(plan)
        for r in range(settings.rounds):
            rotated = order[r % len(order):] + order[:r % len(order)] if order else []
            for name in rotated:
                if name not in workers or r >= plan[name][1]:
                    continue
                reply = _safe_request(workers[name], fws, name, cmd="time", reps=plan[name][0])
                if reply is None:
                    del workers[name]
                    continue
                samples[name].extend(reply["times"])
                time.sleep(settings.gap_s)
        for name, times in samples.items():
            if times and fws[name]["status"] == "ok":
                fws[name]["timing"] = stats.summarize(times)
                fws[name]["gflops"] = stats.gflops(case.flops, fws[name]["timing"])
        # 6. memory
        for name, w in workers.items():
            reply = _safe_request(w, fws, name, cmd="memory")
            if reply is not None:
                fws[name]["peak_rss_mb"] = reply["peak_rss_mb"]
    finally:
        for w in workers.values():
            w.used_jiffies()
        cpu1, self1 = machine.cpu_totals(), machine.self_jiffies()
        for w in workers.values():
            w.close()
    result["cpu_foreign"] = _foreign_share(cpu0, cpu1, self1 - self0,
                                           sum(w.cpu_jiffies for w in all_workers))
    if settings.memory and case.group == "model":
        memory_increments(case, settings, env, fws, say)
    _ratios(result)
    return result


def memory_increments(case: Case, settings: Settings, env: dict[str, str], fws: dict,
                      say=lambda msg: None) -> None:
    """``mem_increment`` of each framework that timed ``case``: a fresh worker, one at a time.

    One at a time, so that one framework's pages never push another's out of memory.
    """
    for name in settings.frameworks:
        if fws.get(name, {}).get("status") != "ok":
            continue
        say(f"  memory {name}")
        w = WorkerProc(name, case.name + ".mem", settings, env, case_name=case.name)
        try:
            hello = w.read(settings.timeout_s)
            reply = w.request(cmd="setup") if _status_of(hello) == "ok" else hello
            if _status_of(reply) == "ok":
                reply = w.request(cmd="memprobe", steps=settings.memory_steps)
            if _status_of(reply) == "ok":
                fws[name]["mem_increment"] = {k: v for k, v in reply.items() if k != "status"}
            else:
                fws[name]["mem_increment"] = {"error": _error_text(reply)}
        except WorkerError as exc:
            fws[name]["mem_increment"] = {"error": str(exc)}
        finally:
            w.close()


def _foreign_share(cpu0, cpu1, own_self: int, own_workers: int) -> float | None:
    """Share of all CPU time during a case used by processes other than the harness's own."""
    if cpu0 is None or cpu1 is None or cpu1[1] <= cpu0[1]:
        return None
    busy = cpu1[0] - cpu0[0] - own_self - own_workers
    return max(0.0, busy / (cpu1[1] - cpu0[1]))


def _safe_request(w: WorkerProc, fws: dict, name: str, **msg) -> dict | None:
    try:
        reply = w.request(**msg)
    except WorkerError as exc:
        reply = {"status": "error", "error": str(exc)}
    if _status_of(reply) != "ok":
        fws[name].update(status="error", error=_error_text(reply),
                         traceback=reply.get("traceback"))
        w.close()
        return None
    return reply


def _guard(case: Case, settings: Settings, workers: dict, fws: dict, say) -> None:
    """Compare every candidate with PyTorch on call 1 and on ``settings.later_call``.

    Sets ``check_status`` of each framework: "reference" (torch), "passed", "FAILED" (the
    framework is then FAILED-CHECK and is not timed) or "skipped: <why>".
    """
    paths: dict[str, list[str]] = {}
    later = settings.later_call if settings.later_call and settings.later_call > 1 else 0
    for name, w in list(workers.items()):
        first = str(Path(settings.log_dir) / f"{case.name}.{name}.npz")
        msg = {"cmd": "check", "path": first}
        if later:
            msg.update(path_later=first[:-4] + f".call{later}.npz", later_call=later)
        say(f"  check {name}")
        reply = _safe_request(w, fws, name, **msg)
        if reply is None:
            fws[name]["check_status"] = "skipped: the check itself failed"
            del workers[name]
            continue
        paths[name] = [first] + ([msg["path_later"]] if later else [])
        fws[name]["check_calls"] = reply.get("calls", [1])
    ref = paths.get("torch")
    for name in list(paths):
        if name == "torch":
            fws[name]["check"] = "reference"
            fws[name]["check_status"] = "reference"
            continue
        if ref is None:
            fws[name]["check"] = "unchecked (no PyTorch reference)"
            fws[name]["check_status"] = "skipped: no PyTorch reference"
            continue
        results = [check_mod.compare_files(c, r, case.rtol) for c, r in zip(paths[name], ref)]
        for p in paths[name]:
            Path(p).unlink(missing_ok=True)
        calls = fws[name].get("check_calls", [1])
        bad = [(c, res) for c, res in zip(calls, results) if not res.ok]
        worst = max(results, key=lambda res: res.worst_err)
        if bad:
            fws[name]["check"] = "; ".join(f"call {c}: {res.summary()}" for c, res in bad)
            fws[name]["check_status"] = "FAILED"
        else:
            fws[name]["check"] = (f"ok on call{'s' if len(calls) > 1 else ''} "
                                  f"{' and '.join(map(str, calls))}"
                                  + (f" (worst {worst.worst_key}: {worst.worst_err:.1e})"
                                     if worst.worst_key else ""))
            fws[name]["check_status"] = "passed"
        fws[name]["check_worst"] = worst.worst_err
        if bad:
            fws[name]["status"] = "FAILED-CHECK"
            workers[name].close()
            del workers[name]
    for p in ref or []:
        Path(p).unlink(missing_ok=True)


def _ratios(result: dict) -> None:
    fws = result["frameworks"]
    t = {name: (fw.get("timing") if fw.get("status") == "ok" else None)
         for name, fw in fws.items()}
    result["ratio_numba_torch"] = stats.ratio(t.get("tinymm-numba"), t.get("torch"))
    result["ratio_numpy_torch"] = stats.ratio(t.get("tinymm-numpy"), t.get("torch"))
    result["speedup_numba_vs_numpy"] = stats.ratio(t.get("tinymm-numpy"), t.get("tinymm-numba"))
    result["ratio_vs_torch"] = {name: stats.ratio(t[name], t.get("torch"))
                                for name in t if name != "torch"}


def profile_case(case: Case, settings: Settings, framework: str = "tinymm-numba",
                 reps: int | None = None, top: int = 30) -> str:
    """cProfile text of ``reps`` steps of ``case`` in a fresh worker (after warm-up)."""
    env = settings.env()
    w = WorkerProc(framework, case.name, settings, env)
    try:
        hello = w.read(settings.timeout_s)
        if _status_of(hello) != "ok":
            return f"profile: {framework} unavailable: {_error_text(hello)}"
        for msg in ({"cmd": "setup"},
                    {"cmd": "warmup", "min_reps": 2, "min_s": 0.2, "max_s": 30}):
            reply = w.request(**msg)
            if _status_of(reply) != "ok":
                return f"profile: {msg['cmd']} failed: {_error_text(reply)}"
        if reps is None:
            est = max(stats.median(reply["times"][1:] or reply["times"]), 1e-6)
            reps = int(min(50, max(1, 2.0 / est)))
        reply = w.request(cmd="profile", reps=reps, top=top)
        if _status_of(reply) != "ok":
            return f"profile failed: {_error_text(reply)}"
        return reply["text"]
    finally:
        w.close()

