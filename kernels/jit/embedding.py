"""Embedding kernels: Numba twins of kernels/reference/embedding.py, same signatures.

Forward stays the reference gather (``np.take`` is already one tight copy per row).
Backward is a serial scatter-add: repeated indices make rows collide, so splitting the
index list over threads would race; splitting the columns instead would give each thread a
strided, cache-unfriendly walk for a job that is memory-bound and small (N·D additions).
``np.add.at`` does the same work through a generic, much slower ufunc loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["embedding_backward"]


@njit(cache=True)
def _scatter_add_rows(grad_output, indices, padding_idx, grad_weight):
    """grad_weight[indices[n]] += grad_output[n] for every n with indices[n] != padding_idx."""
    N, D = grad_output.shape
    for n in range(N):
        v = indices[n]
        if v == padding_idx:
            continue
        src = grad_output[n]
        dst = grad_weight[v]
        for j in range(D):
            dst[j] += src[j]


def embedding_backward(
    grad_output: np.ndarray, indices: np.ndarray, num_embeddings: int, padding_idx: int
) -> np.ndarray:
    """Scatter-add rows of dy (N, D) into dW (num_embeddings, D); padding row gets 0."""
    grad_weight = np.zeros((num_embeddings, grad_output.shape[1]), grad_output.dtype)  # (V, D)
    _scatter_add_rows(grad_output, indices.astype(np.int64, copy=False), int(padding_idx),
                      grad_weight)
    return grad_weight


def warmup() -> None:
    """Compile (or load from cache) the scatter kernel for float32 and float64."""
    for dtype in (np.float32, np.float64):
        embedding_backward(np.ones((3, 2), dtype), np.array([0, 1, 0], np.int64), 2, -1)
