"""Row softmax, log-softmax and fused cross-entropy as Numba kernels (one row per iteration).

Same signatures and maths as ``kernels/reference/softmax.py``. One row at a time, serially
(a parallel loop here fought OpenBLAS's threads and made whole training runs 10x slower on
2 cores); ``exp`` is the vectorisable polynomial of ``jit/attention.py`` rather than a libm
call per element (PERF_NOTES pitfall 3). Numba's cache tracks only this file: after editing
``_exp_nonpos``, delete ``kernels/jit/__pycache__``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .attention import _exp_nonpos  # the vectorisable exp (see its docstring)

__all__ = [
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
]


# reassoc lets LLVM vectorise the row sums; no nnan/ninf, so -inf in a row stays exact
_FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _softmax_rows(x, out, log):
    n, c = x.shape
    tp = x.dtype.type
    for i in range(n):
        m = x[i, 0]
        for j in range(1, c):
            m = max(m, x[i, j])
        for j in range(c):  # vectorised: exp by polynomial, not a libm call per element
            out[i, j] = _exp_nonpos(x[i, j] - m, tp)
        total = tp(0)
        for j in range(c):
            total += out[i, j]
        if log:
            lse = m + np.log(total)
            for j in range(c):
                out[i, j] = x[i, j] - lse
        else:
            inv = tp(1) / total
            for j in range(c):
                out[i, j] *= inv


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _softmax_backward_rows(y, g, out, log):
    n, c = y.shape
    tp = y.dtype.type
    for i in range(n):
        s = tp(0)
        if log:
            for j in range(c):
                s += g[i, j]
            for j in range(c):
                out[i, j] = g[i, j] - _exp_nonpos(y[i, j], tp) * s
        else:
            for j in range(c):
                s += g[i, j] * y[i, j]
            for j in range(c):
                out[i, j] = y[i, j] * (g[i, j] - s)


@njit(cache=True, error_model="numpy")
def _cross_entropy_rows(logp, target, eps, ignore_index, loss):
    n, c = logp.shape
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            loss[i] = 0
            continue
        total = logp.dtype.type(0)
        for j in range(c):
            total += logp[i, j]
        loss[i] = -(1 - eps) * logp[i, t] - (eps / c) * total


@njit(cache=True, error_model="numpy")
def _cross_entropy_backward_rows(logp, target, eps, ignore_index, grad_rows, out):
    n, c = logp.shape
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            for j in range(c):
                out[i, j] = 0
            continue
        gi = grad_rows[i]
        for j in range(c):
            out[i, j] = (_exp_nonpos(logp[i, j], logp.dtype.type) - eps / c) * gi
        out[i, t] -= (1 - eps) * gi


def softmax_forward(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _softmax_rows(x, out, False)
    return out


def softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    out = np.empty_like(y)
    _softmax_backward_rows(y, grad, out, False)
    return out


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _softmax_rows(x, out, True)
    return out


def log_softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    out = np.empty_like(y)
    _softmax_backward_rows(y, grad, out, True)
    return out


def cross_entropy_forward(logits, target, label_smoothing, ignore_index):
    logp = log_softmax_forward(logits)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    _cross_entropy_rows(logp, target, logits.dtype.type(label_smoothing), ignore_index, loss)
    return loss, logp


def cross_entropy_backward(logp, target, label_smoothing, ignore_index, grad_rows):
    out = np.empty_like(logp)
    eps = logp.dtype.type(label_smoothing)
    _cross_entropy_backward_rows(logp, target, eps, ignore_index,
                                 grad_rows.astype(logp.dtype, copy=False), out)
    return out


def warmup() -> None:
    for dtype in (np.float32, np.float64):
        x = np.linspace(-1, 1, 6, dtype=dtype).reshape(2, 3)
        t = np.array([0, 2], dtype=np.int64)
        softmax_backward(softmax_forward(x), x)
        log_softmax_backward(log_softmax_forward(x), x)
        loss, logp = cross_entropy_forward(x, t, 0.1, -100)
        cross_entropy_backward(logp, t, 0.1, -100, loss)
