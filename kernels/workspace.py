"""Per-thread scratch buffers that kernels reuse across calls.

Fresh large arrays cost a page fault per 4 KiB page on every call (~2 µs each on these
VMs, PERF_NOTES pitfall 2), so temporaries that die inside one kernel call live here: one
grow-only byte buffer per (thread, key), handed out as a C-contiguous view of the asked
shape and dtype. Its contents are garbage until written. Two live temporaries of one call
need two keys; a buffer returned to a caller must never come from here.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def workspace(key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``/``dtype``, reused per (thread, key)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = getattr(_local, key, None)
    if buf is None or buf.size < nbytes:
        buf = np.empty(max(nbytes, 1), np.uint8)
        setattr(_local, key, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Free this thread's scratch buffers (they grow to the largest request seen so far)."""
    _local.__dict__.clear()
