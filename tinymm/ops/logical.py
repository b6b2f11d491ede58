"""Logical reductions and tests with PyTorch's semantics: all, any, isnan, isinf, isfinite,
allclose, equal. None of them is differentiable: they return bool tensors (or Python
bools for ``allclose``/``equal``).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_tensor_arg, normalize_dims
from ..tensor import Tensor

__all__ = ["all", "any", "isnan", "isinf", "isfinite", "allclose", "equal"]


def _tensor(fn: str, x, name: str = "input") -> Tensor:
    """``x`` if it is a Tensor of a supported dtype, else a TypeError naming ``fn``."""
    return as_tensor_arg(fn, name, x)


def _reduce(fn: str, ufunc, input, dim, keepdim) -> Tensor:
    _tensor(fn, input)
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"{fn}: keepdim must be a bool, got {type(keepdim).__name__}")
    dims = normalize_dims(fn, dim, input.ndim)
    return Tensor._wrap(np.asarray(ufunc.reduce(input.data.astype(bool, copy=False), axis=dims,
                                                keepdims=bool(keepdim))))


def all(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """``torch.all``: True where every element (over ``dim``; None: all) is non-zero.

    Shape: () for all; the input's shape without ``dim`` (kept with ``keepdim``); bool.

    >>> tm.all(tm.tensor([[1, 0], [1, 1]]), dim=1).tolist()
    [False, True]
    """
    return _reduce("all", np.logical_and, input, dim, keepdim)


def any(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """``torch.any``: True where some element (over ``dim``; None: all) is non-zero.

    Shape: () for all; the input's shape without ``dim`` (kept with ``keepdim``); bool.

    >>> tm.any(tm.tensor([[1, 0], [0, 0]]), dim=1).tolist()
    [True, False]
    """
    return _reduce("any", np.logical_or, input, dim, keepdim)


def isnan(input) -> Tensor:  # noqa: A002
    """``torch.isnan``: True where an element is NaN (no gradient).

    Shape: ``input``'s shape, bool.

    >>> tm.isnan(tm.tensor([1.0, float("nan")])).tolist()
    [False, True]
    """
    return Tensor._wrap(np.isnan(_tensor("isnan", input).data))


def isinf(input) -> Tensor:  # noqa: A002
    """``torch.isinf``: True where an element is +inf or −inf (no gradient).

    Shape: ``input``'s shape, bool.

    >>> tm.isinf(tm.tensor([1.0, float("-inf")])).tolist()
    [False, True]
    """
    return Tensor._wrap(np.isinf(_tensor("isinf", input).data))


def isfinite(input) -> Tensor:  # noqa: A002
    """``torch.isfinite``: True where an element is neither inf nor NaN (no gradient).

    Shape: ``input``'s shape, bool.

    >>> tm.isfinite(tm.tensor([1.0, float("inf"), float("nan")])).tolist()
    [True, False, False]
    """
    return Tensor._wrap(np.isfinite(_tensor("isfinite", input).data))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
             equal_nan: bool = False) -> bool:
    """``torch.allclose``: |input - other| <= atol + rtol |other| everywhere (broadcast).

    Shape: two broadcastable tensors -> a Python bool.

    >>> tm.allclose(tm.tensor([1.0, 2.0]), tm.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    _tensor("allclose", input)
    _tensor("allclose", other, "other")
    try:
        np.broadcast_shapes(input.shape, other.shape)
    except ValueError:
        raise ValueError(f"allclose: shapes {input.shape} and {other.shape} do not broadcast") from None
    return bool(np.allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:  # noqa: A002
    """``torch.equal``: the same shape and the same values.

    Shape: two tensors -> a Python bool (False for different shapes).

    >>> tm.equal(tm.tensor([1, 2]), tm.tensor([1, 2])), tm.equal(tm.tensor([1, 2]), tm.tensor([1]))
    (True, False)
    """
    _tensor("equal", input)
    _tensor("equal", other, "other")
    return input.shape == other.shape and bool(np.array_equal(input.data, other.data))
