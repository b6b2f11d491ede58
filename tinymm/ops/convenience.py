"""Everyday Tensor conveniences PyTorch users reach for: ``x.matmul(w)``, ``x.t()``,
``x.new_ones(...)``, ``w.uniform_(-a, a)``, ``x.scatter_(...)``, ``x.type()``, and the legacy
constructors ``tm.LongTensor(...)``/``tm.FloatTensor(...)``. Each is a thin layer over an op
or factory that already exists (and validates its arguments)."""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from . import inplace as _inplace

__all__ = ["t", "new_full", "uniform_", "normal_", "scatter_", "type_", "legacy_tensor"]

_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
               np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor",
               np.dtype(np.bool_): "BoolTensor", np.dtype(np.uint8): "ByteTensor"}


def t(x: Tensor) -> Tensor:
    """Transpose a matrix (a tensor of at most 2 dimensions is returned transposed, as
    ``torch.Tensor.t``)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {x.ndim} (shape "
                         f"{x.shape}); use transpose(dim0, dim1)")
    return x if x.ndim < 2 else x.transpose(0, 1)


def new_full(x: Tensor, size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor of ``size`` filled with ``fill_value``, in ``x``'s dtype by default."""
    from ..creation import full

    if isinstance(size, numbers.Integral):
        size = (int(size),)
    return full(tuple(size), fill_value, dtype=x.dtype if dtype is None else dtype,
                requires_grad=requires_grad)


def _fill_random(x: Tensor, fn: str, draw, generator) -> Tensor:
    from ..random import resolve

    _inplace.check_writable(x, fn)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: x must be float32 or float64, got {x.dtype}")
    x.data[...] = draw(resolve(fn, generator), x.shape)
    x._bump_version()
    return x


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``x`` in place with U(a, b) draws (tinymm's generator, or ``generator``)."""
    return _fill_random(x, "uniform_", lambda rng, shape: rng.uniform(a, b, shape), generator)


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``x`` in place with N(mean, std²) draws."""
    return _fill_random(x, "normal_", lambda rng, shape: rng.normal(mean, std, shape), generator)


def scatter_(x: Tensor, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
    """In-place ``scatter``: ``x`` takes the values ``x.scatter(...)`` would return."""
    _inplace.check_writable(x, "scatter_", src)
    from ..autograd import no_grad

    with no_grad():
        result = x.scatter(dim, index, src, value=value, reduce=reduce)
    x.data[...] = result.data
    x._bump_version()
    return x


def type_(x: Tensor, dtype=None):
    """Without ``dtype``: the type's name (``"tinymm.FloatTensor"``); with it: ``x.to(dtype)``."""
    if dtype is None:
        return f"tinymm.{_TYPE_NAMES.get(x.dtype, str(x.dtype))}"
    return x.to(dtype)


def legacy_tensor(dtype, name: str):
    """``tm.LongTensor(data)`` / ``tm.LongTensor(2, 3)`` (zeros), as PyTorch's legacy
    constructors (whose new tensors are uninitialised; tinymm's are zeros)."""
    def make(*args):
        from ..creation import tensor, zeros

        if args and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=dtype)
        if len(args) != 1:
            raise TypeError(f"{name}: expected sizes (ints) or one array-like of data, got "
                            f"{len(args)} arguments")
        return tensor(args[0], dtype=dtype)

    make.__name__ = make.__qualname__ = name
    return make


