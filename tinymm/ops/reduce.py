"""Reductions over one, several or all dims (``dim`` is None, an int or a tuple)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._validation import normalize_dim, normalize_dims
from ..autograd import Function
from ..tensor import Tensor


def _expand(g: np.ndarray, dims: tuple[int, ...], keepdim: bool, shape) -> np.ndarray:
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim:
        g = np.expand_dims(g, dims)
    return np.broadcast_to(g, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return np.asarray(a.sum(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        return _expand(g, ctx.dims, ctx.keepdim, ctx.shape), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.count = int(np.prod([a.shape[d] for d in dims]))
        return np.asarray(a.mean(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        return _expand(g / ctx.count, ctx.dims, ctx.keepdim, ctx.shape), None, None


class Var(Function):
    """var = Σ (x - x̄)² / (n - ddof); d var / dx = 2 (x - x̄) / (n - ddof)."""

    @staticmethod
    def forward(ctx, a, dims, ddof, keepdim):
        centred = a - a.mean(axis=dims, keepdims=True)
        n = int(np.prod([a.shape[d] for d in dims]))
        ctx.save_for_backward(centred)
        ctx.dims, ctx.keepdim, ctx.denom = dims, keepdim, n - ddof
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((centred * centred).sum(axis=dims, keepdims=keepdim) / (n - ddof),
                              dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        (centred,) = ctx.saved_tensors
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return g * (2.0 / ctx.denom) * centred, None, None, None


class Amax(Function):
    """Maximum over dims; the gradient is shared evenly among tied maxima (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = np.asarray(a.max(axis=dims, keepdims=True))
        hit = a == out
        ctx.save_for_backward(hit)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out if keepdim else np.asarray(out.squeeze(axis=dims))

    @staticmethod
    def backward(ctx, g):
        (hit,) = ctx.saved_tensors
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return g * hit / hit.sum(axis=ctx.dims, keepdims=True), None, None


class MaxAlongDim(Function):
    """``t.max(dim)`` → (values, indices); the gradient goes to the first maximum."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        idx = np.expand_dims(a.argmax(axis=dim), dim)
        values = np.take_along_axis(a, idx, axis=dim)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g, _g_idx):
        (idx,) = ctx.saved_tensors
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dim)
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, idx, g, axis=ctx.dim)
        return out, None, None


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _check(fn: str, a) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(a).__name__}")


def _keepdim(fn: str, keepdim) -> bool:
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"{fn}: keepdim must be a bool, got {type(keepdim).__name__}")
    return bool(keepdim)


def sum(a, dim=None, keepdim=False):  # noqa: A001
    _check("sum", a)
    return Sum.apply(a, normalize_dims("sum", dim, a.ndim), _keepdim("sum", keepdim))


def mean(a, dim=None, keepdim=False):
    _check("mean", a)
    if a.dtype.kind not in "fc":
        raise TypeError(f"mean: input must have a floating dtype, got {a.dtype}")
    return Mean.apply(a, normalize_dims("mean", dim, a.ndim), _keepdim("mean", keepdim))


def var(a, dim=None, unbiased=True, keepdim=False):
    _check("var", a)
    if a.dtype.kind != "f":
        raise TypeError(f"var: input must have a floating dtype, got {a.dtype}")
    dims = normalize_dims("var", dim, a.ndim)
    return Var.apply(a, dims, 1 if unbiased else 0, _keepdim("var", keepdim))


def amax(a, dim=None, keepdim=False):
    _check("amax", a)
    dims = normalize_dims("amax", dim, a.ndim)
    if a.data.size == 0:
        raise ValueError("amax: cannot reduce an empty tensor")
    return Amax.apply(a, dims, _keepdim("amax", keepdim))


def max(a, dim=None, keepdim=False):  # noqa: A001
    """``t.max()`` → the largest element; ``t.max(dim)`` → (values, indices) as PyTorch."""
    _check("max", a)
    if a.data.size == 0:
        raise ValueError("max: cannot reduce an empty tensor")
    if dim is None:
        return Amax.apply(a, tuple(range(a.ndim)), False)
    d = normalize_dim("max", dim, a.ndim)
    return MaxResult(*MaxAlongDim.apply(a, d, _keepdim("max", keepdim)))


def argmax(a, dim=None, keepdim=False):
    _check("argmax", a)
    if dim is None:
        return Tensor._wrap(np.asarray(a.data.argmax(), dtype=np.int64))
    d = normalize_dim("argmax", dim, a.ndim)
    out = a.data.argmax(axis=d)
    if keepdim:
        out = np.expand_dims(out, d)
    return Tensor._wrap(out.astype(np.int64))
