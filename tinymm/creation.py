"""Tensor factories with PyTorch's signatures (``*size``, ``dtype=``, ``requires_grad=``)."""

from __future__ import annotations

import numpy as np

from ._validation import check_int
from .random import generator
from .tensor import DEFAULT_FLOAT, Tensor, _infer_array


def _size(fn: str, size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(check_int(fn, "size", s, minimum=0) for s in size)


def _dtype(fn: str, dtype, default=DEFAULT_FLOAT) -> np.dtype:
    if dtype is None:
        return np.dtype(default)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: dtype must be a NumPy dtype such as tm.float32, got {dtype!r}") from None


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (dtype inferred as ``torch.tensor`` does)."""
    arr = np.array(_infer_array(data, dtype, "tensor"), copy=True)
    return Tensor._make(arr, requires_grad, "tensor")


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor._make(np.zeros(_size("zeros", size), _dtype("zeros", dtype)), requires_grad, "zeros")


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor._make(np.ones(_size("ones", size), _dtype("ones", dtype)), requires_grad, "ones")


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, (bool, np.bool_)):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, (int, np.integer)):
        dtype = np.int64
    arr = np.full(_size("full", (size,)), fill_value, _dtype("full", dtype))
    return Tensor._make(arr, requires_grad, "full")


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from tinymm's seeded generator."""
    dt = _dtype("randn", dtype)
    arr = generator().standard_normal(_size("randn", size)).astype(dt)
    return Tensor._make(arr, requires_grad, "randn")


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from tinymm's seeded generator."""
    dt = _dtype("rand", dtype)
    arr = generator().random(_size("rand", size)).astype(dt)
    return Tensor._make(arr, requires_grad, "rand")


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = _dtype("arange", dtype, np.int64 if ints else DEFAULT_FLOAT)
    return Tensor._make(np.arange(start, end, step).astype(dt), requires_grad, "arange")


def _like(fn: str, t, dtype):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(t).__name__}")
    return t.shape, (t.dtype if dtype is None else _dtype(fn, dtype))


def zeros_like(input, dtype=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    shape, dt = _like("zeros_like", input, dtype)
    return Tensor._make(np.zeros(shape, dt), requires_grad, "zeros_like")


def ones_like(input, dtype=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    shape, dt = _like("ones_like", input, dtype)
    return Tensor._make(np.ones(shape, dt), requires_grad, "ones_like")
