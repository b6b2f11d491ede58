"""What an assertion hands to the op and how it describes it: input copies and reports.

Every run of an op gets :func:`_fresh` copies of the pristine inputs (same values, same
kind of memory layout); :func:`_check_unchanged` fails, naming the input, when the op wrote
into one. The reports name each input with its dtype, shape and layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor


# ----------------------------------------------------------------------------- reporting
def _layout(arr: np.ndarray) -> str:
    if arr.flags.c_contiguous:
        return "contiguous"
    if any(s < 0 for s in arr.strides):
        return "reversed view"
    if arr.flags.f_contiguous:
        return "transposed (Fortran-ordered) view"
    return "strided view"


def _names(fn: str, names: Sequence[str] | None, n: int) -> list[str]:
    if names is None:
        return [f"input {i}" for i in range(n)]
    names = list(names)
    if len(names) != n:
        raise ValueError(f"{fn}: names has {len(names)} entries for {n} inputs")
    return [str(v) for v in names]


def _describe_inputs(names: list[str], values: Sequence[object]) -> str:
    parts = []
    for name, v in zip(names, values):
        arr = v.data if isinstance(v, Tensor) else v
        if isinstance(arr, np.ndarray):
            parts.append(f"{name}: {arr.dtype} {tuple(arr.shape)} {_layout(arr)}")
        else:
            parts.append(f"{name}: {type(v).__name__} {v!r}")
    return "  inputs: " + "; ".join(parts)


def _fail(fn: str, headline: str, names: list[str], values: Sequence[object]) -> None:
    raise AssertionError(f"{fn}: {headline}\n{_describe_inputs(names, values)}")


# ----------------------------------------------------------------------------- input copies
def _fresh(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` with the same values and the same kind of memory layout (see _layout)."""
    if a.ndim == 0 or a.flags.c_contiguous:
        return a.copy()
    flipped = tuple(i for i, st in enumerate(a.strides) if st < 0)
    if flipped:  # a reversed view of a fresh buffer
        return np.flip(np.flip(a, flipped).copy(), flipped)
    if a.flags.f_contiguous:
        return a.copy(order="F")
    buf = np.empty(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)  # every second element
    view = buf[..., ::2]
    view[...] = a
    return view


def _fresh_value(v: object) -> object:
    """A fresh copy of an ndarray or of a Tensor's array (same flags); others unchanged."""
    if isinstance(v, Tensor):
        return Tensor._wrap(_fresh(v.data), requires_grad=v.requires_grad)
    if isinstance(v, np.ndarray):
        return _fresh(v)
    return v


def _check_unchanged(me: str, who: str, names: list[str], pristine: Sequence[object],
                     given: Sequence[object], shown: Sequence[object]) -> None:
    """Fail, naming the input, if ``who`` wrote into an input array it was ``given``."""
    for name, before, after in zip(names, pristine, given):
        b = before.data if isinstance(before, Tensor) else before
        a = after.data if isinstance(after, Tensor) else after
        if not isinstance(b, np.ndarray) or not isinstance(a, np.ndarray):
            continue
        if a.shape == b.shape and np.array_equal(a, b, equal_nan=b.dtype.kind in "fc"):
            continue
        changed = a != b
        if b.dtype.kind in "fc":
            changed &= ~(np.isnan(a) & np.isnan(b))
        first = tuple(int(i) for i in np.argwhere(changed)[0]) if changed.ndim else ()
        _fail(me, f"{who} changed its input '{name}' in place: {int(changed.sum())} of "
              f"{b.size} elements; first at {first}: was {b[first]!r}, now {a[first]!r}",
              names, shown)
