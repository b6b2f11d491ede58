"""In-place Tensor methods (``add_``, ``mul_``, ``zero_``, ``copy_``, ``clamp_``, ...).

Each writes the tensor's array and bumps its version counter (``t._version``), so that a
backward that saved the old values raises instead of using the new ones. tinymm does not
record in-place ops in the graph, so under grad mode (outside ``no_grad``) they refuse:

- a leaf that requires grad (PyTorch's error: "a leaf Variable that requires grad is
  being used in an in-place operation."), as PyTorch does;
- a non-leaf that requires grad, and an operand that requires grad: PyTorch would rebase
  the graph on the in-place op; tinymm raises a RuntimeError saying so (use the
  out-of-place op, e.g. ``y = y + 1``, or ``no_grad`` for a write that needs no gradient).

The result is computed in ``result_type(t, other)`` and must be castable to ``t.dtype``
(``int_tensor.add_(0.5)`` is refused, as in PyTorch). Writes to ``t.data`` (an ndarray)
bypass all this and stay untracked, as ``tensor.data`` writes do in PyTorch.
"""

from __future__ import annotations

import numpy as np

from .._promotion import category, result_type
from ..autograd import is_grad_enabled
from ..tensor import Tensor, is_scalar
from .elementwise import operand


def check_writable(t: Tensor, fn: str, *others) -> None:
    """Refuse an in-place write the graph could not account for (see the module doc)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(t).__name__}")
    if is_grad_enabled():
        if t.requires_grad and t._node is None:
            raise RuntimeError(f"{fn}: a leaf Variable that requires grad is being used in an "
                               "in-place operation. (Write under tm.no_grad(), e.g. for "
                               "initialisation or a manual update.)")
        if t.requires_grad:
            raise RuntimeError(f"{fn}: in-place writes to a tensor that requires grad and was "
                               f"computed by {t._node.name} are not supported by tinymm's "
                               "autograd; use the out-of-place op (y = y + 1) or tm.no_grad()")
        if any(isinstance(o, Tensor) and o.requires_grad for o in others):
            raise RuntimeError(f"{fn}: the operand requires grad, but tinymm does not record "
                               "in-place ops in the graph; use the out-of-place op, or detach() "
                               "the operand")
    if not t.data.flags.writeable:
        raise ValueError(f"{fn}: the tensor's array is read-only (e.g. a broadcast view from "
                         "expand); clone() it first")


def _operand(t: Tensor, fn: str, other) -> np.ndarray:
    """``other`` as an array in ``result_type(t, other)``, broadcastable to ``t.shape``."""
    other = operand(other, fn)
    dtype = result_type(t, other)
    if category(dtype) > category(t.dtype):
        raise TypeError(f"{fn}: the result type {dtype} cannot be cast to the tensor's dtype "
                        f"{t.dtype} in place")
    arr = other.data if isinstance(other, Tensor) else np.asarray(other)
    try:
        if np.broadcast_shapes(t.shape, arr.shape) != t.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{fn}: an operand of shape {arr.shape} does not broadcast to the "
                         f"tensor's shape {t.shape}") from None
    return arr.astype(dtype, copy=False)


def _write(t: Tensor, result: np.ndarray) -> Tensor:
    np.copyto(t.data, result, casting="unsafe")
    t._bump_version()
    return t


def _arith(ufunc, fn: str):
    def method(t: Tensor, other, *, alpha=1) -> Tensor:
        check_writable(t, fn, other)
        if (ufunc is np.subtract and (t.dtype == np.bool_ or isinstance(other, (bool, np.bool_))
                                      or getattr(other, "dtype", None) == np.bool_)):
            raise TypeError(f"{fn}: subtraction with a bool operand is not supported")
        b = _operand(t, fn, other)
        if alpha != 1:
            if not is_scalar(alpha) or (t.dtype.kind != "f" and isinstance(alpha, float)):
                raise TypeError(f"{fn}: alpha must be a number (an integer for integer tensors), "
                                f"got {alpha!r}")
            b = b * np.asarray(alpha).astype(b.dtype)
        if ufunc is np.true_divide and t.dtype.kind != "f":
            raise TypeError(f"{fn}: true division of a {t.dtype} tensor gives floats, which "
                            "cannot be written back in place; use div or convert with .float()")
        if b.dtype == t.dtype:
            ufunc(t.data, b, out=t.data)
            t._bump_version()
            return t
        return _write(t, ufunc(t.data.astype(b.dtype), b))

    method.__name__ = fn
    method.__doc__ = f"``t.{fn}(other)``: ``t = t {ufunc.__name__} other`` in place; returns ``t``."
    return method


add_ = _arith(np.add, "add_")
sub_ = _arith(np.subtract, "sub_")
mul_ = _arith(np.multiply, "mul_")
div_ = _arith(np.true_divide, "div_")


def zero_(t: Tensor) -> Tensor:
    """Fill with zeros in place."""
    check_writable(t, "zero_")
    t.data[...] = 0
    t._bump_version()
    return t


def fill_(t: Tensor, value) -> Tensor:
    """Fill with ``value`` (a number or a one-element tensor), cast to ``t.dtype``."""
    check_writable(t, "fill_", value)
    if isinstance(value, Tensor):
        if value.data.size != 1:
            raise ValueError(f"fill_: value must be a number or a one-element tensor, got shape "
                             f"{value.shape}")
        value = value.data.reshape(())
    elif not is_scalar(value):
        raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
    return _write(t, np.asarray(value))


def copy_(t: Tensor, src) -> Tensor:
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``."""
    check_writable(t, "copy_", src)
    if isinstance(src, Tensor):
        arr = src.data
    elif isinstance(src, np.ndarray):
        arr = src
    else:
        raise TypeError(f"copy_: src must be a Tensor or ndarray, got {type(src).__name__}")
    try:
        if np.broadcast_shapes(t.shape, arr.shape) != t.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"copy_: src of shape {arr.shape} does not broadcast to the tensor's "
                         f"shape {t.shape}") from None
    return _write(t, arr)


def clamp_(t: Tensor, min=None, max=None) -> Tensor:  # noqa: A002  (PyTorch's names)
    """Clamp to [min, max] in place (either bound may be None, not both)."""
    check_writable(t, "clamp_", min, max)
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    out = t.data
    for name, bound, ufunc in (("min", min, np.maximum), ("max", max, np.minimum)):
        if bound is None:
            continue
        if not is_scalar(bound):
            raise TypeError(f"clamp_: {name} must be a number or None, got {type(bound).__name__}")
        out = ufunc(out, _operand(t, "clamp_", bound))
    return _write(t, out)


def clamp_min_(t: Tensor, min) -> Tensor:  # noqa: A002
    return clamp_(t, min=min)


def setitem(t: Tensor, index, value) -> None:
    """``t[index] = value``: the checks of an in-place write, and the version bump."""
    check_writable(t, "__setitem__", value)
    t._bump_version()
