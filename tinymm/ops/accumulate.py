"""Accumulating reductions with PyTorch's semantics: cumsum, prod, logsumexp and norm
(the plain sums, means and maxima are in reduce.py).

Gradients, side by side with each forward:

- cumsum: d x_i = Σ_{j >= i} d y_j, a reversed cumulative sum.
- prod: d x_i = Π_{j != i} x_j, built from exclusive prefix and suffix products (exact
  where some x_j are 0, unlike y / x_i).
- logsumexp: d x_i = exp(x_i - y) (a softmax).
- norm: d x = sign(x) |x|^(p-1) / ‖x‖^(p-1); 0 where the norm is 0 (as PyTorch).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_tensor_arg, normalize_dim, normalize_dims
from ..autograd import Function
from ..tensor import DEFAULT_FLOAT, Tensor
from . import elementwise as _ew

__all__ = ["cumsum", "prod", "logsumexp", "norm"]


def _tensor(fn: str, x, name: str = "input") -> Tensor:
    """``x`` if it is a Tensor of a supported dtype, else a TypeError naming ``fn``."""
    return as_tensor_arg(fn, name, x)


def _bool(fn: str, name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {type(v).__name__}")
    return bool(v)


# ----------------------------------------------------------------------------- cumsum / prod
def _result_dtype(fn: str, input: Tensor, dtype) -> Tensor:
    """PyTorch's rule for sums and products: integers and bools accumulate in int64."""
    if dtype is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{fn}: dtype must be a dtype such as tm.float32, got {dtype!r}") from None
        return _ew.cast(input, dt)
    if input.dtype.kind in "biu":
        return _ew.cast(input, np.dtype(np.int64))
    return input


class CumSum(Function):
    """y_i = Σ_{j <= i} x_j along ``dim``; d x_i = Σ_{j >= i} d y_j."""

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return np.cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx, g):
        flipped = np.flip(g, axis=ctx.dim)
        return np.flip(np.cumsum(flipped, axis=ctx.dim), axis=ctx.dim), None


def cumsum(input, dim: int, *, dtype=None):  # noqa: A002
    """``torch.cumsum``: running sums along ``dim`` (integers give int64).

    Shape: ``input``'s shape.

    >>> tm.cumsum(tm.tensor([[1, 2, 3]]), dim=1).tolist()
    [[1, 3, 6]]
    """
    fn = "cumsum"
    _tensor(fn, input)
    d = normalize_dim(fn, dim, input.ndim)
    a = _result_dtype(fn, input, dtype)
    if a.ndim == 0:
        return a * 1
    return CumSum.apply(a, d)


def _others_product(a: np.ndarray, axis: int) -> np.ndarray:
    """Π_{j != i} a_j along ``axis`` for every i: exclusive prefix × exclusive suffix."""
    ones = np.ones_like(np.take(a, [0], axis=axis))
    head = np.take(a, np.arange(a.shape[axis] - 1), axis=axis)
    tail = np.take(a, np.arange(1, a.shape[axis]), axis=axis)
    prefix = np.concatenate([ones, np.cumprod(head, axis=axis)], axis=axis)
    suffix = np.flip(np.cumprod(np.flip(tail, axis=axis), axis=axis), axis=axis)
    return prefix * np.concatenate([suffix, ones], axis=axis)


class Prod(Function):
    """y = Π x along ``dim`` (None: everything); d x_i = d y · Π_{j != i} x_j."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.save_for_backward(a)
        ctx.dim, ctx.keepdim = dim, keepdim
        if dim is None:
            return np.asarray(np.prod(a))
        return np.asarray(np.prod(a, axis=dim, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        if ctx.dim is None:
            others = _others_product(a.reshape(-1), 0).reshape(a.shape)
            return g * others, None, None
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dim)
        if a.shape[ctx.dim] == 0:
            return np.zeros(a.shape, g.dtype), None, None
        return g * _others_product(a, ctx.dim), None, None


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A002
    """``torch.prod``: the product of all elements, or along one ``dim`` (an int).

    The gradient is the product of the other elements (exact with zeros too).

    Shape: () for all; the input's shape without ``dim`` (kept with ``keepdim``).

    >>> x = tm.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tm.prod(x).item(), tm.prod(x, 1).tolist()
    (24.0, [2.0, 12.0])
    """
    fn = "prod"
    _tensor(fn, input)
    keepdim = _bool(fn, "keepdim", keepdim)
    d = None if dim is None else normalize_dim(fn, dim, input.ndim)
    a = _result_dtype(fn, input, dtype)
    if a.data.size == 0 and d is None:
        return Tensor._wrap(np.ones((), a.dtype))
    return Prod.apply(a, d, keepdim)


# ----------------------------------------------------------------------------- logsumexp
class LogSumExp(Function):
    """y = m + log Σ exp(x - m) with m the max (no overflow); d x = d y · exp(x - y)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        m = np.max(a, axis=dims, keepdims=True, initial=-np.inf)  # -inf over an empty dim
        m = np.where(np.isfinite(m), m, np.zeros((), a.dtype))  # all -inf (or inf): no shift
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=dims, keepdims=True)) + m
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out if keepdim else out.squeeze(axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        with np.errstate(invalid="ignore"):  # a row of all -inf gives NaN, as in PyTorch
            return g * np.exp(a - out), None, None


def logsumexp(input, dim, keepdim: bool = False):  # noqa: A002
    """``torch.logsumexp``: log Σ exp(x) over ``dim`` (an int or a tuple; ``()`` is all
    dims), computed stably; integer inputs give float32.

    Shape: the input's shape without ``dim`` (kept with ``keepdim``).

    >>> round(tm.logsumexp(tm.tensor([1000.0, 1000.0]), dim=0).item(), 2)
    1000.69
    """
    fn = "logsumexp"
    _tensor(fn, input)
    if dim is None:
        raise TypeError(f"{fn}: dim must be an int or a tuple of ints, got None")
    dims = normalize_dims(fn, None if dim == () else dim, input.ndim)
    a = _ew.cast(input, DEFAULT_FLOAT) if input.dtype.kind in "biu" else input
    if a.ndim == 0:
        return a * 1
    return LogSumExp.apply(a, dims, _bool(fn, "keepdim", keepdim))


# ----------------------------------------------------------------------------- norm
class Norm(Function):
    """‖x‖_p over ``dims``: (Σ |x|^p)^(1/p); p = inf/-inf the max/min of |x|, p = 0 the
    count of non-zeros."""

    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        mag = np.abs(a)
        if p == np.inf:
            out = mag.max(axis=dims, keepdims=True)
        elif p == -np.inf:
            out = mag.min(axis=dims, keepdims=True)
        elif p == 0:
            out = (mag != 0).sum(axis=dims, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = mag.sum(axis=dims, keepdims=True)
        elif p == 2:
            out = np.sqrt((a * a).sum(axis=dims, keepdims=True))
        else:
            out = (mag ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        out = np.asarray(out, dtype=a.dtype)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        return out if keepdim else out.squeeze(axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        p = ctx.p
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        zero = np.zeros((), a.dtype)
        if p == 0:
            return np.zeros(a.shape, a.dtype), None, None, None
        if p == 1:
            return g * np.sign(a), None, None, None
        if p in (np.inf, -np.inf):
            hit = np.abs(a) == out
            return g * np.sign(a) * hit / hit.sum(axis=ctx.dims, keepdims=True), None, None, None
        safe = np.where(out == 0, np.ones((), a.dtype), out)
        if p == 2:
            return np.where(out == 0, zero, g * a / safe), None, None, None
        scale = np.sign(a) * np.abs(a) ** (p - 1) / safe ** (p - 1)
        return np.where(out == 0, zero, g * scale), None, None, None


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):  # noqa: A002
    """``torch.norm``: the p-norm of the elements over ``dim`` (None: all of them).

    ``p`` is ``"fro"`` (the 2-norm of the elements), a number > 0, 0, ``inf`` or ``-inf``;
    ``"nuc"`` (singular values) is not supported.

    Shape: () for all elements; the input's shape without ``dim`` (kept with ``keepdim``).

    >>> tm.norm(tm.tensor([3.0, 4.0])).item(), tm.norm(tm.tensor([3.0, -4.0]), p=1).item()
    (5.0, 7.0)
    """
    fn = "norm"
    _tensor(fn, input)
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"{fn}: p must be 'fro' or a number, got {p!r} "
                             "('nuc' is not supported)")
        p = 2.0
    elif isinstance(p, (bool, np.bool_)) or not isinstance(p, (numbers.Real, np.number)):
        raise TypeError(f"{fn}: p must be 'fro' or a number, got {type(p).__name__}")
    elif p < 0 and p != -np.inf:
        raise ValueError(f"{fn}: p must be >= 0, inf or -inf, got {p}")
    a = input if dtype is None else _ew.cast(input, np.dtype(dtype))
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: input must have a floating dtype, got {a.dtype}")
    dims = normalize_dims(fn, dim, a.ndim)
    return Norm.apply(a, float(p), dims, _bool(fn, "keepdim", keepdim))
