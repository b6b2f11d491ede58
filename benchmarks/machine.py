"""What machine and software a run measured: CPU model, cores, versions, matmul ceiling."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

CEILING_SCRIPT = r"""
import json, time
import numpy as np
rng = np.random.default_rng(0)
n = 1024
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), np.float32)
for _ in range(3):
    np.matmul(a, b, out=c)
times = []
for _ in range(15):
    t0 = time.perf_counter()
    np.matmul(a, b, out=c)
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"median_s": times[len(times) // 2], "best_s": times[0]}))
"""


def _cpu_jiffies() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


def cpu_totals() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot (Linux /proc/stat)."""
    j = _cpu_jiffies()
    return None if j is None else (j[0] - j[1], j[0])


def process_jiffies(pid: int) -> int | None:
    """utime + stime of process ``pid``, all its threads (Linux /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def self_jiffies() -> int:
    t = os.times()
    return int((t.user + t.system) * os.sysconf("SC_CLK_TCK"))


def cpu_busy(seconds: float = 0.3) -> float | None:
    """Fraction of all CPUs busy over ``seconds`` (Linux /proc/stat; None elsewhere).

    Called while the harness itself idles, it measures what *other* processes use: a
    better noise indicator than the load average, which still counts our last workers.
    """
    a = _cpu_jiffies()
    time.sleep(seconds)
    b = _cpu_jiffies()
    if a is None or b is None or b[0] == a[0]:
        return None
    return 1.0 - (b[1] - a[1]) / (b[0] - a[0])


def wait_quiet(threshold: float, max_wait_s: float, say=print) -> float | None:
    """Wait (at most ``max_wait_s``) until other processes use < ``threshold`` of the CPUs."""
    deadline = time.monotonic() + max_wait_s
    busy = cpu_busy(0.5)
    while busy is not None and busy >= threshold and time.monotonic() < deadline:
        say(f"  waiting for a quiet machine: {busy:.0%} of the CPUs busy elsewhere")
        time.sleep(5.0)
        busy = cpu_busy(1.0)
    return busy


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Versions of the measured software, read without importing torch into this process."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("numpy", "numba", "scipy", "torch", "tinymm", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def info() -> dict:
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions(),
    }


def matmul_ceiling(env: dict[str, str]) -> dict:
    """GFLOP/s of a float32 1024^3 matmul in NumPy, in a fresh process with ``env``."""
    proc = subprocess.run([sys.executable, "-c", CEILING_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    flops = 2.0 * 1024**3
    res["gflops_median"] = flops / res["median_s"] / 1e9
    res["gflops_best"] = flops / res["best_s"] / 1e9
    return res
