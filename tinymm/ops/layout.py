"""Layout ops with PyTorch's semantics: split, chunk, repeat, tile, flip, roll, tril, triu,
clamp_min and clamp_max.

Each moves or copies elements without arithmetic, so its gradient moves them back:

- split/chunk: the pieces' gradients concatenated (a piece nobody used gives zeros).
- repeat: the gradient of every copy summed onto the original.
- flip/roll: the same flip / the opposite roll.
- tril/triu: the same triangle of the gradient.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_tensor_arg, check_int, normalize_dim
from ..autograd import Function
from ..tensor import DEFAULT_FLOAT, Tensor, is_scalar
from . import elementwise as _ew
from . import shape as _shape

__all__ = ["split", "chunk", "repeat", "tile", "flip", "roll", "tril", "triu", "clamp_min",
           "clamp_max"]


def _tensor(fn: str, x, name: str = "input") -> Tensor:
    """``x`` if it is a Tensor of a supported dtype, else a TypeError naming ``fn``."""
    return as_tensor_arg(fn, name, x)


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _int_list(fn: str, name: str, values) -> tuple[int, ...]:
    """``(a, b)``, ``[a, b]`` or ``a`` (for ``*args`` forms given one sequence) as ints."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    for v in values:
        if not _is_int(v):
            raise TypeError(f"{fn}: {name} must be ints, got {type(v).__name__} {v!r}")
    return tuple(int(v) for v in values)


# ----------------------------------------------------------------------------- split / chunk
class Split(Function):
    """Pieces of ``a`` along ``dim`` at ``bounds``; the backward concatenates their gradients."""

    @staticmethod
    def forward(ctx, a, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(a, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.dim), None, None


def _split_at(t: Tensor, sizes: list[int], dim: int) -> tuple[Tensor, ...]:
    if len(sizes) == 1:
        return (t * 1 if t.requires_grad else Tensor._wrap(t.data),)  # one piece, a new tensor
    out = Split.apply(t, list(np.cumsum(sizes)[:-1]), dim)
    return out if isinstance(out, tuple) else (out,)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.split``: pieces of ``split_size`` along ``dim`` (the last may be smaller), or
    pieces of the listed sizes, which must add up to the dim's size.

    Shape: pieces of ``input``'s shape with ``dim`` cut to each piece's size.

    >>> [t.tolist() for t in tm.split(tm.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    fn = "split"
    _tensor(fn, tensor, "tensor")
    if tensor.ndim == 0:
        raise ValueError(f"{fn}: a 0-D tensor cannot be split")
    d = normalize_dim(fn, dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = [check_int(fn, "split_size_or_sections", s, minimum=0) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"{fn}: sections {list(sizes)} add up to {sum(sizes)}, but dim {dim} "
                             f"has size {n}")
        if not sizes:
            raise ValueError(f"{fn}: split_size_or_sections is an empty list")
    else:
        size = check_int(fn, "split_size_or_sections", split_size_or_sections, minimum=0)
        if size == 0:
            if n != 0:
                raise ValueError(f"{fn}: split_size 0 cannot split a dim of size {n}")
            sizes = [0]
        else:
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
            sizes = sizes or [0]
    return _split_at(tensor, sizes, d)


def chunk(input, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """``torch.chunk``: pieces of ceil(size / chunks) along ``dim``; there may be fewer than
    ``chunks`` of them (e.g. 5 elements in 4 chunks give sizes 2, 2, 1).

    Shape: pieces of ``input``'s shape with ``dim`` cut to each piece's size.

    >>> [t.shape for t in tm.chunk(tm.ones(5, 2), 4)]
    [(2, 2), (2, 2), (1, 2)]
    """
    fn = "chunk"
    _tensor(fn, input)
    chunks = check_int(fn, "chunks", chunks, minimum=1)
    if input.ndim == 0:
        raise ValueError(f"{fn}: a 0-D tensor cannot be chunked")
    d = normalize_dim(fn, dim, input.ndim)
    n = input.shape[d]
    if n == 0:  # PyTorch: ``chunks`` empty pieces
        return _split_at(input, [0] * chunks, d)
    return split(input, -(-n // chunks), d)


# ----------------------------------------------------------------------------- repeat / tile
class Repeat(Function):
    """``np.tile(a, reps)`` (``a`` already has ``len(reps)`` dims); the gradient of each copy
    is summed back: (r0·n0, r1·n1, ...) -> (r0, n0, r1, n1, ...) -> sum over the r axes."""

    @staticmethod
    def forward(ctx, a, reps):
        ctx.shape, ctx.reps = a.shape, reps
        return np.tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        split_shape = tuple(v for r, n in zip(ctx.reps, ctx.shape) for v in (r, n))
        g = g.reshape(split_shape)
        return g.sum(axis=tuple(range(0, 2 * len(ctx.reps), 2))), None


def repeat(input, *sizes):  # noqa: A002
    """``Tensor.repeat``: tile ``input`` ``sizes[i]`` times along dim i; there may be more
    sizes than dims (new leading dims), never fewer."""
    fn = "repeat"
    _tensor(fn, input)
    reps = _int_list(fn, "sizes", sizes)
    if len(reps) < input.ndim:
        raise ValueError(f"{fn}: {len(reps)} repeat sizes given for a {input.ndim}-D tensor; "
                         "give at least one per dim")
    if any(r < 0 for r in reps):
        raise ValueError(f"{fn}: repeat sizes must be >= 0, got {reps}")
    a = input
    if len(reps) > a.ndim:
        a = _shape.reshape(a, (1,) * (len(reps) - a.ndim) + a.shape)
    return Repeat.apply(a, reps)


def tile(input, dims):  # noqa: A002
    """``torch.tile``: :func:`repeat`, with ``dims`` padded by leading 1s to ``input``'s rank.

    Shape: each dim multiplied by its (padded) entry of ``dims``.

    >>> tm.tile(tm.tensor([[1, 2]]), (2, 2)).tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    fn = "tile"
    _tensor(fn, input)
    reps = _int_list(fn, "dims", (dims,))
    return repeat(input, (1,) * (input.ndim - len(reps)) + reps)


# ----------------------------------------------------------------------------- flip / roll
class Flip(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return np.flip(a, axis=dims).copy()

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, axis=ctx.dims), None


def _dims(fn: str, dims: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    out = tuple(normalize_dim(fn, d, ndim, "dims") for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: dims {dims} repeat a dimension")
    return out


def flip(input, dims):  # noqa: A002
    """``torch.flip(input, dims)``: reverse the order along ``dims`` (a sequence of ints, or
    one int); the method is ``t.flip(*dims)`` or ``t.flip(dims)``.

    Shape: ``input``'s shape.

    >>> tm.flip(tm.tensor([[1, 2], [3, 4]]), (0, 1)).tolist()
    [[4, 3], [2, 1]]
    """
    fn = "flip"
    _tensor(fn, input)
    d = _dims(fn, _int_list(fn, "dims", (dims,)), input.ndim)
    return Flip.apply(input, d)


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(a, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        return np.roll(g, tuple(-s for s in ctx.shifts), axis=ctx.dims), None, None


def roll(input, shifts, dims=None):  # noqa: A002
    """``torch.roll``: shift elements along ``dims`` by ``shifts`` (wrapping round); with
    ``dims=None`` the flattened tensor is rolled and the shape restored.

    Shape: ``input``'s shape.

    >>> tm.roll(tm.tensor([1, 2, 3, 4]), 1).tolist()
    [4, 1, 2, 3]
    """
    fn = "roll"
    _tensor(fn, input)
    shift_t = _int_list(fn, "shifts", (shifts,))
    if dims is None:
        if len(shift_t) != 1:
            raise ValueError(f"{fn}: with dims=None, shifts must be one int, got {shifts!r}")
        flat = _shape.reshape(input, (-1,))
        return _shape.reshape(Roll.apply(flat, shift_t, (0,)), input.shape)
    dim_t = _dims(fn, _int_list(fn, "dims", (dims,)), input.ndim)
    if len(dim_t) != len(shift_t):
        raise ValueError(f"{fn}: shifts {shifts!r} and dims {dims!r} must have the same length")
    return Roll.apply(input, shift_t, dim_t)


# ----------------------------------------------------------------------------- tril / triu
class Triangle(Function):
    """Keep the lower (``upper=False``) or upper triangle of the last two dims."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        rows, cols = a.shape[-2:]
        if upper:  # j - i >= diagonal
            keep = ~np.tri(rows, cols, diagonal - 1, dtype=bool)
        else:  # j - i <= diagonal
            keep = np.tri(rows, cols, diagonal, dtype=bool)
        ctx.keep = keep
        return np.where(keep, a, np.zeros((), a.dtype))

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.keep, g, np.zeros((), g.dtype)), None, None


def _triangle(fn: str, input, diagonal, upper: bool):
    _tensor(fn, input)
    if input.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dims, got shape {input.shape}")
    return Triangle.apply(input, check_int(fn, "diagonal", diagonal), upper)


def tril(input, diagonal: int = 0):  # noqa: A002
    """``torch.tril``: elements on and below the ``diagonal``-th diagonal, zeros elsewhere.

    Shape: (..., n, m) -> the same shape.

    >>> tm.tril(tm.ones(3, 3)).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    return _triangle("tril", input, diagonal, False)


def triu(input, diagonal: int = 0):  # noqa: A002
    """``torch.triu``: elements on and above the ``diagonal``-th diagonal, zeros elsewhere.

    Shape: (..., n, m) -> the same shape.

    >>> tm.triu(tm.ones(2, 3), diagonal=1).tolist()
    [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    return _triangle("triu", input, diagonal, True)


# ----------------------------------------------------------------------------- clamp_min / max
def _clamp(fn: str, input, lo, hi):
    """``clamp`` with PyTorch's promotion: an integer (or bool) tensor clamped by a float
    bound gives a float32 tensor."""
    _tensor(fn, input)
    bound = lo if hi is None else hi
    if isinstance(bound, (bool, np.bool_)) or not is_scalar(bound):
        raise TypeError(f"{fn}: {'min' if hi is None else 'max'} must be a number, "
                        f"got {type(bound).__name__}")
    if input.dtype.kind in "biu" and isinstance(bound, (float, np.floating)):
        input = _ew.cast(input, DEFAULT_FLOAT)
    return _ew.clamp(input, lo, hi)


def clamp_min(input, min):  # noqa: A002
    """``torch.clamp_min``: ``clamp(input, min=min)``.

    Shape: ``input``'s shape.

    >>> tm.clamp_min(tm.tensor([-1.0, 2.0]), 0.0).tolist()
    [0.0, 2.0]
    """
    return _clamp("clamp_min", input, min, None)


def clamp_max(input, max):  # noqa: A002
    """``torch.clamp_max``: ``clamp(input, max=max)``.

    Shape: ``input``'s shape.

    >>> tm.clamp_max(tm.tensor([-1.0, 2.0]), 0.0).tolist()
    [-1.0, 0.0]
    """
    return _clamp("clamp_max", input, None, max)
