"""Order statistics with PyTorch's semantics: sort, argsort, topk, min/amin/argmin, max
(with ``dim`` or ``other``), maximum and minimum.

Gradients, side by side with each forward:

- sort/topk: the output gradient goes back to the place each value came from.
- min over everything: shared evenly among tied minima; ``min(dim)``: to the first minimum
  (the one ``indices`` names), as PyTorch.
- maximum/minimum: to the larger/smaller input; split half and half at a tie (as PyTorch).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import return_types
from .._validation import as_tensor_arg, normalize_dim, normalize_dims
from ..autograd import Function
from ..tensor import Tensor
from . import elementwise as _ew
from . import reduce as _reduce

__all__ = ["sort", "argsort", "topk", "min", "amin", "max", "argmin", "maximum", "minimum"]


def _tensor(fn: str, x, name: str = "input") -> Tensor:
    """``x`` if it is a Tensor of a supported dtype, else a TypeError naming ``fn``."""
    return as_tensor_arg(fn, name, x)


def _bool(fn: str, name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {type(v).__name__}")
    return bool(v)


def _descending_key(a: np.ndarray) -> np.ndarray:
    """A key whose ascending order is ``a``'s descending order (no integer overflow)."""
    return -a if a.dtype.kind == "f" else ~a


# ----------------------------------------------------------------------------- sort / topk
class TakeAlong(Function):
    """values = take_along_axis(a, idx, dim) for precomputed distinct indices ``idx``;
    d a = d values put back at ``idx`` (zeros elsewhere)."""

    @staticmethod
    def forward(ctx, a, idx, dim):
        ctx.shape, ctx.idx, ctx.dim = a.shape, idx, dim
        return np.take_along_axis(a, idx, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.dim)
        return out, None, None


def _argsort(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    key = _descending_key(a) if descending else a
    return np.argsort(key, axis=dim, kind="stable").astype(np.int64)


def _sort_args(fn: str, input, dim, descending) -> tuple[int, bool]:
    _tensor(fn, input)
    return normalize_dim(fn, dim, input.ndim), _bool(fn, "descending", descending)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):  # noqa: A002
    """``torch.sort`` → ``(values, indices)`` along ``dim``; equal values keep their order
    (a stable sort is always used, so ``stable`` changes nothing).

    Shape: ``values`` and ``indices`` (int64) of ``input``'s shape.

    >>> values, indices = tm.sort(tm.tensor([3.0, 1.0, 2.0]))
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0, 3.0], [1, 2, 0])
    """
    fn = "sort"
    d, desc = _sort_args(fn, input, dim, descending)
    _bool(fn, "stable", stable)
    if input.ndim == 0:
        return return_types.sort(input * 1, Tensor._wrap(np.zeros((), np.int64)))
    idx = _argsort(input.data, d, desc)
    return return_types.sort(TakeAlong.apply(input, idx, d), Tensor._wrap(idx))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False):  # noqa: A002
    """``torch.argsort``: the indices that sort ``input`` along ``dim`` (int64, stable).

    Shape: ``input``'s shape, int64.

    >>> tm.argsort(tm.tensor([3.0, 1.0, 2.0]), descending=True).tolist()
    [0, 2, 1]
    """
    fn = "argsort"
    d, desc = _sort_args(fn, input, dim, descending)
    _bool(fn, "stable", stable)
    if input.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(_argsort(input.data, d, desc))


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """``torch.topk`` → the ``k`` largest (``largest=False``: smallest) values along ``dim``
    and their indices, in sorted order (also when ``sorted=False``).

    Shape: ``input``'s shape with ``dim`` of size ``k``, for values and indices.

    >>> values, indices = tm.topk(tm.tensor([3.0, 1.0, 2.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0], [0, 2])
    """
    fn = "topk"
    d, large = _sort_args(fn, input, dim, largest)
    _bool(fn, "sorted", sorted)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (numbers.Integral, np.integer)):
        raise TypeError(f"{fn}: k must be an int, got {type(k).__name__}")
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"{fn}: k={k} is out of range for dim {dim} of size {n} (expected 0..{n})")
    if input.ndim == 0:
        return return_types.topk(*sort(input))
    idx = np.ascontiguousarray(np.take(_argsort(input.data, d, large), np.arange(k), axis=d))
    return return_types.topk(TakeAlong.apply(input, idx, d), Tensor._wrap(idx))


# ----------------------------------------------------------------------------- min / argmin
class Amin(Function):
    """Minimum over dims; the gradient is shared evenly among tied minima (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = np.asarray(a.min(axis=dims, keepdims=True))
        hit = a == out
        ctx.hit, ctx.dims, ctx.keepdim = hit, dims, keepdim
        return out if keepdim else np.asarray(out.squeeze(axis=dims))

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return g * ctx.hit / ctx.hit.sum(axis=ctx.dims, keepdims=True), None, None


class MinAlongDim(Function):
    """``t.min(dim)`` → (values, indices); the gradient goes to the first minimum."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        idx = np.expand_dims(a.argmin(axis=dim), dim).astype(np.int64)
        values = np.take_along_axis(a, idx, axis=dim)
        ctx.shape, ctx.idx, ctx.dim, ctx.keepdim = a.shape, idx, dim, keepdim
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx

    @staticmethod
    def backward(ctx, g, _g_idx):
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dim)
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.dim)
        return out, None, None


def amin(input, dim=None, keepdim: bool = False):  # noqa: A002
    """``torch.amin``: the minimum over ``dim`` (None, an int or a tuple).

    The gradient is shared equally among tied minima.

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for all.

    >>> tm.amin(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), dim=0).tolist()
    [1.0, 2.0]
    """
    fn = "amin"
    _tensor(fn, input)
    if input.data.size == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor")
    return Amin.apply(input, normalize_dims(fn, dim, input.ndim), _bool(fn, "keepdim", keepdim))


def min(input, dim=None, keepdim: bool = False):  # noqa: A001, A002
    """``torch.min``: ``min(t)`` the smallest element; ``min(t, dim, keepdim=False)`` →
    ``(values, indices)``; ``min(t, other)`` the elementwise :func:`minimum`.

    Shape: () for ``min(t)``; values and indices without ``dim`` (kept with ``keepdim``).

    >>> values, indices = tm.min(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), 1)
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0], [0, 1])
    """
    fn = "min"
    _tensor(fn, input)
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if input.data.size == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor")
    if dim is None:
        return Amin.apply(input, tuple(range(input.ndim)), False)
    d = normalize_dim(fn, dim, input.ndim)
    return return_types.min(*MinAlongDim.apply(input, d, _bool(fn, "keepdim", keepdim)))


def max(input, dim=None, keepdim: bool = False):  # noqa: A001, A002
    """``torch.max``: ``max(t)``, ``max(t, dim, keepdim=False)`` → ``(values, indices)``, or
    ``max(t, other)`` the elementwise :func:`maximum`.

    Shape: () for ``max(t)``; values and indices without ``dim`` (kept with ``keepdim``).

    >>> values, indices = tm.max(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), 1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 3.0], [1, 0])
    """
    _tensor("max", input)
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    out = _reduce.max(input, dim, keepdim)
    return out if dim is None else return_types.max(*out)


def argmin(input, dim=None, keepdim: bool = False):  # noqa: A002
    """``torch.argmin``: the index of the first minimum (of the flattened tensor if
    ``dim`` is None), int64.

    Shape: the input's shape without ``dim`` (kept with ``keepdim``); () for None.

    >>> tm.argmin(tm.tensor([[1.0, 5.0], [3.0, 2.0]]), dim=1).tolist()
    [0, 1]
    """
    fn = "argmin"
    _tensor(fn, input)
    if input.data.size == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor")
    keepdim = _bool(fn, "keepdim", keepdim)
    if dim is None:
        out = np.asarray(input.data.argmin(), dtype=np.int64)
        return Tensor._wrap(out.reshape((1,) * input.ndim) if keepdim else out)
    d = normalize_dim(fn, dim, input.ndim)
    out = input.data.argmin(axis=d)
    return Tensor._wrap((np.expand_dims(out, d) if keepdim else out).astype(np.int64))


# ----------------------------------------------------------------------------- maximum / minimum
class Extremum(Function):
    """maximum (``largest``) or minimum of two broadcast tensors; ties split the gradient."""

    @staticmethod
    def forward(ctx, a, b, largest):
        out = np.maximum(a, b) if largest else np.minimum(a, b)  # same dtype: see _extremum
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        a_wins, b_wins = (a == out), (b == out)
        share = g / np.maximum(a_wins.astype(g.dtype) + b_wins, 1)  # 1/2 at a tie
        zero = np.zeros((), g.dtype)
        need_a, need_b, _ = ctx.needs_input_grad
        return (np.where(a_wins, share, zero) if need_a else None,
                np.where(b_wins, share, zero) if need_b else None, None)


def _extremum(fn: str, input, other, largest: bool):
    _tensor(fn, input)
    _tensor(fn, other, "other")
    try:
        np.broadcast_shapes(input.shape, other.shape)
    except ValueError:
        raise ValueError(f"{fn}: shapes {input.shape} and {other.shape} do not broadcast") from None
    dt = _promoted(input.dtype, other.dtype)
    return Extremum.apply(_ew.cast(input, dt), _ew.cast(other, dt), largest)


def _promoted(a: np.dtype, b: np.dtype) -> np.dtype:
    """``torch.result_type`` of two tensors: a float meets an integer or bool in the float's
    dtype (NumPy would widen int64 + float32 to float64); otherwise the wider of the two."""
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.promote_types(a, b)


def maximum(input, other):  # noqa: A002
    """``torch.maximum``: the elementwise larger of two (broadcast) tensors.

    Shape: broadcast(input, other).

    >>> tm.maximum(tm.tensor([1.0, 5.0]), tm.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]
    """
    return _extremum("maximum", input, other, True)


def minimum(input, other):  # noqa: A002
    """``torch.minimum``: the elementwise smaller of two (broadcast) tensors.

    Shape: broadcast(input, other).

    >>> tm.minimum(tm.tensor([1.0, 5.0]), tm.tensor([3.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    return _extremum("minimum", input, other, False)
