"""Gather / scatter-add kernels: Numba twins of kernels/reference/indexing.py, same signatures.

Both loop p, m, q with q innermost, so the reads of ``index``/``src`` and the writes of
``out`` are unit-stride. Rows p never touch each other's memory; the loops are serial
anyway, because these ops are memory-bound and small next to the GEMMs around them, and a
second thread pool would compete with BLAS's (see docs/performance.md). ``np.add.at`` in the
reference twin goes through a generic ufunc loop and is several times slower.
An index outside ``[0, N)`` raises ``IndexError`` before anything out of bounds is read or
written (the caller has checked already; this is the kernel's own guard).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["gather_forward", "gather_backward", "scatter_add_forward"]


@njit(cache=True)
def _gather(src, index, out):
    """out[p, m, q] = src[p, index[p, m, q], q]; IndexError on an index outside [0, N)."""
    P, M, Q = index.shape
    N = src.shape[1]
    for p in range(P):
        for m in range(M):
            for q in range(Q):
                n = index[p, m, q]
                if n < 0 or n >= N:
                    raise IndexError("gather: index out of range")
                out[p, m, q] = src[p, n, q]


@njit(cache=True)
def _scatter_add(index, src, out):
    """out[p, index[p, m, q], q] += src[p, m, q]; IndexError on an index outside [0, N)."""
    P, M, Q = index.shape
    N = out.shape[1]
    for p in range(P):
        for m in range(M):
            for q in range(Q):
                n = index[p, m, q]
                if n < 0 or n >= N:
                    raise IndexError("scatter_add: index out of range")
                out[p, n, q] += src[p, m, q]


def gather_forward(src: np.ndarray, index: np.ndarray) -> np.ndarray:
    """out[p, m, q] = src[p, index[p, m, q], q]; (P, N, Q), (P, M, Q) -> (P, M, Q)."""
    out = np.empty(index.shape, src.dtype)  # (P, M, Q)
    _gather(np.ascontiguousarray(src), np.ascontiguousarray(index, dtype=np.int64), out)
    return out


def scatter_add_forward(base: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    """A copy of ``base`` (P, N, Q) with src[p, m, q] added at [p, index[p, m, q], q]."""
    out = np.array(base, copy=True, order="C")  # (P, N, Q)
    _scatter_add(np.ascontiguousarray(index, dtype=np.int64),
                 np.ascontiguousarray(src, dtype=out.dtype), out)
    return out


def gather_backward(grad_output: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """d src of ``gather``: grad_output (P, M, Q) added into zeros (P, size, Q) at index."""
    P, M, Q = index.shape
    out = np.zeros((P, size, Q), grad_output.dtype)  # scattered into in place: one pass
    _scatter_add(np.ascontiguousarray(index, dtype=np.int64),
                 np.ascontiguousarray(grad_output), out)
    return out


def warmup() -> None:
    """Compile (or load from cache) both kernels for float32 and float64."""
    index = np.zeros((1, 2, 1), np.int64)
    for dtype in (np.float32, np.float64):
        gather_forward(np.ones((1, 2, 1), dtype), index)
        scatter_add_forward(np.zeros((1, 2, 1), dtype), index, np.ones((1, 2, 1), dtype))
        gather_backward(np.ones((1, 2, 1), dtype), index, 2)
