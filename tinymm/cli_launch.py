"""``tinymm train --nproc N``: start the same command on N MPI processes with ``mpiexec``.

The launcher only builds the command line: ``mpiexec -n N <this python> -m tinymm train
<the same options, without --nproc>``; MPI (MPICH's wheel by default, or any system MPI
whose ``mpiexec`` is first on the PATH) does the rest. Each process gets ``--threads``
threads for its kernels and BLAS, so ``--nproc 2 --threads 1`` uses two cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


class LaunchError(Exception):
    """MPI is not there to launch with; the message says what to install."""


def find_mpiexec() -> str:
    """The ``mpiexec`` next to this Python (a venv with the mpich wheel), else on the PATH."""
    here = Path(sys.executable).with_name("mpiexec")
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        raise LaunchError("--nproc needs MPI: no mpiexec was found; install one with "
                          "`pip install mpich mpi4py` (or `pip install tinymm[distributed]`)")
    return found


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch(nproc: int, argv: list[str], threads: int) -> int:
    """Run ``tinymm <argv>`` on ``nproc`` processes; returns mpiexec's exit status."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise LaunchError("--nproc needs mpi4py: install it with `pip install mpich mpi4py` "
                          "(or `pip install tinymm[distributed]`)") from None
    cmd = [find_mpiexec(), "-n", str(nproc), sys.executable, "-m", "tinymm", *strip_nproc(argv)]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    try:
        return subprocess.run(cmd, env=env).returncode
    except KeyboardInterrupt:
        return 130
