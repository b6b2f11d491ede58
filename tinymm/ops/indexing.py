"""Indexing ops with PyTorch's semantics: gather, scatter, scatter_add, index_select,
masked_fill and take_along_dim.

gather and scatter_add run through the kernel tables (``gather_forward`` /
``scatter_add_forward``, a NumPy reference and a Numba twin); each works on the
(P, N, Q) view of a tensor around the indexed dim (see kernels/reference/indexing.py).
For ``dim = d`` and an index of shape ``(i_0, ..., i_k)``::

    gather:       out[..., m, ...]          = input[..., index[..., m, ...], ...]
    scatter_add:  out = input;  out[..., index[..., m, ...], ...] += src[..., m, ...]

so d gather / d input is a scatter-add of the output gradient, and d scatter_add / d src a
gather of it. Indices are never wrapped: a negative or too large index raises IndexError (an
``IndexOutOfRange``, also a ValueError) naming the function before any kernel runs
(PyTorch raises too).
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._validation import IndexOutOfRange, as_tensor_arg, normalize_dim
from ..autograd import Function
from ..tensor import Tensor, is_scalar
from . import shape as _shape

__all__ = ["gather", "scatter", "scatter_add", "index_select", "masked_fill", "take_along_dim"]


# ----------------------------------------------------------------------------- helpers
def _as_3d(arr: np.ndarray, dim: int) -> np.ndarray:
    """(A..., N, B...) -> (prod A, N, prod B), a view when the layout allows it."""
    s = arr.shape
    return arr.reshape(math.prod(s[:dim]), s[dim], math.prod(s[dim + 1:]))


def _leading(index_shape: tuple[int, ...], dim: int) -> tuple:
    """Slices selecting the first ``index_shape[d]`` entries of every dim except ``dim``."""
    return tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index_shape))


def _kernel_dtype(arr: np.ndarray) -> str | None:
    """The Numba twins are compiled for numbers; booleans go through the reference twin."""
    return "numpy" if arr.dtype == np.bool_ else None


def _gather_nd(src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """``torch.gather`` on arrays: src (.., N, ..) sliced to index's extent, then the kernel."""
    part = src[_leading(index.shape, dim)]
    out = kernels.get("gather_forward", _kernel_dtype(src))(
        _as_3d(np.ascontiguousarray(part), dim), _as_3d(np.ascontiguousarray(index), dim))
    return out.reshape(index.shape)


def _scatter_add_nd(base: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    """A copy of ``base`` with src[:index.shape] added where ``index`` points along ``dim``."""
    kernel = kernels.get("scatter_add_forward", _kernel_dtype(base))
    src_part = src if src.shape == index.shape else src[tuple(slice(0, n) for n in index.shape)]
    src3 = _as_3d(np.ascontiguousarray(src_part), dim)
    idx3 = _as_3d(np.ascontiguousarray(index), dim)
    if all(i == n for k, (i, n) in enumerate(zip(index.shape, base.shape)) if k != dim):
        return kernel(_as_3d(np.ascontiguousarray(base), dim), idx3, src3).reshape(base.shape)
    out = np.array(base, copy=True)  # index covers part of base: scatter into that part
    where = _leading(index.shape, dim)
    part = np.ascontiguousarray(out[where])  # (.., N, ..) with index's extent elsewhere
    out[where] = kernel(_as_3d(part, dim), idx3, src3).reshape(part.shape)
    return out


def _tensor(fn: str, name: str, x) -> Tensor:
    """``x`` if it is a Tensor of a supported dtype, else a TypeError naming ``fn``."""
    return as_tensor_arg(fn, name, x)


def _index_array(fn: str, index, name: str = "index") -> np.ndarray:
    _tensor(fn, name, index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must be an integer (int64) tensor, got dtype {index.dtype}")
    return index.data.astype(np.int64, copy=False)


def _check_bounds(fn: str, index: np.ndarray, size: int, dim: int) -> None:
    if index.size == 0:
        return
    lo, hi = int(index.min()), int(index.max())
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise IndexOutOfRange(f"{fn}: index {bad} is out of range for dim {dim} of size {size} "
                         f"(expected 0..{size - 1})")


def _check_index_shape(fn: str, index: np.ndarray, dim: int, **others) -> None:
    """PyTorch's rule: same number of dims; index.size(d) <= other.size(d) for d != dim
    (for ``src``, every d)."""
    for name, (shape, every_dim) in others.items():
        if len(shape) != index.ndim:
            raise ValueError(f"{fn}: index has {index.ndim} dims but {name} has {len(shape)} "
                             f"(index shape {index.shape}, {name} shape {shape})")
        for d, (i, n) in enumerate(zip(index.shape, shape)):
            if (every_dim or d != dim) and i > n:
                raise ValueError(f"{fn}: index is larger than {name} along dim {d} "
                                 f"(index shape {index.shape}, {name} shape {shape})")


def _dim(fn: str, dim, ndim: int) -> int:
    return normalize_dim(fn, dim, ndim)


def _flat(t: Tensor) -> Tensor:
    """A 0-D tensor as a 1-D one (PyTorch treats 0-D inputs of these ops as one element)."""
    return _shape.reshape(t, (1,)) if isinstance(t, Tensor) and t.ndim == 0 else t


# ----------------------------------------------------------------------------- gather
class Gather(Function):
    """out = input.gather(dim, index); d input = scatter_add(zeros, dim, index, d out)."""

    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.shape, ctx.dtype, ctx.dim, ctx.index = a.shape, a.dtype, dim, index
        return _gather_nd(a, dim, index)

    @staticmethod
    def backward(ctx, g):
        dim, index = ctx.dim, ctx.index
        g3 = _as_3d(np.ascontiguousarray(g, dtype=ctx.dtype), dim)  # (P, M, Q)
        part = kernels.get("gather_backward")(g3, _as_3d(np.ascontiguousarray(index), dim),
                                              ctx.shape[dim])  # (P, N, Q)
        part_shape = index.shape[:dim] + (ctx.shape[dim],) + index.shape[dim + 1:]
        if part_shape == ctx.shape:
            return part.reshape(ctx.shape), None, None
        out = np.zeros(ctx.shape, ctx.dtype)  # index covers part of input: the rest gets 0
        out[_leading(index.shape, dim)] = part.reshape(part_shape)
        return out, None, None


def gather(input, dim, index, *, sparse_grad: bool = False):  # noqa: A002  (PyTorch's names)
    """``torch.gather``: values of ``input`` picked along ``dim`` by ``index``.

    ``index`` has as many dims as ``input`` and ``index.size(d) <= input.size(d)`` for
    ``d != dim``; the output has ``index``'s shape.

    >>> tm.tensor([[1, 2], [3, 4]]).gather(1, tm.tensor([[0, 0], [1, 0]])).tolist()
    [[1, 1], [4, 3]]

    Shape: ``index``'s shape.
    """
    fn = "gather"
    _tensor(fn, "input", input)
    idx = _index_array(fn, index)
    d = _dim(fn, dim, input.ndim)
    if input.ndim == 0:
        return _shape.reshape(gather(_flat(input), 0, _flat(index)), index.shape)
    _check_index_shape(fn, idx, d, input=(input.shape, False))
    _check_bounds(fn, idx, input.shape[d], d)
    return Gather.apply(input, d, idx)


# ----------------------------------------------------------------------------- scatter
class ScatterAdd(Function):
    """out = input with src added at index; d input = d out, d src = d out gathered at index."""

    @staticmethod
    def forward(ctx, a, dim, index, src):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        return _scatter_add_nd(a, dim, index, src)

    @staticmethod
    def backward(ctx, g):
        g_src = None
        if ctx.needs_input_grad[3]:
            g_src = np.zeros(ctx.src_shape, g.dtype)
            g_src[tuple(slice(0, n) for n in ctx.index.shape)] = _gather_nd(g, ctx.dim, ctx.index)
        return g, None, None, g_src


class Scatter(Function):
    """out = input with src written at index (a repeated target keeps one of its writes);
    d input = d out with the written places zeroed, d src = d out gathered at index."""

    @staticmethod
    def forward(ctx, a, dim, index, src):
        ctx.dim, ctx.index = dim, index
        ctx.src_shape = np.shape(src)
        out = np.array(a, copy=True)
        where = _leading(index.shape, dim)
        part = _as_3d(np.ascontiguousarray(out[where]), dim)  # (P, N, Q)
        idx3 = _as_3d(np.ascontiguousarray(index), dim)  # (P, M, Q)
        P, M, Q = idx3.shape
        values = src
        if np.ndim(src):
            values = _as_3d(np.ascontiguousarray(src[tuple(slice(0, n) for n in index.shape)]), dim)
        part[np.arange(P)[:, None, None], idx3, np.arange(Q)[None, None, :]] = values
        out[where] = part.reshape(out[where].shape)
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        g_a = g_src = None
        if need_a:
            ones = np.ones(ctx.index.shape, g.dtype)
            hit = _scatter_add_nd(np.zeros(g.shape, g.dtype), ctx.dim, ctx.index, ones)
            g_a = np.where(hit > 0, np.zeros((), g.dtype), g)
        if need_src:
            g_src = np.zeros(ctx.src_shape, g.dtype)
            g_src[tuple(slice(0, n) for n in ctx.index.shape)] = _gather_nd(g, ctx.dim, ctx.index)
        return g_a, None, None, g_src


def _scatter_checks(fn: str, input, dim, index, src):
    _tensor(fn, "input", input)
    idx = _index_array(fn, index)
    d = _dim(fn, dim, input.ndim)
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise TypeError(f"{fn}: src must have input's dtype {input.dtype}, got {src.dtype}")
        _check_index_shape(fn, idx, d, input=(input.shape, False), src=(src.shape, True))
    else:
        _check_index_shape(fn, idx, d, input=(input.shape, False))
    _check_bounds(fn, idx, input.shape[d], d)
    return d, idx


def scatter_add(input, dim, index, src):  # noqa: A002
    """``torch.scatter_add``: a copy of ``input`` with ``src[i]`` added at the place along
    ``dim`` that ``index[i]`` names (repeated places add up).

    >>> tm.zeros(3).scatter_add(0, tm.tensor([0, 2, 0]), tm.ones(3)).tolist()
    [2.0, 0.0, 1.0]

    Shape: ``input``'s shape (``index`` and ``src`` alike, no larger than ``input`` outside ``dim``).
    """
    fn = "scatter_add"
    _tensor(fn, "input", input)
    _tensor(fn, "src", src)
    if input.ndim == 0:
        return _shape.reshape(scatter_add(_flat(input), dim, _flat(index), _flat(src)), ())
    d, idx = _scatter_checks(fn, input, dim, index, src)
    return ScatterAdd.apply(input, d, idx, src)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """``torch.scatter``: a copy of ``input`` with ``src`` (a Tensor, or a number given as
    ``src`` or ``value=``) written at the places ``index`` names along ``dim``.

    Where ``index`` names one place twice, which write wins is unspecified (as in PyTorch).
    ``reduce="add"`` is ``scatter_add``; ``"multiply"`` is not supported.

    Shape: ``input``'s shape.

    >>> tm.zeros(2, 3).scatter(1, tm.tensor([[2], [0]]), 5.0).tolist()
    [[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]]
    """
    fn = "scatter"
    if (src is None) == (value is None):
        raise TypeError(f"{fn}: give exactly one of src and value, got "
                        f"src={type(src).__name__} and value={type(value).__name__}")
    if src is None:
        src = value
    if not isinstance(src, Tensor) and not is_scalar(src):
        raise TypeError(f"{fn}: src must be a Tensor or a number, got {type(src).__name__}")
    if reduce not in (None, "add"):
        raise ValueError(f"{fn}: reduce must be None or 'add', got {reduce!r}")
    _tensor(fn, "input", input)
    if input.ndim == 0:
        out = scatter(_flat(input), dim, _flat(index), _flat(src), reduce=reduce)
        return _shape.reshape(out, ())
    d, idx = _scatter_checks(fn, input, dim, index, src)
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = Tensor._wrap(np.full(idx.shape, src, input.dtype))
        return ScatterAdd.apply(input, d, idx, src)
    if not isinstance(src, Tensor):
        src = np.asarray(src, dtype=input.dtype)[()]  # a scalar in input's dtype
    return Scatter.apply(input, d, idx, src)


# ----------------------------------------------------------------------------- index_select
class IndexSelect(Function):
    """out = input.index_select(dim, index) (a 1-D index); d input = scatter-add of d out."""

    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.shape, ctx.dtype, ctx.dim, ctx.index = a.shape, a.dtype, dim, index
        return np.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        g3 = _as_3d(np.ascontiguousarray(g), ctx.dim)  # (P, M, Q)
        idx3 = np.ascontiguousarray(np.broadcast_to(ctx.index[None, :, None], g3.shape))
        out = kernels.get("gather_backward")(g3, idx3, ctx.shape[ctx.dim])  # (P, N, Q)
        return out.reshape(ctx.shape), None, None


def index_select(input, dim, index):  # noqa: A002
    """``torch.index_select``: the entries of ``input`` along ``dim`` listed by the 1-D
    ``index`` (repeats allowed), so the output's ``dim`` has ``len(index)`` entries.

    Shape: ``input``'s shape with ``dim`` of size ``len(index)``.

    >>> tm.index_select(tm.tensor([[1, 2], [3, 4], [5, 6]]), 0, tm.tensor([2, 0, 2])).tolist()
    [[5, 6], [1, 2], [5, 6]]
    """
    fn = "index_select"
    _tensor(fn, "input", input)
    idx = _index_array(fn, index)
    if idx.ndim > 1:
        raise ValueError(f"{fn}: index must be 0-D or 1-D, got shape {idx.shape}")
    d = _dim(fn, dim, input.ndim)
    if input.ndim == 0:
        if idx.size != 1:
            raise ValueError(f"{fn}: a 0-D input takes an index of one element, got {idx.size}")
        return _shape.reshape(index_select(_flat(input), 0, _flat(index)), ())
    _check_bounds(fn, idx, input.shape[d], d)
    return IndexSelect.apply(input, d, idx.reshape(-1))


# ----------------------------------------------------------------------------- masked_fill
class MaskedFill(Function):
    """out = where(mask, value, input); d input = d out where not mask, d value = Σ d out[mask]."""

    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask = mask
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        need_a, _, need_v = ctx.needs_input_grad
        zero = np.zeros((), g.dtype)
        g_a = np.where(ctx.mask, zero, g) if need_a else None
        g_v = np.asarray(np.where(ctx.mask, g, zero).sum(), g.dtype) if need_v else None
        return g_a, None, g_v


def masked_fill(input, mask, value):  # noqa: A002
    """``torch.masked_fill``: ``input`` with ``value`` (a number or a 0-D Tensor, which is
    differentiable) where the bool ``mask`` (broadcast against ``input``) is True.

    Shape: ``input``'s shape.

    >>> x = tm.tensor([1.0, 2.0, 3.0])
    >>> tm.masked_fill(x, x > 1.5, 0.0).tolist()
    [1.0, 0.0, 0.0]
    """
    fn = "masked_fill"
    _tensor(fn, "input", input)
    _tensor(fn, "mask", mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{fn}: mask must be a bool tensor, got dtype {mask.dtype}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{fn}: value must be a number or a 0-D tensor, got shape {value.shape}")
    elif not is_scalar(value):
        raise TypeError(f"{fn}: value must be a number or a 0-D tensor, got {type(value).__name__}")
    try:
        np.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise ValueError(f"{fn}: mask shape {mask.shape} does not broadcast with input shape "
                         f"{input.shape}") from None
    return MaskedFill.apply(input, mask.data, value)


# ----------------------------------------------------------------------------- take_along_dim
def take_along_dim(input, indices, dim=None):  # noqa: A002
    """``torch.take_along_dim``: ``gather`` after broadcasting ``input`` and ``indices``
    against each other outside ``dim``; with ``dim=None`` both are flattened first.

    Shape: broadcast of ``input`` and ``indices`` outside ``dim``, ``indices``' size along it.

    >>> x = tm.tensor([[10.0, 30.0, 20.0], [5.0, 4.0, 6.0]])
    >>> tm.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1).tolist()
    [[30.0], [6.0]]
    """
    fn = "take_along_dim"
    _tensor(fn, "input", input)
    idx = _index_array(fn, indices, "indices")
    if dim is None:
        _check_bounds(fn, idx, input.data.size, 0)
        return gather(_shape.reshape(input, (-1,)), 0, _shape.reshape(indices, (-1,)))
    d = _dim(fn, dim, input.ndim)
    if indices.ndim != input.ndim:
        raise ValueError(f"{fn}: indices must have as many dims as input, got shapes "
                         f"{indices.shape} and {input.shape}")
    _check_bounds(fn, idx, input.shape[d] if input.ndim else 1, d)
    outer_in = input.shape[:d] + input.shape[d + 1:]
    outer_ix = indices.shape[:d] + indices.shape[d + 1:]
    try:
        outer = np.broadcast_shapes(outer_in, outer_ix)
    except ValueError:
        raise ValueError(f"{fn}: input {input.shape} and indices {indices.shape} do not "
                         f"broadcast outside dim {dim}") from None
    a = input if outer == outer_in else _shape.expand(
        input, outer[:d] + (input.shape[d],) + outer[d:])
    if outer != outer_ix:
        indices = Tensor._wrap(np.broadcast_to(indices.data, outer[:d] + (indices.shape[d],) + outer[d:]))
    return gather(a, d, indices)
