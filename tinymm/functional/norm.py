"""``layer_norm``: normalise over the trailing ``normalized_shape`` dims, then scale and shift."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_same_dtype
from ..autograd import Function
from ..tensor import Tensor

_LN = "layer_norm"


class LayerNorm(Function):
    """y = (x − μ) / √(σ² + eps) ⊙ γ + β over rows of x viewed as (R, D), D = ``row_size``.

    Forward saves μ and rstd per row; backward runs one fused kernel for dx, dγ and dβ.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, row_size):
        rows = np.ascontiguousarray(x.reshape(-1, row_size))  # (R, D)
        w = None if weight is None else np.ascontiguousarray(weight.reshape(row_size))
        b = None if bias is None else np.ascontiguousarray(bias.reshape(row_size))
        y, mean, rstd = kernels.get("layer_norm_forward")(rows, w, b, eps)
        ctx.save_for_backward(rows, w, mean, rstd)
        ctx.shapes = (x.shape, None if weight is None else weight.shape,
                      None if bias is None else bias.shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        rows, w, mean, rstd = ctx.saved_tensors
        x_shape, w_shape, b_shape = ctx.shapes
        _, need_w, need_b = ctx.needs_input_grad[:3]
        g = np.ascontiguousarray(grad_output.reshape(rows.shape))  # (R, D)
        gx, gw, gb = kernels.get("layer_norm_backward")(g, rows, w, mean, rstd, bool(need_w),
                                                        bool(need_b))
        return (gx.reshape(x_shape), None if gw is None else gw.reshape(w_shape),
                None if gb is None else gb.reshape(b_shape), None, None)


def _normalized_shape(value) -> tuple[int, ...]:
    items = (value,) if isinstance(value, (numbers.Integral, np.integer)) else value
    if not isinstance(items, (tuple, list)) or not all(
        isinstance(n, (numbers.Integral, np.integer)) and not isinstance(n, bool) for n in items
    ):
        raise TypeError(f"{_LN}: normalized_shape must be an int or a sequence of ints, "
                        f"got {value!r}")
    if any(n < 1 for n in items) or len(items) == 0:
        raise ValueError(f"{_LN}: normalized_shape must be non-empty with positive sizes, "
                         f"got {value!r}")
    return tuple(int(n) for n in items)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:  # noqa: A002
    """Normalise over the last ``len(normalized_shape)`` dims (biased variance, as PyTorch).

    μ = mean(x), σ² = mean((x − μ)²), y = (x − μ) / √(σ² + eps) ⊙ weight + bias, with
    ``weight`` and ``bias`` of shape ``normalized_shape`` (each optional).

    >>> import tinymm as tm
    >>> layer_norm(tm.randn(2, 5, 8), 8).shape
    (2, 5, 8)
    """
    x = as_tensor_arg(_LN, "input", input)
    check_float(_LN, "input", x)
    shape = _normalized_shape(normalized_shape)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{_LN}: normalized_shape={list(shape)} expects input of shape "
                         f"(*, {', '.join(map(str, shape))}), got input of shape {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        as_tensor_arg(_LN, name, t)
        check_float(_LN, name, t)
        if t.shape != shape:
            raise ValueError(f"{_LN}: {name} must have shape normalized_shape={shape}, "
                             f"got {t.shape}")
    check_same_dtype(_LN, input=x, weight=weight, bias=bias)
    if isinstance(eps, bool) or not isinstance(eps, (numbers.Real, np.floating)):
        raise TypeError(f"{_LN}: eps must be a float, got {type(eps).__name__}")
    if not eps >= 0:
        raise ValueError(f"{_LN}: eps must be >= 0, got {eps}")
    if x.data.size == 0:
        return x * 1.0  # nothing to normalise; keep the graph connected
    return LayerNorm.apply(x, weight, bias, float(eps), math.prod(shape))

