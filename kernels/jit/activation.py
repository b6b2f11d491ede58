"""activation kernels: Numba twins of kernels/reference/activation.py, same signatures.

One pass each over flat views (unsigned offsets, so no wrap-around checks): NumPy's
``g * (x > 0)`` makes a boolean temporary and a second pass, 5-6x slower than this at the
seed model's 1.8M-element activations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["relu_forward", "relu_backward"]


@njit(cache=True)
def _relu(x, out):
    zero = x.dtype.type(0)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = v if (v > zero) | (v != v) else zero  # NaN stays NaN, as np.maximum


@njit(cache=True)
def _relu_backward(g, x, out):
    zero = g.dtype.type(0)
    for i in range(np.uint64(x.size)):
        out[i] = g[i] if x[i] > zero else zero


def _c(a: np.ndarray, dtype=None) -> np.ndarray:
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def relu_forward(x: np.ndarray) -> np.ndarray:
    x = _c(x)
    out = np.empty_like(x)
    _relu(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = _c(x)
    grad = _c(grad, x.dtype)
    out = np.empty_like(x)
    _relu_backward(grad.reshape(-1), x.reshape(-1), out.reshape(-1))
    return out


def warmup() -> None:
    for dtype in (np.float32, np.float64):
        x = np.array([-1.0, 0.0, 2.0], dtype)
        relu_backward(relu_forward(x), x)
