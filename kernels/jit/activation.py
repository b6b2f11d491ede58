"""activation kernels: Numba twins of kernels/reference/activation.py, same signatures.

One pass each over flat views (unsigned offsets, so no wrap-around checks), cut into element
ranges over Numba's thread count (``nogil`` loops, kernels/jit/threads.py): NumPy's
``g * (x > 0)`` makes a boolean temporary and a second pass, 5-6x slower than this at the
seed model's 1.8M-element activations. Exponentials use ``rowmath.exp_nonpos`` (a
vectorisable polynomial exp for arguments <= 0; ``math.exp`` is a scalar libm call here),
so every e^t below is written with t <= 0:

    σ(z) = 1 / (1 + e^−z) for z >= 0,  e^z / (1 + e^z) for z < 0
    tanh(softplus(x)) = ((1 + e^x)² − 1) / ((1 + e^x)² + 1)
                      = u(u + 2) / (u(u + 2) + 2)          with u = e^x   (x <= 0)
                      = (1 + 2w) / (1 + 2w + 2w²)           with w = e^−x  (x > 0)

ELU's α(e^x − 1) uses a Taylor series near 0 (as accurate as the reference's expm1 there).
Softplus has no twin (it needs a logarithm).
Numba's cache tracks only this file: after editing rowmath.py, delete ``__pycache__``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rowmath import exp_nonpos
from .threads import split_run

__all__ = [
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "elu_forward", "elu_backward",
    "silu_forward", "silu_backward",
    "mish_forward", "mish_backward",
    "hardtanh_forward", "hardtanh_backward",
    "gelu_tanh_forward", "gelu_tanh_backward",
]

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}
_GELU_K = 0.7978845608028654  # √(2/π)
_GELU_KAPPA = 0.044715


@njit(**_JIT)
def _relu(x, out):
    zero = x.dtype.type(0)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = v if (v > zero) | (v != v) else zero  # NaN stays NaN, as np.maximum


@njit(**_JIT)
def _relu_backward(g, x, out):
    zero = g.dtype.type(0)
    for i in range(np.uint64(x.size)):
        out[i] = g[i] if x[i] > zero else zero


@njit(**_JIT)
def _leaky_relu(x, slope, out):
    tp = x.dtype.type
    s = tp(slope)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = v if v > tp(0) else v * s


@njit(**_JIT)
def _leaky_relu_backward(g, x, slope, out):
    tp = x.dtype.type
    s = tp(slope)
    for i in range(np.uint64(x.size)):
        out[i] = g[i] if x[i] > tp(0) else g[i] * s


@njit(inline="always", **_JIT)
def _expm1_nonpos(v, tp):
    """e^v − 1 for v <= 0, accurate relative to the result near 0 (no cancellation): the
    Taylor series v (1 + v/2 (1 + v/3 (1 + ...))) to degree 15 on (−0.5, 0] (truncation
    below 1e-16 relative), exp_nonpos(v) − 1 below."""
    if v > tp(-0.5):
        e = tp(1)
        for k in range(15, 1, -1):
            e = tp(1) + v * e / tp(k)
        return v * e
    return exp_nonpos(v, tp) - tp(1)


@njit(**_JIT)
def _elu(x, alpha, out):
    tp = x.dtype.type
    a = tp(alpha)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = v if v > tp(0) else a * _expm1_nonpos(v, tp)


@njit(**_JIT)
def _elu_backward(g, x, alpha, out):
    tp = x.dtype.type
    a = tp(alpha)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = g[i] if v > tp(0) else g[i] * a * exp_nonpos(v, tp)


@njit(inline="always", **_JIT)
def _sigmoid(z, tp):
    e = exp_nonpos(-abs(z), tp)
    return tp(1) / (tp(1) + e) if z >= tp(0) else e / (tp(1) + e)


@njit(**_JIT)
def _silu(x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = v * _sigmoid(v, tp)


@njit(**_JIT)
def _silu_backward(g, x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        s = _sigmoid(v, tp)
        out[i] = g[i] * s * (tp(1) + v * (tp(1) - s))


@njit(inline="always", **_JIT)
def _mish_parts(v, tp):
    """(t, 1 − t, σ(v)) with t = tanh(softplus(v)), from one exp of a non-positive number."""
    if v > tp(0):
        w = exp_nonpos(-v, tp)
        den = tp(1) + tp(2) * w + tp(2) * w * w
        return (tp(1) + tp(2) * w) / den, tp(2) * w * w / den, tp(1) / (tp(1) + w)
    u = exp_nonpos(v, tp)
    p = u * (u + tp(2))
    den = p + tp(2)
    return p / den, tp(2) / den, u / (tp(1) + u)


@njit(**_JIT)
def _mish(x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        t, _, _ = _mish_parts(v, tp)
        out[i] = v * t


@njit(**_JIT)
def _mish_backward(g, x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        t, omt, s = _mish_parts(v, tp)
        out[i] = g[i] * (t + v * s * omt * (tp(1) + t))  # 1 − t² = (1 − t)(1 + t)


@njit(**_JIT)
def _hardtanh(x, lo, hi, out):
    tp = x.dtype.type
    a, b = tp(lo), tp(hi)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = a if v < a else (b if v > b else v)  # NaN fails both tests: stays NaN


@njit(**_JIT)
def _hardtanh_backward(g, x, lo, hi, out):
    tp = x.dtype.type
    a, b = tp(lo), tp(hi)
    for i in range(np.uint64(x.size)):
        v = x[i]
        out[i] = g[i] if (v > a) & (v < b) else tp(0)


@njit(**_JIT)
def _gelu_tanh(x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        u = tp(_GELU_K) * (v + tp(_GELU_KAPPA) * v * v * v)
        out[i] = v * _sigmoid(tp(2) * u, tp)


@njit(**_JIT)
def _gelu_tanh_backward(g, x, out):
    tp = x.dtype.type
    for i in range(np.uint64(x.size)):
        v = x[i]
        u = tp(_GELU_K) * (v + tp(_GELU_KAPPA) * v * v * v)
        s = _sigmoid(tp(2) * u, tp)
        du = tp(_GELU_K) * (tp(1) + tp(3 * _GELU_KAPPA) * v * v)
        out[i] = g[i] * (s + tp(2) * v * s * (tp(1) - s) * du)


def _c(a: np.ndarray, dtype=None) -> np.ndarray:
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _forward(loop, x, *params):
    x = _c(x)
    out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)

    def work(lo: int, hi: int) -> None:
        loop(xf[lo:hi], *params, of[lo:hi])

    split_run(work, xf.shape[0], xf.shape[0])  # element ranges over Numba's thread count
    return out


def _backward(loop, grad, x, *params):
    x = _c(x)
    grad = _c(grad, x.dtype)
    out = np.empty_like(x)
    gf, xf, of = grad.reshape(-1), x.reshape(-1), out.reshape(-1)

    def work(lo: int, hi: int) -> None:
        loop(gf[lo:hi], xf[lo:hi], *params, of[lo:hi])

    split_run(work, xf.shape[0], xf.shape[0])
    return out


def relu_forward(x: np.ndarray) -> np.ndarray:
    return _forward(_relu, x)


def relu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _backward(_relu_backward, grad, x)


def leaky_relu_forward(x: np.ndarray, negative_slope: float) -> np.ndarray:
    return _forward(_leaky_relu, x, float(negative_slope))


def leaky_relu_backward(grad: np.ndarray, x: np.ndarray, negative_slope: float) -> np.ndarray:
    return _backward(_leaky_relu_backward, grad, x, float(negative_slope))


def elu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    return _forward(_elu, x, float(alpha))


def elu_backward(grad: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    return _backward(_elu_backward, grad, x, float(alpha))


def silu_forward(x: np.ndarray) -> np.ndarray:
    return _forward(_silu, x)


def silu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _backward(_silu_backward, grad, x)


def mish_forward(x: np.ndarray) -> np.ndarray:
    return _forward(_mish, x)


def mish_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _backward(_mish_backward, grad, x)


def hardtanh_forward(x: np.ndarray, min_val: float, max_val: float) -> np.ndarray:
    return _forward(_hardtanh, x, float(min_val), float(max_val))


def hardtanh_backward(grad: np.ndarray, x: np.ndarray, min_val: float, max_val: float) -> np.ndarray:
    return _backward(_hardtanh_backward, grad, x, float(min_val), float(max_val))


def gelu_tanh_forward(x: np.ndarray) -> np.ndarray:
    return _forward(_gelu_tanh, x)


def gelu_tanh_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _backward(_gelu_tanh_backward, grad, x)


def warmup() -> None:
    for dtype in (np.float32, np.float64):
        x = np.array([-1.0, 0.0, 2.0], dtype)
        relu_backward(relu_forward(x), x)
        leaky_relu_backward(leaky_relu_forward(x, 0.01), x, 0.01)
        elu_backward(elu_forward(x, 1.0), x, 1.0)
        silu_backward(silu_forward(x), x)
        mish_backward(mish_forward(x), x)
        hardtanh_backward(hardtanh_forward(x, -1.0, 1.0), x, -1.0, 1.0)
        gelu_tanh_backward(gelu_tanh_forward(x), x)
