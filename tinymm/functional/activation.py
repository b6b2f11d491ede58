"""Activations, softmax and dropout as functions of Tensors."""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_probability, normalize_dim
from ..autograd import Function
from ..ops import elementwise as ew
from ..random import generator


def relu(input):  # noqa: A002
    """max(x, 0)."""
    return ew.relu(as_tensor_arg("relu", "input", input))


def gelu(input, approximate: str = "none"):  # noqa: A002
    """Exact GELU, x Φ(x) = x/2 (1 + erf(x/√2)) (``approximate="tanh"`` is not offered)."""
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' (the exact erf form), got {approximate!r}")
    x = as_tensor_arg("gelu", "input", input)
    check_float("gelu", "input", x)
    return ew.gelu(x)


def tanh(input):  # noqa: A002
    return ew.tanh(as_tensor_arg("tanh", "input", input))


def sigmoid(input):  # noqa: A002
    return ew.sigmoid(as_tensor_arg("sigmoid", "input", input))


def _rows(x: np.ndarray, dim: int) -> tuple[np.ndarray, tuple]:
    """Move ``dim`` last and flatten the rest: (..., C, ...) -> (N, C) C-contiguous."""
    moved = np.moveaxis(x, dim, -1)
    return np.ascontiguousarray(moved.reshape(-1, x.shape[dim])), moved.shape


def _unrows(y: np.ndarray, moved_shape: tuple, dim: int) -> np.ndarray:
    return np.moveaxis(y.reshape(moved_shape), -1, dim)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        ctx.empty = x.size == 0
        if ctx.empty:  # nothing to normalise; the kernels expect at least one element
            return x.copy()
        rows, moved = _rows(x, dim)
        y = kernels.get("log_softmax_forward" if log else "softmax_forward")(rows)
        ctx.save_for_backward(y)
        ctx.dim, ctx.moved, ctx.log = dim, moved, log
        return _unrows(y, moved, dim)

    @staticmethod
    def backward(ctx, g):
        if ctx.empty:
            return g, None, None
        (y,) = ctx.saved_tensors
        g_rows, _ = _rows(g, ctx.dim)
        name = "log_softmax_backward" if ctx.log else "softmax_backward"
        return _unrows(kernels.get(name)(y, g_rows), ctx.moved, ctx.dim), None, None


def _softmax(fn: str, input, dim, log: bool):
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    if dim is None:
        raise TypeError(f"{fn}: dim must be given (an int), got None")
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), 0, log).reshape(())
    return Softmax.apply(x, normalize_dim(fn, dim, x.ndim), log)


def softmax(input, dim: int):  # noqa: A002
    """softmax(x)_i = exp(x_i) / Σ_j exp(x_j) along ``dim`` (max-shifted, so it never overflows)."""
    return _softmax("softmax", input, dim, log=False)


def log_softmax(input, dim: int):  # noqa: A002
    """log softmax along ``dim``, exact for logits of ±1000 (no exp of large numbers)."""
    return _softmax("log_softmax", input, dim, log=True)


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


def dropout(input, p: float = 0.5, training: bool = True):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (in training)."""
    x = as_tensor_arg("dropout", "input", input)
    p = check_probability("dropout", "p", p)
    if not training or p == 0.0:
        return x
    check_float("dropout", "input", x)
    if p == 1.0:
        return x * 0.0
    keep = generator().random(x.shape) >= p
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return Dropout.apply(x, mask)
