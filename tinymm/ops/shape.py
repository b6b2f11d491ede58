"""Shape ops (reshape, permute, squeeze, expand), indexing, cat, stack and where."""

from __future__ import annotations

import numpy as np

from .._promotion import dtype_of_all
from .._validation import check_int, normalize_dim
from ..autograd import Function
from ..tensor import Tensor, is_scalar
from .elementwise import cast, operand, promoted


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, ctx.inverse), None


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine sums the broadcast dims back


class GetItem(Function):
    """``a[index]``; repeated integer indices accumulate their gradients."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        ctx.basic = _is_basic(index)
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=ctx.dtype)
        if ctx.basic:  # basic indexing selects each element at most once
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)
        return out, None


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim, ctx.n = dim, len(arrays)
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *(np.take(g, i, axis=ctx.dim) for i in range(ctx.n)))


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = np.zeros((), dtype=g.dtype)
        need_a, need_b = ctx.needs_input_grad[1:]
        return (None, np.where(ctx.cond, g, zero) if need_a else None,
                np.where(ctx.cond, zero, g) if need_b else None)


# ----------------------------------------------------------------------------- helpers
def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


def plain_index(index):
    """Tensors inside an index become ndarrays (integer or boolean arrays)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(plain_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _shape_args(fn: str, args) -> tuple[int, ...]:
    shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    return tuple(check_int(fn, "shape", s) for s in shape)


def _tensor(fn: str, a) -> Tensor:
    if not isinstance(a, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(a).__name__}")
    return a


# ----------------------------------------------------------------------------- public ops
def reshape(a, shape):
    shape = _shape_args("reshape", shape)
    try:
        np.empty(a.shape, dtype=np.bool_).reshape(shape)  # cheap check with NumPy's rules
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                         f"({a.data.size} elements) into {shape}") from None
    return Reshape.apply(a, shape)


def _view_possible(shape: tuple, strides: tuple, new_shape: tuple) -> bool:
    """PyTorch's view rule: each run of ``new_shape`` dims must lie inside one contiguous run
    of the old dims (a run: dims whose strides chain, stride[d] = size[d+1]·stride[d+1]).

    ``strides`` in elements. Walks the old dims from the last, closing a run where the
    stride chain breaks, and checks that whole new dims fill it exactly.
    """
    if not shape or int(np.prod(shape)) == 0:
        return True
    view_d = len(new_shape) - 1
    base_stride = strides[-1]
    old_numel = new_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        old_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != old_numel * base_stride):
            while view_d >= 0 and (new_numel < old_numel or new_shape[view_d] == 1):
                new_numel *= new_shape[view_d]
                view_d -= 1
            if new_numel != old_numel:
                return False
            if d > 0:
                base_stride, old_numel, new_numel = strides[d - 1], 1, 1
    return view_d == -1


def view(a, shape):
    """``a.view(*shape)``: like reshape, but refuses (as PyTorch does) where the result could
    not share ``a``'s memory, e.g. flattening a transposed matrix."""
    shape = _shape_args("view", shape)
    try:
        target = np.empty(a.shape, dtype=np.bool_).reshape(shape).shape  # resolves a -1
    except ValueError:
        raise ValueError(f"view: cannot view a tensor of shape {a.shape} "
                         f"({a.data.size} elements) as {shape}") from None
    strides = tuple(s // a.data.itemsize for s in a.data.strides)
    if not _view_possible(a.shape, strides, target):
        raise ValueError(f"view: shape {target} is not compatible with the input's shape "
                         f"{a.shape} and strides {strides} (at least one dimension spans "
                         "across two contiguous subspaces, e.g. after transpose or permute); "
                         "use .reshape(...) instead, which copies when it must")
    return Reshape.apply(a, target)


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return reshape(a, (1,))
    s = normalize_dim("flatten", start_dim, a.ndim, "start_dim")
    e = normalize_dim("flatten", end_dim, a.ndim, "end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim})")
    shape = a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:]
    return Reshape.apply(a, shape)


def permute(a, dims):
    dims = _shape_args("permute", dims)
    norm = tuple(normalize_dim("permute", d, a.ndim) for d in dims)
    if sorted(norm) != list(range(a.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of {a.ndim} dims")
    return Permute.apply(a, norm)


def transpose(a, dim0, dim1):
    d0 = normalize_dim("transpose", dim0, a.ndim, "dim0")
    d1 = normalize_dim("transpose", dim1, a.ndim, "dim1")
    if a.ndim == 0:
        return Reshape.apply(a, ())
    dims = list(range(a.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(a, tuple(dims))


def unsqueeze(a, dim):
    d = normalize_dim("unsqueeze", dim, a.ndim + 1)
    return Reshape.apply(a, a.shape[:d] + (1,) + a.shape[d:])


def squeeze(a, dim=None):
    if dim is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        drop = {normalize_dim("squeeze", d, a.ndim) for d in dims}
        shape = tuple(n for i, n in enumerate(a.shape) if not (i in drop and n == 1))
    return Reshape.apply(a, shape)


def expand(a, sizes):
    sizes = _shape_args("expand", sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a {a.ndim}-D tensor")
    shape = tuple(a.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(a.shape, shape)
        if np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {a.shape} to {sizes}") from None
    return Expand.apply(a, shape)


def getitem(a, index):
    index = plain_index(index)
    try:
        np.empty(a.shape, dtype=np.bool_)[index]  # NumPy's own bounds and type checks
    except (IndexError, TypeError, ValueError) as exc:
        raise IndexError(f"getitem: invalid index for a tensor of shape {a.shape}: {exc}") from None
    return GetItem.apply(a, index)


def _sequence(fn: str, tensors) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fn}: tensors must be a list or tuple of Tensors, "
                        f"got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{fn}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: tensors[{i}] must be a Tensor, got {type(t).__name__}")
    return list(tensors)


def cat(tensors, dim=0):
    """Concatenate along an existing dim; all other dims must agree.

    Shape: tensors (..., n_i, ...) along ``dim`` -> (..., Σ n_i, ...).

    >>> tm.cat([tm.ones(2, 3), tm.zeros(1, 3)]).shape, tm.cat([tm.ones(2, 3), tm.ones(2, 1)], dim=1).shape
    ((3, 3), (2, 4))
    """
    ts = _sequence("cat", tensors)
    if any(t.ndim == 0 for t in ts):
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim("cat", dim, ts[0].ndim)
    for i, t in enumerate(ts):
        if t.ndim != ts[0].ndim or t.shape[:d] + t.shape[d + 1:] != ts[0].shape[:d] + ts[0].shape[d + 1:]:
            raise ValueError(f"cat: tensors[{i}] has shape {t.shape}, which does not match "
                             f"tensors[0]'s shape {ts[0].shape} outside dim {dim}")
    dtype = dtype_of_all(t.dtype for t in ts)  # mixed dtypes promote, as torch.cat does
    return Cat.apply(d, *(cast(t, dtype) for t in ts))


def stack(tensors, dim=0):
    """Stack equal-shaped tensors along a new dim.

    Shape: k tensors of shape S -> S with a new dim of size k at ``dim``.

    >>> tm.stack([tm.ones(2, 3)] * 4).shape, tm.stack([tm.ones(2, 3)] * 4, dim=2).shape
    ((4, 2, 3), (2, 3, 4))
    """
    ts = _sequence("stack", tensors)
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensors[{i}] has shape {t.shape}, expected {ts[0].shape}")
    d = normalize_dim("stack", dim, ts[0].ndim + 1)
    dtype = dtype_of_all(t.dtype for t in ts)
    return Stack.apply(d, *(cast(t, dtype) for t in ts))


def where(condition, input, other):  # noqa: A002  (PyTorch's names)
    """Elementwise ``input`` where ``condition`` else ``other``; differentiable in both.

    Shape: broadcast(condition, input, other).

    >>> x = tm.tensor([-1.0, 2.0])
    >>> tm.where(x > 0, x, tm.zeros(2)).tolist()
    [0.0, 2.0]
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = operand(input, "where"), operand(other, "where")
    shapes = [cond.shape] + [x.shape for x in (a, b) if not is_scalar(x)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"where: shapes {shapes} do not broadcast") from None
    return Where.apply(cond, *promoted("where", a, b))
