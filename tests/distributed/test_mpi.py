"""tinymm.distributed across two real MPI processes (``mpiexec -n 2``, MPICH from PyPI).

Each test runs one case of ``mpi_cases.py`` under ``mpiexec -n 2`` and checks both ranks
finished it. CI installs mpich and mpi4py (the ``dev`` extra), so these run there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")
CASES = Path(__file__).with_name("mpi_cases.py")


def _mpiexec() -> str:
    found = Path(sys.executable).with_name("mpiexec")
    if found.exists():
        return str(found)
    on_path = shutil.which("mpiexec")
    if on_path is None:
        pytest.fail("mpi4py is installed but no mpiexec was found: pip install mpich")
    return on_path


def run_case(name: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(CASES), name],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("case", ["collectives", "ddp_matches_single_process",
                                  "buckets_equal_per_parameter", "no_sync_accumulates",
                                  "unused_parameter"])
def test_case_passes_on_two_ranks(case):
    result = run_case(case)
    assert result.returncode == 0, result.stdout + result.stderr
    for rank in (0, 1):
        assert f"{case} ok rank {rank}" in result.stdout, result.stdout + result.stderr


def test_a_failing_rank_ends_the_job_with_its_error():
    start = time.monotonic()
    result = run_case("rank_fails", timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr
    assert "[tinymm rank 1]" in result.stderr
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
