"""Embedding kernels: NumPy reference twins (see kernels/__init__.py).

A lookup table W of shape ``(num_embeddings, D)``; indices are flattened to ``(N,)`` int64
(the caller reshapes the output and has checked every index is in range)::

    forward:   y[n] = W[idx[n]]                                  (N,) -> (N, D)
    backward:  dW[v] = Σ_{n : idx[n] = v} dy[n]   (repeats add up; dW[padding_idx] = 0)

``padding_idx`` is a non-negative row number, or -1 for none.
"""

from __future__ import annotations

import numpy as np

__all__ = ["embedding_forward", "embedding_backward"]


def embedding_forward(indices: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Gather rows: ``weight[indices]``, (N,) int64 -> (N, D)."""
    return np.take(weight, indices, axis=0)  # (V, D)[(N,)] -> (N, D)


def embedding_backward(
    grad_output: np.ndarray, indices: np.ndarray, num_embeddings: int, padding_idx: int
) -> np.ndarray:
    """Scatter-add rows of dy (N, D) into dW (num_embeddings, D); padding row gets 0."""
    grad_weight = np.zeros((num_embeddings, grad_output.shape[1]), grad_output.dtype)  # (V, D)
    np.add.at(grad_weight, indices, grad_output)  # unbuffered: repeated indices accumulate
    if padding_idx >= 0:
        grad_weight[padding_idx] = 0
    return grad_weight
