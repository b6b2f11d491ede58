"""How many threads Numba's parallel kernels and the BLAS behind NumPy/SciPy may use.

Small models on few cores run fastest single-threaded: Numba's OpenMP pool and OpenBLAS's
pool each spin after their work and fight for the cores, and on a busy 2-core machine a
training step was measured 10-40x slower with both pools at 2 threads than at 1 (see
docs/performance.md, "Competing thread pools"). This module changes the pools at run time, for
applications (the ``tinymm`` command, benchmarks); the library itself never calls it.

OpenBLAS is reached through ``ctypes`` in the shared libraries the process has loaded
(NumPy's and SciPy's bundled ``scipy_openblas``, or a system ``openblas``), the same way
threadpoolctl does; where none is found (another BLAS, another OS) only Numba is set.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

# (setter, getter) symbol pairs of OpenBLAS builds: NumPy's and SciPy's wheels, then system ones
_OPENBLAS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
             ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
             ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
             ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas_libraries() -> list[ctypes.CDLL]:
    paths: set[str] = set()
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path).lower() and path.startswith("/"):
                    paths.add(path)
    except OSError:  # not Linux
        return []
    libs = []
    for path in sorted(paths):
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _pools() -> list[tuple[str, object, object]]:
    """(name, set(n), get()) for Numba and every loaded OpenBLAS."""
    pools = []
    try:
        import numba

        pools.append(("numba", numba.set_num_threads, numba.get_num_threads))
    except ImportError:
        pass
    for lib in _openblas_libraries():
        for set_name, get_name in _OPENBLAS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                pools.append((set_name, setter, getter))
                break
    return pools


def get_num_threads() -> dict[str, int]:
    """Threads per pool: {"numba": n, "<openblas setter>": n, ...}.

    >>> threads = get_num_threads()
    >>> all(isinstance(n, int) and n >= 1 for n in threads.values())
    True
    """
    return {name: int(get()) for name, _, get in _pools()}


def set_num_threads(n: int | dict[str, int]) -> dict[str, int]:
    """Let Numba and every loaded OpenBLAS use ``n`` threads (or restore a dict that
    ``get_num_threads`` / this function returned); returns the previous settings.

    >>> previous = set_num_threads(1)
    >>> all(n == 1 for n in get_num_threads().values())
    True
    >>> _ = set_num_threads(previous)  # restore
    """
    if isinstance(n, dict):
        wanted = n
    elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    else:
        wanted = None
    previous = {}
    for name, setter, getter in _pools():
        k = wanted.get(name) if wanted is not None else n
        if k is None:
            continue
        previous[name] = int(getter())
        if name == "numba":
            import numba

            k = min(k, numba.config.NUMBA_NUM_THREADS)
        setter(int(k))
    return previous


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """``with num_threads(1): ...`` runs a block with ``n`` threads per pool, then restores.

    >>> before = get_num_threads()
    >>> with num_threads(1):
    ...     print(all(n == 1 for n in get_num_threads().values()))
    True
    >>> get_num_threads() == before
    True
    """
    previous = set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
