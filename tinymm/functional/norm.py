"""Normalisation: ``layer_norm``, ``batch_norm`` (running statistics) and ``group_norm``."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_int, check_same_dtype
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

    Shape: (*, *normalized_shape) -> the same shape.

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



# ----------------------------------------------------------------------------- batch norm
_BN = "batch_norm"


def _mark_written(t) -> None:
    """Bump a Tensor's version counter after an in-place write (plain arrays have none)."""
    if isinstance(t, Tensor):
        t._bump_version()


class BatchNorm(Function):
    """y = (x − μ_c) · rstd_c · γ_c + β_c over x viewed as (N, C, L) (L = the spatial size).

    With ``batch_stats`` μ and σ² come from the batch and, when running buffers are given,
    forward updates them in place as PyTorch does::

        running_mean ← (1 − m) · running_mean + m · μ
        running_var  ← (1 − m) · running_var  + m · σ² · M / (M − 1)   (unbiased, M = N·L)

    Without ``batch_stats`` the running statistics normalise and are constants for backward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, batch_stats, momentum, eps):
        n, c = x.shape[:2]
        x3 = np.ascontiguousarray(x.reshape(n, c, -1))  # (N, C, L)
        stats = (None, None) if batch_stats else (running_mean, running_var)
        y, mean, var, rstd = kernels.get("batch_norm_forward")(x3, weight, bias, *stats, eps)
        if batch_stats and running_mean is not None:
            m = x3.shape[0] * x3.shape[2]
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean
            running_var *= 1.0 - momentum
            running_var += (momentum * m / (m - 1)) * var
        ctx.save_for_backward(x3, weight, mean, rstd)
        ctx.batch_stats, ctx.x_shape = batch_stats, x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        x3, weight, mean, rstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = np.ascontiguousarray(grad_output.reshape(x3.shape), dtype=x3.dtype)
        gx, gw, gb = kernels.get("batch_norm_backward")(g, x3, weight, mean, rstd,
                                                        ctx.batch_stats, bool(need_w), bool(need_b))
        return (gx.reshape(ctx.x_shape), gw, gb) + (None,) * 5


def _real(fn: str, name: str, value, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__} {value!r}")
    if minimum is not None and not value >= minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    return float(value)


def _channel_vector(fn: str, name: str, t, c: int, dtype=None):
    """Check an optional per-channel argument: a Tensor (or, for buffers, an ndarray) of (C,)."""
    if t is None:
        return None
    arr = t.data if isinstance(t, Tensor) else t
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a Tensor or None, got {type(t).__name__}")
    if arr.dtype not in (np.float32, np.float64):  # float16 and others: refused, as everywhere
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {arr.dtype}")
    if arr.shape != (c,):
        raise ValueError(f"{fn}: {name} must have shape ({c},) for input with {c} channels, "
                         f"got {arr.shape}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{fn}: {name} has dtype {arr.dtype} but input has {dtype}")
    return t


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every dim but the channel dim 1 of ``input`` (N, C, *).

    In training each channel is normalised with the batch mean and biased variance, and
    ``running_mean``/``running_var`` (C,), if given, are updated in place with ``momentum``
    (the variance unbiased); with ``training=False`` the running statistics (required then)
    normalise. ``weight`` and ``bias`` (C,) are the optional affine γ and β.

    Shape: (N, C, *) -> the same shape.

    >>> import tinymm as tm
    >>> batch_norm(tm.randn(4, 3, 5), None, None, training=True).shape
    (4, 3, 5)
    """
    x = as_tensor_arg(_BN, "input", input)
    check_float(_BN, "input", x)
    if x.ndim < 2:
        raise ValueError(f"{_BN}: input must have shape (N, C, *) with at least 2 dims, "
                         f"got shape {x.shape}")
    c = x.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{_BN}: running_mean and running_var must both be given or both None")
    rm = _channel_vector(_BN, "running_mean", running_mean, c)
    rv = _channel_vector(_BN, "running_var", running_var, c)
    weight = _channel_vector(_BN, "weight", weight, c, x.dtype)
    bias = _channel_vector(_BN, "bias", bias, c, x.dtype)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{_BN}: {name} must be a Tensor or None, got {type(t).__name__}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{_BN}: training must be a bool, got {type(training).__name__}")
    momentum = _real(_BN, "momentum", momentum)
    eps = _real(_BN, "eps", eps, minimum=0.0)
    if not training and rm is None:
        raise ValueError(f"{_BN}: running_mean and running_var must be given when "
                         "training=False (they normalise in evaluation)")
    if training and eps == 0:
        raise ValueError(f"{_BN}: eps must be > 0 in training, got 0")
    batch_stats = bool(training)
    per_channel = x.data.size // max(c, 1)
    if batch_stats and per_channel <= 1:
        raise ValueError(f"{_BN}: expected more than 1 value per channel when training, got "
                         f"input of shape {x.shape}")
    if x.data.size == 0:
        return x * 1.0
    rm_arr = None if rm is None else (rm.data if isinstance(rm, Tensor) else rm)
    rv_arr = None if rv is None else (rv.data if isinstance(rv, Tensor) else rv)
    out = BatchNorm.apply(x, weight, bias, rm_arr, rv_arr, batch_stats, momentum, eps)
    if batch_stats and rm is not None:
        _mark_written(rm)
        _mark_written(rv)
    return out


# ----------------------------------------------------------------------------- group norm
_GN = "group_norm"


class GroupNormalize(Function):
    """x̂ over groups: x (N, C, *) viewed as rows (N·G, C/G · L), each row normalised.

    Uses the layer-norm kernels without affine; ``group_norm`` applies γ and β per channel.
    """

    @staticmethod
    def forward(ctx, x, num_groups, eps):
        rows = np.ascontiguousarray(x.reshape(x.shape[0] * num_groups, -1))  # (N·G, D)
        y, mean, rstd = kernels.get("layer_norm_forward")(rows, None, None, eps)
        ctx.save_for_backward(rows, mean, rstd)
        ctx.x_shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        rows, mean, rstd = ctx.saved_tensors
        g = np.ascontiguousarray(grad_output.reshape(rows.shape), dtype=rows.dtype)
        gx, _, _ = kernels.get("layer_norm_backward")(g, rows, None, mean, rstd, False, False)
        return gx.reshape(ctx.x_shape), None, None


def group_norm(input, num_groups: int, weight=None, bias=None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Group normalisation: the C channels of ``input`` (N, C, *) in ``num_groups`` groups.

    Each sample's group of C/G channels (and all their positions) is normalised with its
    mean and biased variance; then y = x̂ · γ_c + β_c with ``weight``/``bias`` of shape (C,).

    Shape: (N, C, *) -> the same shape.

    >>> import tinymm as tm
    >>> group_norm(tm.randn(2, 6, 4), 3).shape
    (2, 6, 4)
    """
    x = as_tensor_arg(_GN, "input", input)
    check_float(_GN, "input", x)
    if x.ndim < 2:
        raise ValueError(f"{_GN}: input must have shape (N, C, *) with at least 2 dims, "
                         f"got shape {x.shape}")
    c = x.shape[1]
    num_groups = check_int(_GN, "num_groups", num_groups, minimum=1)
    if c % num_groups:
        raise ValueError(f"{_GN}: num_groups={num_groups} must divide the {c} channels of "
                         f"input of shape {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            as_tensor_arg(_GN, name, t)
            _channel_vector(_GN, name, t, c, x.dtype)
    eps = _real(_GN, "eps", eps, minimum=0.0)
    if x.data.size == 0:
        return x * 1.0
    y = GroupNormalize.apply(x, num_groups, eps)
    shape = (1, c) + (1,) * (x.ndim - 2)  # broadcast γ, β over N and the positions
    if weight is not None:
        y = y * weight.reshape(*shape)
    if bias is not None:
        y = y + bias.reshape(*shape)
    return y
