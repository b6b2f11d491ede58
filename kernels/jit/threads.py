"""Split one kernel call over Numba's thread count with plain Python threads.

Memory-bound row and element loops (softmax, pooling, layer norm, Adam, attention) reach
one core's memory bandwidth serially; PyTorch runs them on every thread it is given. Numba's
``prange`` is not used for them: its OpenMP threads spin after each parallel region and fought
OpenBLAS's threads between the GEMMs around these ops (docs/performance.md, pitfall 1). Here
the caller's thread runs the first chunk and a small pool of Python threads the others; the
chunks call ``nogil`` Numba kernels (and OpenBLAS), which release the GIL, so they overlap, and
the pool threads sleep on a condition variable (no spinning) between calls.

The thread count is Numba's: ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``, changed by
``numba.set_num_threads``), so ``benchmarks/run.py --threads 1`` or ``set_num_threads(1)``
makes every kernel serial. A call smaller than ``min_size`` elements per chunk runs in one
piece: handing a chunk to a thread costs ~20-50 µs.

Every chunk writes only outputs it owns (rows or planes ``[lo, hi)``), so the result is the
same, bit for bit, for any thread count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
from numba.np.ufunc import parallel as _numba_parallel

__all__ = ["num_threads", "split_run", "chunks"]

# Elements per chunk below which one more thread is not worth its hand-off. Large on purpose:
# on the 2-core AMD EPYC VM, quiet (load 3), splitting the memory-bound loops at 64K elements
# per chunk made them slower, not faster (2 threads / 1 thread, medians of 11 interleaved
# rounds: max-pool fwd+bwd 1.18, avg-pool 1.23, layer norm 1.25-3, relu 2M 1.06-2.0, Adam 6.1M
# 1.05-1.14, softmax 0.97): one core already saturates what memory bandwidth the VM gives, and
# the hand-off costs. So only callers that pass their own ``min_size`` split at realistic
# sizes: attention (its per-chunk work is mostly small GEMMs OpenBLAS does not thread), and,
# measured again on a quiet AMD EPYC Zen 4 (AVX-512) VM, softmax / cross-entropy rows
# (softmax.ROWS_MIN_CHUNK) and Adam (optim.ADAM_MIN_CHUNK), which ran 1.3-1.6x faster on two
# threads there; lowering this default for every loop made layer norm slower (1.29 -> 1.45x
# PyTorch's time), so it stays.
MIN_CHUNK = 1 << 24

_state: dict = {}
_lock = threading.Lock()


def num_threads() -> int:
    """Numba's current thread count (1 when called from a pool thread: no nesting).

    Until Numba's threading layer is launched (by ``set_num_threads``, ``get_num_threads`` or
    a ``parallel=True`` kernel) the count is ``NUMBA_NUM_THREADS``; asking
    ``get_num_threads`` then would launch the layer, ~0.1 s at start-up for nothing.
    """
    if getattr(_local, "inside", False):
        return 1
    if not getattr(_numba_parallel, "_is_initialized", True):
        return max(1, int(numba.config.NUMBA_NUM_THREADS))
    return max(1, int(numba.get_num_threads()))


_local = threading.local()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool with at least ``workers`` threads (recreated after a fork)."""
    pid = os.getpid()
    with _lock:
        pool = _state.get("pool")
        if pool is None or _state.get("pid") != pid or _state.get("workers", 0) < workers:
            if pool is not None and _state.get("pid") == pid:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(workers, thread_name_prefix="tinymm-kernels",
                                      initializer=_mark_inside)
            _state.update(pool=pool, pid=pid, workers=workers)
        return pool


def _mark_inside() -> None:
    _local.inside = True


def chunks(n: int, size: int, min_size: int | None = None) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges cutting ``range(n)`` into at most ``num_threads()`` near-equal
    pieces, each with at least ``min_size`` (default ``MIN_CHUNK``) of the call's ``size``
    elements (one piece if the call is small)."""
    t = min(n, size // max(MIN_CHUNK if min_size is None else min_size, 1))
    if t >= 2:  # ask Numba only for calls big enough to split (the query costs ~4 µs)
        t = min(t, num_threads())
    if t <= 1:
        return [(0, n)]
    step, extra = divmod(n, t)
    bounds, lo = [], 0
    for i in range(t):
        hi = lo + step + (1 if i < extra else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def split_run(work: Callable[[int, int], None], n: int, size: int,
              min_size: int | None = None) -> None:
    """Run ``work(lo, hi)`` over ``[0, n)`` in the pieces of :func:`chunks`: the first on
    the caller's thread, the others on the pool; returns when all are done (re-raising the
    first error)."""
    parts = chunks(n, size, min_size)
    if len(parts) == 1:
        work(0, n)
        return
    pool = _pool(len(parts) - 1)
    futures = [pool.submit(work, lo, hi) for lo, hi in parts[1:]]
    try:
        work(*parts[0])
    finally:
        errors = []
        for f in futures:
            try:
                f.result()
            except BaseException as e:  # noqa: BLE001 - re-raised below, after all finish
                errors.append(e)
        if errors:
            raise errors[0]
