"""``interpolate``: PyTorch's ``F.interpolate`` for ``nearest``, ``linear``, ``bilinear`` and
``trilinear``, as one autograd op.

Every supported mode is separable: along each spatial axis, output position ``o`` is a
weighted sum of at most two input positions, i.e. a matrix ``A (out, in)`` applied to that
axis. The op applies one matrix per axis (a GEMM each); its backward applies the transposes.

With ``scale = in / out`` (or ``1 / scale_factor`` when a scale factor is given and
``recompute_scale_factor`` is not True, as PyTorch):

- ``nearest``: ``o`` reads ``min(floor(o · scale), in - 1)`` (PyTorch's legacy rule);
- linear modes, ``align_corners=False``: ``src = max((o + 0.5) · scale - 0.5, 0)``;
  ``align_corners=True``: ``src = o · (in - 1) / (out - 1)`` (0 when out = 1);
  then ``o`` reads ``i0 = floor(src)`` with weight ``1 - λ`` and ``min(i0 + 1, in - 1)``
  with weight ``λ = src - i0``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import as_tensor_arg, check_alloc, check_float
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["interpolate"]

# mode -> the number of spatial dims it works on (None: any of 1, 2, 3)
MODES = {"nearest": None, "linear": 1, "bilinear": 2, "trilinear": 3}


def axis_matrix(n_in: int, n_out: int, mode: str, align_corners: bool,
                scale: float | None) -> np.ndarray:
    """The (n_out, n_in) float64 matrix of one axis; ``scale`` is 1/scale_factor or None."""
    o = np.arange(n_out, dtype=np.float64)
    ratio = scale if scale is not None else n_in / n_out
    a = np.zeros((n_out, n_in))
    if mode == "nearest":
        a[np.arange(n_out), np.minimum(np.floor(o * ratio).astype(np.int64), n_in - 1)] = 1.0
        return a
    if align_corners:
        src = o * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((o + 0.5) * ratio - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    rows = np.arange(n_out)
    np.add.at(a, (rows, i0), 1.0 - lam)
    np.add.at(a, (rows, i1), lam)
    return a


def _apply(x: np.ndarray, mats: list[np.ndarray], transpose: bool) -> np.ndarray:
    """Apply ``mats[k]`` (or its transpose) to spatial axis ``k`` (axes 2, 3, ...)."""
    for k, m in enumerate(mats):
        axis = 2 + k
        m = m.T if transpose else m
        x = np.moveaxis(np.tensordot(x, m, axes=([axis], [1])), -1, axis)  # (..., in) -> (..., out)
    return np.ascontiguousarray(x)


class Interpolate(Function):
    """y = x ×₂ A_1 ×₃ A_2 ...: one matrix per spatial axis; backward with the transposes."""

    @staticmethod
    def forward(ctx, x, mats):
        ctx.mats = [m.astype(x.dtype) for m in mats]
        return _apply(x, ctx.mats, transpose=False)

    @staticmethod
    def backward(ctx, g):
        return _apply(g, ctx.mats, transpose=True), None


def _per_axis(fn: str, name: str, value, k: int, kind) -> tuple:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * k
    if len(items) != k or not all(isinstance(v, kind) and not isinstance(v, bool)
                                  for v in items):
        raise TypeError(f"{fn}: {name} must be a number or a sequence of {k} numbers for a "
                        f"{k + 2}-D input, got {value!r}")
    return items


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``input`` (N, C, *spatial), 1 to 3 spatial dims.

    Give exactly one of ``size`` (int or one int per spatial dim) and ``scale_factor`` (one
    number, or one per dim; output size ``floor(in · scale_factor)``). ``align_corners``
    only with the linear modes (default False). ``antialias`` is not supported.

    Shape: (N, C, *spatial) -> (N, C, *size).

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.interpolate(tm.ones(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
    (1, 3, 8, 8)
    """
    fn = "interpolate"
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be one of {tuple(MODES)}, got {mode!r}")
    k = x.ndim - 2
    if k not in (1, 2, 3) or (MODES[mode] is not None and MODES[mode] != k):
        want = "3-D, 4-D or 5-D" if MODES[mode] is None else f"{MODES[mode] + 2}-D"
        raise ValueError(f"{fn}: mode={mode!r} needs a {want} input (N, C, *spatial), got "
                         f"shape {x.shape}")
    if antialias:
        raise ValueError(f"{fn}: antialias=True is not supported")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{fn}: align_corners can only be set with the linear modes, "
                         f"not mode='nearest'")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: give exactly one of size and scale_factor")
    spatial = x.shape[2:]
    if size is not None:
        out = tuple(int(s) for s in _per_axis(fn, "size", size, k, (numbers.Integral,)))
        scales = [None] * k
    else:
        factors = tuple(float(f) for f in _per_axis(fn, "scale_factor", scale_factor, k,
                                                    (numbers.Real,)))
        if any(not f > 0 or math.isinf(f) for f in factors):
            raise ValueError(f"{fn}: scale_factor must be > 0 and finite, got {scale_factor!r}")
        out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = [None if recompute_scale_factor else 1.0 / f for f in factors]
    if any(o < 1 for o in out) or any(n < 1 for n in spatial):
        raise ValueError(f"{fn}: input spatial size {spatial} and output size {out} must be "
                         "positive")
    check_alloc(fn, "the output", (*x.shape[:2], *out), x.dtype)
    check_alloc(fn, "the interpolation matrices", (max(out), max(spatial)))
    mats = [axis_matrix(n, o, mode, bool(align_corners), s)
            for n, o, s in zip(spatial, out, scales)]
    return Interpolate.apply(x, mats)
