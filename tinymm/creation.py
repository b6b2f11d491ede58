"""Tensor factories with PyTorch's signatures (``*size``, ``dtype=``, ``requires_grad=``)."""

from __future__ import annotations

import numpy as np

from ._validation import check_int
from .random import resolve
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
    """A new tensor holding a copy of ``data`` (dtype inferred as ``torch.tensor`` does).

    Python numbers and lists give float32 (floats) or int64 (ints), bools give bool, as PyTorch;
    a NumPy array keeps its dtype. Shape: that of ``data``.

    >>> t = tm.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> t.shape, t.dtype, t.requires_grad, tm.tensor([1, 2]).dtype
    ((2, 2), dtype('float32'), True, dtype('int64'))
    """
    arr = np.array(_infer_array(data, dtype, "tensor"), copy=True)
    return Tensor._make(arr, requires_grad, "tensor")


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy).

    Shape and dtype: the array's.

    >>> a = np.zeros(3, np.float32)
    >>> t = tm.from_numpy(a)
    >>> a[0] = 7.0
    >>> t.tolist()
    [7.0, 0.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape ``size`` (ints or one tuple), float32 unless ``dtype``.

    >>> tm.zeros(2, 3).shape, tm.zeros((2,), dtype=tm.int64).tolist()
    ((2, 3), [0, 0])
    """
    return Tensor._make(np.zeros(_size("zeros", size), _dtype("zeros", dtype)), requires_grad, "zeros")


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape ``size`` (ints or one tuple), float32 unless ``dtype``.

    >>> tm.ones(2, 3).shape, tm.ones(2, dtype=tm.float64).dtype
    ((2, 3), dtype('float64'))
    """
    return Tensor._make(np.ones(_size("ones", size), _dtype("ones", dtype)), requires_grad, "ones")


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` (a tuple) filled with ``fill_value``; the dtype follows the value
    (float32 for a float, int64 for an int, bool for a bool) unless ``dtype``.

    >>> tm.full((2, 2), 1.5).tolist(), tm.full((2,), 7).dtype
    ([[1.5, 1.5], [1.5, 1.5]], dtype('int64'))
    """
    if dtype is None and isinstance(fill_value, (bool, np.bool_)):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, (int, np.integer)):
        dtype = np.int64
    arr = np.full(_size("full", (size,)), fill_value, _dtype("full", dtype))
    return Tensor._make(arr, requires_grad, "full")


def _float_dtype(fn: str, dtype, default=DEFAULT_FLOAT) -> np.dtype:
    dt = _dtype(fn, dtype, default)
    if dt.kind != "f":
        raise TypeError(f"{fn}: dtype must be a floating dtype, got {dt}")
    return dt


def randn(*size, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from tinymm's seeded generator (or ``generator``).

    Shape ``size`` (ints or one tuple), float32 unless ``dtype``.

    >>> _ = tm.manual_seed(0)
    >>> x = tm.randn(2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    dt = _float_dtype("randn", dtype)
    arr = resolve("randn", generator).standard_normal(_size("randn", size)).astype(dt)
    return Tensor._make(arr, requires_grad, "randn")


def rand(*size, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from tinymm's seeded generator (or ``generator``).

    Shape ``size`` (ints or one tuple), float32 unless ``dtype``.

    >>> x = tm.rand(1000)
    >>> x.shape, 0.0 <= x.min().item() and x.max().item() < 1.0
    ((1000,), True)
    """
    dt = _float_dtype("rand", dtype)
    arr = resolve("rand", generator).random(_size("rand", size)).astype(dt)
    return Tensor._make(arr, requires_grad, "rand")


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise.

    Values start, start + step, ... below ``end`` (``arange(n)`` is 0..n-1).

    >>> tm.arange(4).tolist(), tm.arange(1.0, 2.0, 0.25).tolist()
    ([0, 1, 2, 3], [1.0, 1.25, 1.5, 1.75])
    """
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
    """Zeros with ``input``'s shape and dtype (unless ``dtype``).

    >>> tm.zeros_like(tm.ones(2, 3, dtype=tm.float64)).dtype
    dtype('float64')
    """
    shape, dt = _like("zeros_like", input, dtype)
    return Tensor._make(np.zeros(shape, dt), requires_grad, "zeros_like")


def ones_like(input, dtype=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """Ones with ``input``'s shape and dtype (unless ``dtype``).

    >>> tm.ones_like(tm.tensor([5, 6])).tolist()
    [1, 1]
    """
    shape, dt = _like("ones_like", input, dtype)
    return Tensor._make(np.ones(shape, dt), requires_grad, "ones_like")


def full_like(input, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """``torch.full_like``: ``input``'s shape and dtype (unless ``dtype``), filled with
    ``fill_value`` (converted to that dtype: 2.7 in an int64 tensor is 2).

    >>> tm.full_like(tm.tensor([1, 2]), 2.7).tolist()
    [2, 2]
    """
    shape, dt = _like("full_like", input, dtype)
    if not isinstance(fill_value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(f"full_like: fill_value must be a number, got {type(fill_value).__name__}")
    return Tensor._make(np.full(shape, fill_value).astype(dt), requires_grad, "full_like")


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """``torch.empty``: a tensor whose values are unspecified (whatever memory held).

    Shape ``size`` (ints or one tuple), float32 unless ``dtype``.

    >>> tm.empty(2, 3).shape
    (2, 3)
    """
    return Tensor._make(np.empty(_size("empty", size), _dtype("empty", dtype)), requires_grad, "empty")


def empty_like(input, dtype=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """``torch.empty_like``: ``input``'s shape and dtype (unless ``dtype``), values unspecified.

    >>> tm.empty_like(tm.ones(2, 3)).shape
    (2, 3)
    """
    shape, dt = _like("empty_like", input, dtype)
    return Tensor._make(np.empty(shape, dt), requires_grad, "empty_like")


def rand_like(input, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:  # noqa: A002
    """``torch.rand_like``: :func:`rand` with ``input``'s shape and (floating) dtype.

    >>> tm.rand_like(tm.ones(2, 3, dtype=tm.float64)).dtype
    dtype('float64')
    """
    shape, dt = _like("rand_like", input, dtype)
    return rand(shape, generator=generator, dtype=_float_dtype("rand_like", dt),
                requires_grad=requires_grad)


def randn_like(input, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:  # noqa: A002
    """``torch.randn_like``: :func:`randn` with ``input``'s shape and (floating) dtype.

    >>> tm.randn_like(tm.ones(2, 3)).shape
    (2, 3)
    """
    shape, dt = _like("randn_like", input, dtype)
    return randn(shape, generator=generator, dtype=_float_dtype("randn_like", dt),
                 requires_grad=requires_grad)


def randint(*args, size=None, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """``torch.randint(low=0, high, size)``: uniform integers in [low, high), int64 unless
    ``dtype`` says otherwise. Called as ``randint(high, size)`` or ``randint(low, high, size)``.

    >>> tm.randint(0, 10, (2, 3)).shape
    (2, 3)
    """
    fn = "randint"
    if size is not None:
        args = (*args, size)
    if len(args) == 2:
        low, high, shape = 0, args[0], args[1]
    elif len(args) == 3:
        low, high, shape = args
    else:
        raise TypeError(f"{fn}: expected (high, size) or (low, high, size), got {len(args)} "
                        "positional arguments")
    low, high = check_int(fn, "low", low), check_int(fn, "high", high)
    if high <= low:
        raise ValueError(f"{fn}: high ({high}) must be greater than low ({low})")
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{fn}: size must be a tuple of ints, got {type(shape).__name__}")
    dt = _dtype(fn, dtype, np.int64)
    arr = resolve(fn, generator).integers(low, high, _size(fn, (tuple(shape),))).astype(dt)
    return Tensor._make(arr, requires_grad, fn)


def randperm(n, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """``torch.randperm``: a random permutation of 0..n-1 (int64).

    >>> sorted(tm.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    n = check_int("randperm", "n", n, minimum=0)
    dt = _dtype("randperm", dtype, np.int64)
    return Tensor._make(resolve("randperm", generator).permutation(n).astype(dt), requires_grad,
                        "randperm")


def eye(n, m=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """``torch.eye``: an (n, m) matrix (m defaults to n) with ones on the diagonal.

    >>> tm.eye(2).tolist(), tm.eye(2, 3).shape
    ([[1.0, 0.0], [0.0, 1.0]], (2, 3))
    """
    n = check_int("eye", "n", n, minimum=0)
    m = n if m is None else check_int("eye", "m", m, minimum=0)
    return Tensor._make(np.eye(n, m, dtype=_dtype("eye", dtype)), requires_grad, "eye")


def linspace(start, end, steps, dtype=None, requires_grad: bool = False) -> Tensor:
    """``torch.linspace``: ``steps`` evenly spaced values from ``start`` to ``end``
    (both included), float32 unless ``dtype`` says otherwise.

    >>> tm.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    fn = "linspace"
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            raise TypeError(f"{fn}: {name} must be a number, got {type(v).__name__}")
    steps = check_int(fn, "steps", steps, minimum=0)
    dt = _dtype(fn, dtype)
    arr = np.linspace(float(start), float(end), steps)
    if dt.kind in "iu":
        arr = np.trunc(arr)  # PyTorch truncates integer linspace values
    return Tensor._make(arr.astype(dt), requires_grad, fn)
