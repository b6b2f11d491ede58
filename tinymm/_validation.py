"""Argument checkers shared by the public API; every message starts with the function name."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence

import numpy as np


class IndexOutOfRange(IndexError, ValueError):
    """An index (class, embedding row, dim) outside its range: an IndexError, as the API
    contract and PyTorch say, and a ValueError, as earlier releases raised."""


def _tensor_cls():
    from .tensor import Tensor

    return Tensor


# dtypes the ops accept (PyTorch's float16/bfloat16/complex have no kernels here)
SUPPORTED_DTYPES = tuple(np.dtype(d) for d in (np.bool_, np.uint8, np.int8, np.int16, np.int32,
                                               np.int64, np.float32, np.float64))


def as_tensor_arg(fn: str, name: str, x: object):
    """Return ``x`` if it is a Tensor of a supported dtype, else raise a TypeError naming
    ``fn`` and ``name`` (float16, complex and object tensors are refused here, before any
    kernel sees them)."""
    if not isinstance(x, _tensor_cls()):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{fn}: {name} has dtype {x.dtype}, which tinymm does not support "
                        "(use float32 or float64)")
    return x


def check_float(fn: str, name: str, t) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must have a floating dtype, got {t.dtype}")


def check_ndim(fn: str, name: str, t, ndims: int | Sequence[int]) -> None:
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if t.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{fn}: {name} must be {want}, got shape {tuple(t.shape)}")


def check_same_dtype(fn: str, **tensors) -> None:
    present = {k: v.dtype for k, v in tensors.items() if v is not None}
    if len(set(present.values())) > 1:
        listing = ", ".join(f"{k} is {v}" for k, v in present.items())
        raise TypeError(f"{fn}: expected one dtype for all arguments, but {listing}")


def _is_int(v: object) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_int(fn: str, name: str, value: object, minimum: int | None = None) -> int:
    if not _is_int(value):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive_int(fn: str, name: str, value: object) -> int:
    return check_int(fn, name, value, minimum=1)


def int_tuple(fn: str, name: str, value: object, n: int, minimum: int = 0) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints, each >= ``minimum``, as an ``n``-tuple."""
    if _is_int(value):
        items = (value,) * n
    elif isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        items = tuple(value)
    else:
        raise TypeError(f"{fn}: {name} must be an int or a sequence of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def check_probability(fn: str, name: str, p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float in [0, 1], got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{fn}: {name} must be in [0, 1], got {p}")
    return float(p)


def normalize_dim(fn: str, dim: object, ndim: int, name: str = "dim") -> int:
    """A possibly negative dim index, checked against ``ndim``, as a non-negative int."""
    if not _is_int(dim):
        raise TypeError(f"{fn}: {name} must be an int, got {type(dim).__name__} {dim!r}")
    lo, hi = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not lo <= dim <= hi:
        raise IndexOutOfRange(f"{fn}: {name}={dim} is out of range for a {ndim}-D tensor "
                         f"(expected {lo}..{hi})")
    return int(dim) % max(ndim, 1)


def normalize_dims(fn: str, dim: object, ndim: int) -> tuple[int, ...]:
    """``None`` (all dims), an int, or a tuple of ints, as a sorted tuple of distinct dims."""
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(sorted({normalize_dim(fn, d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"{fn}: dim {dim!r} repeats a dimension")
    return out


def _memory_limit() -> int:
    """Bytes one array may take: this machine's physical memory (1 TiB if unknown)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 2**40


MEMORY_LIMIT = _memory_limit()


def check_alloc(fn: str, what: str, shape: Sequence[int], dtype=np.float32) -> None:
    """Refuse, before allocating, an array of ``shape`` that could not fit in memory.

    Sizes are multiplied as Python ints (no overflow); the limit is the machine's physical
    memory, so an absurd size gives a ValueError naming ``fn`` instead of a MemoryError
    (or NumPy's "array is too big") from deep inside an op.
    """
    count = math.prod(int(n) for n in shape)
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > MEMORY_LIMIT:
        raise ValueError(f"{fn}: {what} of shape {tuple(int(n) for n in shape)} would take "
                         f"{nbytes / 2**30:.3g} GiB, more than this machine's memory "
                         f"({MEMORY_LIMIT / 2**30:.3g} GiB)")
