"""Activations, softmax and dropout as functions of Tensors.

Elementwise activations run one kernel pair each (``<name>_forward`` / ``<name>_backward``
in ``kernels/*/activation.py``); PyTorch's ``inplace=True`` is accepted and computed out of
place (tinymm never overwrites an input), which returns what PyTorch returns.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_probability, normalize_dim
from ..autograd import Function
from ..ops import elementwise as ew
from ..random import generator
from ..tensor import Tensor


def relu(input):  # noqa: A002
    """ReLU: y = max(x, 0) elementwise; the gradient is 1 where x > 0, else 0.

    Shape: any -> the same shape.

    >>> F.relu(tm.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    return ew.relu(as_tensor_arg("relu", "input", input))


def gelu(input, approximate: str = "none"):  # noqa: A002
    """GELU: exact x Φ(x) = x/2 (1 + erf(x/√2)), or with ``approximate="tanh"``
    x/2 (1 + tanh(√(2/π)(x + 0.044715 x³))).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.gelu(tm.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = as_tensor_arg("gelu", "input", input)
    check_float("gelu", "input", x)
    if approximate == "tanh":
        return GELUTanhFn.apply(x)
    return ew.gelu(x)


# ----------------------------------------------------------------------------- activations
class _Activation(Function):
    """y = f(x, *params) by the kernel pair ``<kernel>_forward`` / ``<kernel>_backward``."""

    kernel = ""

    @classmethod
    def forward(cls, ctx, x, *params):
        # the jit twins take float32/float64; other floating dtypes run the reference twin
        backend = None if x.dtype in (np.float32, np.float64) else "numpy"
        ctx.save_for_backward(x)
        ctx.params, ctx.backend = params, backend
        return kernels.get(cls.kernel + "_forward", backend)(x, *params).astype(x.dtype, copy=False)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        grad = kernels.get(cls.kernel + "_backward", ctx.backend)(g, x, *ctx.params)
        return (grad.astype(x.dtype, copy=False),) + (None,) * len(ctx.params)


class LeakyReLUFn(_Activation):
    kernel = "leaky_relu"


class ELUFn(_Activation):
    kernel = "elu"


class SiLUFn(_Activation):
    kernel = "silu"


class SoftplusFn(_Activation):
    kernel = "softplus"


class MishFn(_Activation):
    kernel = "mish"


class HardtanhFn(_Activation):
    kernel = "hardtanh"


class GELUTanhFn(_Activation):
    kernel = "gelu_tanh"


def _float_input(fn: str, input, inplace) -> Tensor:  # noqa: A002
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{fn}: inplace must be a bool, got {type(inplace).__name__}")
    return x


def _real(fn: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value}")
    return float(value)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):  # noqa: A002
    """y = x if x > 0 else negative_slope · x.

    Shape: any -> the same shape.

    >>> F.leaky_relu(tm.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    x = _float_input("leaky_relu", input, inplace)
    return LeakyReLUFn.apply(x, _real("leaky_relu", "negative_slope", negative_slope))


def elu(input, alpha: float = 1.0, inplace: bool = False):  # noqa: A002
    """y = x if x > 0 else α (e^x − 1).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.elu(tm.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """
    x = _float_input("elu", input, inplace)
    return ELUFn.apply(x, _real("elu", "alpha", alpha))


def silu(input, inplace: bool = False):  # noqa: A002
    """y = x σ(x) (also called swish).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.silu(tm.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.2689, 0.0, 0.7311]
    """
    return SiLUFn.apply(_float_input("silu", input, inplace))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):  # noqa: A002
    """y = log(1 + e^{βx}) / β, and x itself where βx > ``threshold`` (as PyTorch).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.softplus(tm.tensor([0.0, 30.0])).tolist()]
    [0.6931, 30.0]
    """
    x = _float_input("softplus", input, False)
    beta = _real("softplus", "beta", beta)
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero, got 0")
    return SoftplusFn.apply(x, beta, _real("softplus", "threshold", threshold))


def mish(input, inplace: bool = False):  # noqa: A002
    """y = x tanh(softplus(x)).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.mish(tm.tensor([-1.0, 1.0])).tolist()]
    [-0.3034, 0.8651]
    """
    return MishFn.apply(_float_input("mish", input, inplace))


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):  # noqa: A002
    """y = clamp(x, min_val, max_val); the gradient passes only strictly inside the bounds.

    Shape: any -> the same shape.

    >>> F.hardtanh(tm.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    x = _float_input("hardtanh", input, inplace)
    lo, hi = _real("hardtanh", "min_val", min_val), _real("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must be <= max_val ({hi})")
    return HardtanhFn.apply(x, lo, hi)


def tanh(input):  # noqa: A002
    """y = tanh(x) elementwise; dy/dx = 1 − y².

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.tanh(tm.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.7616]
    """
    return ew.tanh(as_tensor_arg("tanh", "input", input))


def sigmoid(input):  # noqa: A002
    """y = σ(x) = 1 / (1 + e^{−x}) elementwise; dy/dx = y (1 − y).

    Shape: any -> the same shape.

    >>> F.sigmoid(tm.tensor([0.0])).tolist()
    [0.5]
    """
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
    """softmax(x)_i = exp(x_i) / Σ_j exp(x_j) along ``dim`` (max-shifted, so it never overflows).

    Shape: any -> the same shape; each slice along ``dim`` sums to 1.

    >>> p = F.softmax(tm.tensor([[1.0, 2.0, 3.0]]), dim=1)
    >>> [round(v, 4) for v in p[0].tolist()], round(p.sum().item(), 4)
    ([0.09, 0.2447, 0.6652], 1.0)
    """
    return _softmax("softmax", input, dim, log=False)


def log_softmax(input, dim: int):  # noqa: A002
    """log softmax along ``dim``: x_i − log Σ_j exp(x_j), exact for logits of ±1000 (no exp of
    large numbers).

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in F.log_softmax(tm.tensor([1000.0, 0.0]), dim=0).tolist()]
    [0.0, -1000.0]
    """
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
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (in training);
    with ``training=False`` the input is returned unchanged.

    Shape: any -> the same shape.

    >>> _ = tm.manual_seed(0)
    >>> y = F.dropout(tm.ones(1000), p=0.5)
    >>> sorted(set(y.tolist())), 400 < int((y == 0).sum().item()) < 600
    ([0.0, 2.0], True)
    >>> F.dropout(tm.ones(3), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
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
