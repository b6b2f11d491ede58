"""Where a result came from: git commit, CPU flags, BLAS, Numba threading layer, torch threads.

:func:`collect` returns a JSON-ready dict that ``run.py`` stores under ``machine.provenance``
of ``results.json`` and prints in ``RESULTS.md``. The library facts are read in a fresh
process with the workers' environment (``PROBE_SCRIPT``), so that the orchestrator never
imports torch or initialises a thread pool, and so that what is recorded is what a worker saw.
Every probe degrades to a string saying what could not be read; nothing here raises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Flags that decide which kernels BLAS, oneDNN and LLVM pick on x86-64.
INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                     "avx512dq", "avx512_bf16", "avx512_vnni", "avx512vnni", "avx_vnni",
                     "amx_tile", "amx_int8", "amx_bf16")

PROBE_SCRIPT = r"""
import json, sys
out = {}
try:
    import numpy
    out["numpy"] = numpy.__version__
    try:
        cfg = numpy.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        out["numpy_blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")
                             if blas.get(k)}
    except Exception as exc:
        out["numpy_blas"] = f"unknown ({type(exc).__name__}: {exc})"
except Exception as exc:
    out["numpy"] = f"unavailable ({exc})"
try:
    import threadpoolctl
    out["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads",
                                                  "version", "architecture", "threading_layer")}
                          for p in threadpoolctl.threadpool_info()]
except ImportError:
    out["threadpools"] = "threadpoolctl not installed"
try:
    import numba
    from numba import njit, prange

    @njit(parallel=True)
    def _probe(n):
        s = 0.0
        for i in prange(n):
            s += i
        return s

    _probe(64)
    out["numba"] = numba.__version__
    out["numba_threading_layer"] = numba.threading_layer()
    out["numba_threading_layer_config"] = numba.config.THREADING_LAYER
    out["numba_num_threads"] = numba.get_num_threads()
except Exception as exc:
    out["numba_threading_layer"] = f"unknown ({type(exc).__name__}: {exc})"
threads = int(sys.argv[1])
try:
    import torch
    torch.set_num_threads(threads)
    out["torch"] = torch.__version__
    out["torch_num_threads"] = torch.get_num_threads()
    out["torch_num_interop_threads"] = torch.get_num_interop_threads()
    import re
    cfg = torch.__config__.show()
    for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP"):
        m = re.search(r"\b" + key + r"=([^,\n]*)", cfg)
        if m:
            out["torch_" + key.lower()] = m.group(1).strip()[:120]
    m = re.search(r"MKL-DNN (v[0-9.]+)", cfg)
    if m:
        out["torch_onednn"] = m.group(1)
    out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    par = torch.__config__.parallel_info().splitlines()
    out["torch_parallel"] = [l.strip() for l in par if "backend" in l.lower()][:3]
except Exception as exc:
    out["torch"] = f"unavailable ({type(exc).__name__}: {exc})"
print(json.dumps(out))
"""


def git_state(repo: Path = REPO) -> dict:
    """``{"commit": sha, "dirty": bool, "branch": name}``; values None outside a git checkout.

    ``dirty`` is True when tracked files differ from the commit (untracked files, such as
    ``benchmarks/out/``, do not count): such a run measured code that no commit holds.
    """
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=str(repo), capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status),
            "branch": git("rev-parse", "--abbrev-ref", "HEAD")}


def cpu_flags(cpuinfo: str | None = None) -> dict:
    """The CPU's model and its SIMD flags of interest, from /proc/cpuinfo (Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {"model": None, "flags": [], "note": "/proc/cpuinfo unreadable"}
    model, flags = None, set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "flags": [f for f in INTERESTING_FLAGS if f in flags]}


def libraries(env: dict[str, str], threads: int) -> dict:
    """BLAS vendor, Numba threading layer and torch's threads, read in a fresh process."""
    try:
        proc = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, str(threads)], env=env,
                              capture_output=True, text=True, timeout=300, cwd=str(REPO))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"probe failed: {exc}"}
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"error": f"probe failed: {proc.stderr.strip()[-400:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def collect(env: dict[str, str], threads: int) -> dict:
    return {"git": git_state(), "cpu": cpu_flags(), "libraries": libraries(env, threads)}


def summary_lines(prov: dict | None) -> list[str]:
    """Markdown lines (each ending in two spaces) for RESULTS.md."""
    if not prov:
        return ["Provenance: not recorded  "]
    g = prov.get("git") or {}
    commit = g.get("commit") or "unknown"
    dirty = {True: " (**dirty**: uncommitted changes to tracked files)", False: " (clean)",
             None: ""}[g.get("dirty")]
    cpu = prov.get("cpu") or {}
    lib = prov.get("libraries") or {}
    blas = lib.get("numpy_blas")
    if isinstance(blas, dict):
        blas = " ".join(str(v) for v in blas.values())
    lines = [f"Git commit: `{commit}`{dirty}  ",
             f"CPU flags: {', '.join(cpu.get('flags') or []) or 'unknown'}  ",
             f"NumPy BLAS: {blas or 'unknown'}  "]
    if isinstance(lib.get("threadpools"), list):
        pools = "; ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} "
                          f"({p.get('num_threads')} threads)" for p in lib["threadpools"])
        lines.append(f"Thread pools (threadpoolctl): {pools}  ")
    lines.append(f"Numba threading layer: {lib.get('numba_threading_layer', 'unknown')}  ")
    torch_bits = [f"torch {lib.get('torch', 'unknown')}"]
    for key, label in (("torch_num_threads", "threads"), ("torch_blas_info", "BLAS"),
                       ("torch_onednn", "oneDNN"),
                       ("torch_cpu_capability", "CPU capability"), ("torch_parallel", "parallel")):
        if key in lib:
            val = lib[key]
            torch_bits.append(f"{label} {', '.join(val) if isinstance(val, list) else val}")
    lines.append("PyTorch: " + "; ".join(torch_bits) + "  ")
    return lines
