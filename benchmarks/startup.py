"""Start-up cases: ``import``, cold compile of every kernel, warm start to the first step.

Each measurement is a fresh process (``python -c`` or ``python -m benchmarks.first_step``) with
the same environment for every framework; the Numba cache directory is a temporary one
(``NUMBA_CACHE_DIR``), set for all frameworks alike: empty for the cold measurements,
filled by them for the warm ones. Wall times include the interpreter's own start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

from . import stats
from .runner import REPO, Settings

IMPORT_SCRIPT = ("import time; t = time.perf_counter(); import {module}; "
                 "print(time.perf_counter() - t)")


def _run(argv: list[str], env: dict[str, str], timeout: float = 900) -> tuple[float, dict | float]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=str(REPO), capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:4])}... failed: {proc.stderr.strip()[-600:]}")
    last = proc.stdout.strip().splitlines()[-1]
    return wall, json.loads(last)


def _row(name: str, title: str, per_fw: dict[str, list[float]], inner: dict | None = None,
         note: str = "") -> dict:
    fws = {}
    for fw, times in per_fw.items():
        fws[fw] = {"status": "ok", "timing": stats.summarize(times)} if times else \
            {"status": "skipped"}
        if inner and fw in inner:
            fws[fw]["detail"] = inner[fw]
    row = {"name": name, "group": "startup", "title": title, "flops": None, "frameworks": fws,
           "note": note}
    t = {k: v.get("timing") for k, v in fws.items()}
    row["ratio_numba_torch"] = stats.ratio(t.get("tinymm-numba"), t.get("torch"))
    row["ratio_numpy_torch"] = stats.ratio(t.get("tinymm-numpy"), t.get("torch"))
    row["speedup_numba_vs_numpy"] = stats.ratio(t.get("tinymm-numpy"), t.get("tinymm-numba"))
    return row


def import_case(settings: Settings, reps: int) -> dict:
    """``import tinymm`` against ``import torch`` (in-process import time, alternating)."""
    env = settings.env()
    times = {"tinymm-numba": [], "torch": []}
    for _ in range(reps):
        for fw, module in (("tinymm-numba", "tinymm"), ("torch", "torch")):
            _, inner = _run([sys.executable, "-c", IMPORT_SCRIPT.format(module=module)], env)
            times[fw].append(float(inner))
    return _row("startup_import", "import tinymm vs import torch (in-process)", times,
                note="the import is the same for both tinymm backends")


def cold_compile_case(settings: Settings, reps: int) -> dict:
    """``tinymm.kernels.warmup()`` with an empty Numba cache: compiles every jit kernel."""
    times, details = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="tinymm-numba-cache-") as cache:
            env = settings.env({"NUMBA_CACHE_DIR": cache})
            _, inner = _run([sys.executable, "-m", "benchmarks.first_step", "--framework",
                             "tinymm-numba", "--warmup-kernels"], env, timeout=1800)
            times.append(inner["compile_s"])
            details.append(inner)
    return _row("startup_cold_compile", "compile every Numba kernel, empty cache",
                {"tinymm-numba": times}, {"tinymm-numba": details[-1] if details else {}},
                note="target < 60 s")


def first_step_cases(settings: Settings, reps: int, case: str = "seed_step_b32_32",
                     cold_reps: int = 2) -> list[dict]:
    """Start to the first training step: a cold Numba cache against PyTorch, and warm.

    Cold: ``cold_reps`` tinymm-numba processes, each with a new empty ``NUMBA_CACHE_DIR``,
    timed; then one more, not timed, that records the per-kernel compile times (Numba's event
    recorder slows the compile it watches). PyTorch has no such cache: its first step in a
    fresh process is the same cold or warm, so its ``reps`` walls are the reference of both
    rows. Warm: every framework ``reps`` times (interleaved) with the cache filled.
    """
    frameworks = list(settings.frameworks)
    frameworks = [f for f in frameworks if f in ("tinymm-numba", "tinymm-numpy", "torch")]

    def run(fw: str, env: dict[str, str], report: bool = False) -> tuple[float, dict]:
        argv = [sys.executable, "-m", "benchmarks.first_step", "--framework", fw, "--case", case,
                "--threads", str(settings.threads)] + (["--compile-report"] if report else [])
        return _run(argv, env, timeout=1800)

    cold_walls, cold_inner = [], {}
    if "tinymm-numba" in frameworks:
        for k in range(cold_reps + 1):
            with tempfile.TemporaryDirectory(prefix="tinymm-numba-cache-") as cache:
                env = settings.env({"NUMBA_CACHE_DIR": cache})
                wall, detail = run("tinymm-numba", env, report=k == cold_reps)
                if k < cold_reps:
                    cold_walls.append(wall)
                else:  # the in-process breakdown and per-kernel compile times shown
                    cold_inner = detail
    with tempfile.TemporaryDirectory(prefix="tinymm-numba-cache-") as cache:
        env = settings.env({"NUMBA_CACHE_DIR": cache})
        if "tinymm-numba" in frameworks:
            run("tinymm-numba", env)             # fills the cache
        walls = {fw: [] for fw in frameworks}
        inner = {}
        for r in range(reps):
            order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
            for fw in order:
                wall, detail = run(fw, env)
                walls[fw].append(wall)
                inner[fw] = detail
    rows = [_row(f"startup_warm_{case}", f"process start -> first training step "
                 f"({case}), Numba cache present", walls, inner,
                 note="wall time of the whole process")]
    if cold_walls:
        cold = {"tinymm-numba": cold_walls}
        if walls.get("torch"):
            cold["torch"] = walls["torch"]
        rows.append(_row(f"startup_cold_{case}", f"process start -> first training step "
                         f"({case}), empty Numba cache (torch: its first step, no cache)", cold,
                         {"tinymm-numba": cold_inner, "torch": inner.get("torch", {})},
                         note="compiles the kernels the step uses; per-kernel compile times in "
                              "detail.kernel_compile_s"))
    return rows


TRAIN_ARGS = ("train", "--dataset", "shapes_captions", "--epochs", "1", "--quiet", "--no-plots")


def train_cold_warm_case(settings: Settings, reps: int,
                         extra: tuple[str, ...] = ()) -> dict:
    """``tinymm train --epochs 1`` with an empty Numba cache, then again with it filled.

    ``reps`` pairs (each pair a new cache directory); the row's ``cold_over_warm`` is the
    ratio of the median walls. ``extra`` arguments go to ``tinymm train`` (tests use a small
    ``--train-size``).
    """
    cold, warm = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="tinymm-numba-cache-") as cache, \
                tempfile.TemporaryDirectory(prefix="tinymm-train-") as out:
            env = settings.env({"NUMBA_CACHE_DIR": cache})
            argv = [sys.executable, "-m", "tinymm", *TRAIN_ARGS, "--out", out,
                    "--threads", str(settings.threads), *extra]
            for bucket in (cold, warm):
                t0 = time.perf_counter()
                proc = subprocess.run(argv, env=env, cwd=str(REPO), capture_output=True,
                                      text=True, timeout=3600)
                if proc.returncode != 0:
                    raise RuntimeError(f"tinymm train failed: {proc.stderr.strip()[-600:]}")
                bucket.append(time.perf_counter() - t0)
    row = _row("startup_train", "first `tinymm " + " ".join(TRAIN_ARGS + extra)
               + "` with an empty Numba cache (cold) vs the cache filled (warm)",
               {"tinymm-numba": cold}, {"tinymm-numba": {"cold_s": cold, "warm_s": warm}},
               note="timing = the cold runs; warm in detail.warm_s")
    row["cold_over_warm"] = stats.median(cold) / stats.median(warm)
    return row
