"""Gather / scatter-add kernels: NumPy reference twins (see kernels/__init__.py).

Both work on a (P, N, Q) view of the data, where N is the indexed dim, P the product of
the dims before it and Q of the dims after it; the index is (P, M, Q) int64 and every
entry lies in ``[0, N)`` (the caller has checked; the Numba twin checks again)::

    gather:           out[p, m, q]  = src[p, index[p, m, q], q]      (P, N, Q) -> (P, M, Q)
    scatter_add:      out = base;  out[p, index[p, m, q], q] += src[p, m, q]  (repeats add up)
    gather_backward:  scatter_add into zeros of (P, N, Q): d src of gather, (P, M, Q) -> (P, N, Q)

``torch.gather`` / ``torch.scatter_add`` along any dim reduce to these after a reshape.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gather_forward", "gather_backward", "scatter_add_forward"]


def gather_forward(src: np.ndarray, index: np.ndarray) -> np.ndarray:
    """out[p, m, q] = src[p, index[p, m, q], q]; (P, N, Q), (P, M, Q) -> (P, M, Q)."""
    return np.take_along_axis(src, index, axis=1)  # (P, N, Q) -> (P, M, Q)


def scatter_add_forward(base: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    """A copy of ``base`` (P, N, Q) with src[p, m, q] added at [p, index[p, m, q], q]."""
    out = np.array(base, copy=True)  # (P, N, Q)
    P, M, Q = index.shape
    p = np.arange(P)[:, None, None]  # (P, 1, 1), broadcast against index (P, M, Q)
    q = np.arange(Q)[None, None, :]  # (1, 1, Q)
    np.add.at(out, (p, index, q), src)  # unbuffered: repeated indices accumulate
    return out


def gather_backward(grad_output: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """d src of ``gather``: grad_output (P, M, Q) added into zeros (P, size, Q) at index."""
    P, M, Q = index.shape
    return scatter_add_forward(np.zeros((P, size, Q), grad_output.dtype), index, grad_output)
