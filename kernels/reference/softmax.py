"""Row softmax, log-softmax and fused softmax cross-entropy (NumPy reference).

All kernels work on 2-D ``(N, C)`` arrays, one distribution per row; callers move the
softmax dim last and flatten the rest.

    softmax(x)_c     = exp(x_c - m) / Σ_k exp(x_k - m),   m = max_k x_k  (shift for stability)
    log_softmax(x)_c = x_c - m - log Σ_k exp(x_k - m)
    CE(x, t)         = -(1 - ε) log p_t - (ε / C) Σ_c log p_c      (ε: label smoothing)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
]


def softmax_forward(x: np.ndarray) -> np.ndarray:
    """(N, C) -> (N, C) rows summing to 1."""
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), max of each row is 0
    e = np.exp(shifted)  # (N, C)
    return e / e.sum(axis=1, keepdims=True)


def softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dx = y ⊙ (g − Σ_c g_c y_c): the softmax Jacobian applied to ``grad``."""
    return y * (grad - (grad * y).sum(axis=1, keepdims=True))


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """(N, C) -> (N, C) log-probabilities; stable for logits of any size."""
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dx = g − softmax(x) Σ_c g_c, with softmax(x) = exp(y)."""
    return grad - np.exp(y) * grad.sum(axis=1, keepdims=True)


def cross_entropy_forward(
    logits: np.ndarray, target: np.ndarray, label_smoothing: float, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss (N,) and the log-probabilities (N, C) that backward reuses.

    Rows whose target equals ``ignore_index`` get loss 0.
    """
    n, c = logits.shape
    logp = log_softmax_forward(logits)  # (N, C)
    keep = target != ignore_index  # (N,)
    safe_t = np.where(keep, target, 0)  # (N,) a valid index for ignored rows
    picked = logp[np.arange(n), safe_t]  # (N,) log p_t
    eps = logits.dtype.type(label_smoothing)
    loss = -(1 - eps) * picked  # (N,)
    if eps != 0:  # only then: 0 · Σ log p would be nan for a row holding a -inf logit
        loss = loss - (eps / c) * logp.sum(axis=1)
    return np.where(keep, loss, 0).astype(logits.dtype), logp


def cross_entropy_backward(
    logp: np.ndarray, target: np.ndarray, label_smoothing: float, ignore_index: int,
    grad_rows: np.ndarray,
) -> np.ndarray:
    """d loss_i / d x_i = softmax(x_i) − ((1 − ε) onehot(t_i) + ε / C), times grad_rows_i."""
    n, c = logp.shape
    keep = target != ignore_index  # (N,)
    eps = logp.dtype.type(label_smoothing)
    grad = np.exp(logp) - eps / c  # (N, C)
    grad[np.arange(n)[keep], target[keep]] -= 1 - eps
    return grad * np.where(keep, grad_rows, 0)[:, None]
