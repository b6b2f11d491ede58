"""Type promotion, as ``torch.result_type``: which dtype an op computes in and returns.

Three kinds of operand, from strongest to weakest: tensors with at least one dimension,
0-dim tensors, and Python (or NumPy) scalars. Within a kind, dtypes promote by
``promote_types``. Across kinds only the *category* counts (bool < integer < float):
a weaker operand changes the result only when its category is higher, and then the
result is the promotion of the stronger result with the weaker one (a Python float
stands for the default float dtype, float32)::

    int64 tensor   * 0.5                      -> float32  (a float scalar, higher category)
    float32 tensor * 0.5                      -> float32  (same category: the tensor decides)
    uint8 tensor   + 300                      -> uint8    (same category; the scalar wraps)
    float32 (3,)   + float64 0-dim tensor     -> float32
    int32 (3,)     + float64 0-dim tensor     -> float64
    int64 (3,)     + float32 (3,)             -> float32  (PyTorch, not NumPy's float64)
    uint8 (3,)     + int8 (3,)                -> int16

Every binary and ternary op (arithmetic, comparisons, ``where``, ``pow``, ``clamp``,
``cat``/``stack``) asks :func:`result_type` and computes in that dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)

# category: 0 bool, 1 integer, 2 float (complex is not supported by tinymm)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def category(dtype: np.dtype) -> int:
    return _CATEGORY[np.dtype(dtype).kind]


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """``torch.promote_types``: the smallest dtype both ``a`` and ``b`` convert to.

    Floats win over integers whatever their sizes (int64 + float32 -> float32, unlike
    NumPy); within a category NumPy's lattice applies (uint8 + int8 -> int16).
    """
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def scalar_dtype(x: object) -> np.dtype:
    """The dtype a Python or NumPy scalar stands for: bool, int64 or float32."""
    if isinstance(x, (bool, np.bool_)):
        return _BOOL
    if isinstance(x, (numbers.Integral, np.integer)):
        return DEFAULT_INT
    if isinstance(x, (numbers.Real, np.floating)):
        return DEFAULT_FLOAT
    raise TypeError(f"result_type: unsupported scalar of type {type(x).__name__}")


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Let a weaker kind's result ``lower`` raise ``higher`` only to a higher category."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher == _BOOL or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> np.dtype:
    """``torch.result_type`` over Tensors and scalars (``None`` operands are ignored).

    >>> import tinymm as tm
    >>> result_type(tm.arange(5), 0.5)
    dtype('float32')
    """
    dims = zeros = scalars = None
    for x in operands:
        if x is None:
            continue
        dtype = getattr(x, "dtype", None)
        if dtype is None or isinstance(x, np.generic) or not hasattr(x, "ndim"):
            s = scalar_dtype(x)
            scalars = s if scalars is None else promote_types(scalars, s)
        elif x.ndim == 0:
            zeros = dtype if zeros is None else promote_types(zeros, dtype)
        else:
            dims = dtype if dims is None else promote_types(dims, dtype)
    out = _combine(dims, _combine(zeros, scalars))
    if out is None:
        raise ValueError("result_type: no operand given")
    return out


def dtype_of_all(dtypes) -> np.dtype:
    """``promote_types`` folded over a list of dtypes (``cat``/``stack`` operands)."""
    it = iter(dtypes)
    out = np.dtype(next(it))
    for d in it:
        out = promote_types(out, d)
    return out
