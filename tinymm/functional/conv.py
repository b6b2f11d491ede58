"""``conv1d`` and ``conv2d``: validated calls of the conv kernels, each one autograd op.

PyTorch's cross-correlation (the seed's ``y(i,j) = Σ_p x(i-p+1, j-p+1) · w(p)`` with the
kernel flipped), for x (N, C_in, H, W) and w (C_out, C_in, kH, kW)::

    y[n, o, i, j] = b[o] + Σ_{c, u, v} x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w] · w[o, c, u, v]

The backward pass returns ∂L/∂x, ∂L/∂w and ∂L/∂b from one kernel call (see
``kernels/reference/conv.py`` for the equations). ``groups > 1`` splits the channels into
independent convolutions (``kernels/*/conv_grouped.py``; depthwise when ``groups = C_in``).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validation import (
    as_tensor_arg,
    check_alloc,
    check_float,
    check_ndim,
    check_positive_int,
    check_same_dtype,
    int_tuple,
)
from ..autograd import Function
from ..ops.shape import cat
from ..tensor import Tensor


class _ConvNd(Function):
    """One convolution; ``dims`` (1 or 2) picks the ``conv{dims}d_*`` kernels."""

    dims = 2

    @classmethod
    def forward(cls, ctx, x, weight, bias, stride, padding, dilation):
        x = np.ascontiguousarray(x)
        weight = np.ascontiguousarray(weight)
        bias = None if bias is None else np.ascontiguousarray(bias)
        ctx.save_for_backward(x, weight)
        ctx.args = (stride, padding, dilation)
        ctx.has_bias = bias is not None
        return kernels.get(f"conv{cls.dims}d_forward")(x, weight, bias, stride, padding, dilation)

    @classmethod
    def backward(cls, ctx, grad_y):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        needs = (need_x, need_w, need_b and ctx.has_bias)
        grad_y = np.ascontiguousarray(grad_y, dtype=x.dtype)
        gx, gw, gb = kernels.get(f"conv{cls.dims}d_backward")(grad_y, x, weight, *ctx.args, needs)
        return gx, gw, gb, None, None, None


class GroupedConv2d(Function):
    """A convolution with ``groups > 1`` (depthwise when ``groups = C_in``): the
    ``conv2d_grouped_*`` kernels; 1-D convolutions come here as height-1 images."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        x = np.ascontiguousarray(x)
        weight = np.ascontiguousarray(weight)
        bias = None if bias is None else np.ascontiguousarray(bias)
        ctx.save_for_backward(x, weight)
        ctx.args = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return kernels.get("conv2d_grouped_forward")(x, weight, bias, stride, padding, dilation,
                                                     groups)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_y = np.ascontiguousarray(grad_y, dtype=x.dtype)
        gx, gw, gb = kernels.get("conv2d_grouped_backward")(
            grad_y, x, weight, *ctx.args, (need_x, need_w, need_b and ctx.has_bias))
        return gx, gw, gb, None, None, None, None


class Conv1d(_ConvNd):
    dims = 1


class Conv2d(_ConvNd):
    dims = 2


def _dilated(k: int, d: int) -> int:
    return d * (k - 1) + 1


def _same_padding(fn: str, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """padding="same": total d·(k−1) per dim; PyTorch puts the odd extra on the right."""
    if any(s != 1 for s in stride):
        raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride})")
    total = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
    return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)


def _pad_right(x: Tensor, extra: tuple[int, ...]) -> Tensor:
    """Append ``extra[i]`` zeros at the end of spatial dim i (differentiable, via cat)."""
    spatial0 = x.ndim - len(extra)
    for i, e in enumerate(extra):
        if e:
            shape = list(x.shape)
            shape[spatial0 + i] = e
            x = cat([x, Tensor(np.zeros(shape, x.dtype))], dim=spatial0 + i)
    return x


def _conv(fn: str, dims: int, op: type[Function], input, weight, bias, stride, padding,
          dilation, groups) -> Tensor:
    x = as_tensor_arg(fn, "input", input)
    w = as_tensor_arg(fn, "weight", weight)
    check_float(fn, "input", x)
    check_float(fn, "weight", w)
    check_ndim(fn, "input", x, (dims + 1, dims + 2))
    check_ndim(fn, "weight", w, dims + 2)
    if bias is not None:
        bias = as_tensor_arg(fn, "bias", bias)
        if bias.shape != (w.shape[0],):
            raise ValueError(f"{fn}: bias must have shape ({w.shape[0]},) to match weight "
                             f"shape {tuple(w.shape)}, got {tuple(bias.shape)}")
    check_same_dtype(fn, input=x, weight=w, bias=bias)
    groups = check_positive_int(fn, "groups", groups)
    channel_dim = x.ndim - dims - 1
    if w.shape[0] % groups:
        raise ValueError(f"{fn}: out_channels (weight.shape[0] = {w.shape[0]}) must be "
                         f"divisible by groups={groups}")
    if x.shape[channel_dim] != w.shape[1] * groups:
        grouped = f", groups={groups}" if groups != 1 else ""
        raise ValueError(f"{fn}: input has {x.shape[channel_dim]} channels but weight expects "
                         f"{w.shape[1] * groups} (weight shape {tuple(w.shape)}{grouped})")
    stride = int_tuple(fn, "stride", stride, dims, minimum=1)
    dilation = int_tuple(fn, "dilation", dilation, dims, minimum=1)
    kernel = tuple(w.shape[2:])
    extra = (0,) * dims
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * dims
        elif padding == "same":
            padding, right = _same_padding(fn, kernel, stride, dilation)
            extra = tuple(r - p for p, r in zip(padding, right))
        else:
            raise ValueError(f"{fn}: padding must be an int, a tuple of {dims} ints, 'valid' "
                             f"or 'same', got {padding!r}")
    else:
        padding = int_tuple(fn, "padding", padding, dims, minimum=0)
    spatial = tuple(x.shape[-dims:])
    padded = tuple(n + 2 * p + e for n, p, e in zip(spatial, padding, extra))
    reach = tuple(_dilated(k, d) for k, d in zip(kernel, dilation))
    if any(r > n for r, n in zip(reach, padded)):
        raise ValueError(f"{fn}: kernel size {kernel} (dilated to {reach}) is larger than the "
                         f"padded input {padded} (input {spatial}, padding {padding})")
    # the kernels build (C_in·k, N·L_out) columns and the (N, C_out, L_out) output: refuse
    # sizes that could not fit in memory before they are allocated
    out = tuple((n - r) // s + 1 for n, r, s in zip(padded, reach, stride))
    batch = x.shape[:-dims - 1]
    check_alloc(fn, "the im2col columns", (*batch, *w.shape[1:], *out), x.dtype)
    check_alloc(fn, "the output", (*batch, w.shape[0], *out), x.dtype)

    unbatched = x.ndim == dims + 1
    if unbatched:
        x = x.reshape(1, *x.shape)
    if any(extra):
        x = _pad_right(x, extra)
    if groups == 1:
        y = op.apply(x, w, bias, stride, padding, dilation)
    elif dims == 2:
        y = GroupedConv2d.apply(x, w, bias, stride, padding, dilation, groups)
    else:  # a 1-D grouped convolution is a 2-D one on a height-1 image
        y = GroupedConv2d.apply(x.unsqueeze(2), w.unsqueeze(2), bias, (1, *stride),
                                (0, *padding), (1, *dilation), groups).squeeze(2)
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C_in, H, W) or unbatched (C_in, H, W):
    y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v w[o, c, u, v] x[n, c, i·s + u·d − p, j·s + v·d − p].

    ``weight`` is (C_out, C_in, kH, kW), ``bias`` (C_out,) or None. ``stride``, ``padding``
    and ``dilation`` are ints or pairs; ``padding`` may also be ``"valid"`` (0) or
    ``"same"`` (output as large as the input; stride 1 only). With ``groups`` G, weight is
    (C_out, C_in / G, kH, kW) and group g maps input channels g·C_in/G.. to outputs g·C_out/G..

    Shape: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = ⌊(H + 2p − d(kH − 1) − 1) / s⌋ + 1
    (W_out likewise).

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.conv2d(tm.ones(2, 3, 8, 8), tm.ones(4, 3, 3, 3), padding=1).shape
    (2, 4, 8, 8)
    """
    return _conv("conv2d", 2, Conv2d, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C_in, L) or unbatched (C_in, L):
    y[n, o, l] = b[o] + Σ_c Σ_j w[o, c, j] x[n, c, l·s + j·d − p].

    ``weight`` is (C_out, C_in, k); arguments as :func:`conv2d`, one int each (or a 1-tuple).

    Shape: (N, C_in, L) -> (N, C_out, L_out), L_out = ⌊(L + 2p − d(k − 1) − 1) / s⌋ + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.conv1d(tm.ones(2, 3, 10), tm.ones(4, 3, 3), stride=2).shape
    (2, 4, 4)
    """
    return _conv("conv1d", 1, Conv1d, input, weight, bias, stride, padding, dilation, groups)
