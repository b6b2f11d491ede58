"""``conv_transpose2d``: the transposed ("fractionally strided") convolution, one autograd op.

It is the adjoint of ``conv2d`` with the same weight: each input pixel scatters its kernel
onto the output. For x (N, C_in, H, W), weight (C_in, C_out/G, kH, kW) (PyTorch's layout)::

    y[n, g·C_out/G + o, i·s + u·d − p, j·s + v·d − p] += x[n, g·C_in/G + c, i, j] · w[g·C_in/G + c, o, u, v]

    H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1

So its forward is conv2d's input gradient, and its backward is conv2d's forward (for ∂L/∂x)
and conv2d's weight gradient (for ∂L/∂w): the same kernels (``conv2d_*`` and, for groups,
``conv2d_grouped_*``), read the other way round.
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
from ..tensor import Tensor

__all__ = ["conv_transpose2d", "conv_transpose1d"]


def _conv_backward(grad_y, x, weight, stride, padding, dilation, groups, needs):
    if groups == 1:
        return kernels.get("conv2d_backward")(grad_y, x, weight, stride, padding, dilation,
                                              needs)
    return kernels.get("conv2d_grouped_backward")(grad_y, x, weight, stride, padding, dilation,
                                                  groups, needs)


def _conv_forward(x, weight, stride, padding, dilation, groups):
    if groups == 1:
        return kernels.get("conv2d_forward")(x, weight, None, stride, padding, dilation)
    return kernels.get("conv2d_grouped_forward")(x, weight, None, stride, padding, dilation,
                                                 groups)


class ConvTranspose2dFn(Function):
    """y = conv2dᵀ(x; w) + b, with conv2d's kernels (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, out_hw):
        x = np.ascontiguousarray(x)
        weight = np.ascontiguousarray(weight)
        N = x.shape[0]
        c_out = weight.shape[1] * groups
        # the conv whose input gradient this is reads an (N, C_out, H_out, W_out) input; only
        # its shape matters here (no weight gradient is asked for)
        shape_only = np.empty((N, c_out, *out_hw), x.dtype)
        y, _, _ = _conv_backward(x, shape_only, weight, stride, padding, dilation, groups,
                                 (True, False, False))
        if bias is not None:
            y += bias[:, None, None]
        ctx.save_for_backward(x, weight)
        ctx.args = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.args
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_y = np.ascontiguousarray(grad_y, dtype=x.dtype)
        gx = _conv_forward(grad_y, weight, stride, padding, dilation, groups) if need_x else None
        gw = None
        if need_w:  # ∂L/∂w[c, o, u, v] = Σ x[n, c, i, j] · g_pad[n, o, i·s + u·d, j·s + v·d]
            _, gw, _ = _conv_backward(x, grad_y, weight, stride, padding, dilation, groups,
                                      (False, True, False))
        gb = grad_y.sum(axis=(0, 2, 3)).astype(x.dtype) if need_b and ctx.has_bias else None
        return gx, gw, gb, None, None, None, None, None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution over (N, C_in, H, W) or unbatched (C_in, H, W): the gradient
    of :func:`conv2d` with respect to its input, used as a layer (each input pixel scatters a
    weighted kernel into the output).

    ``weight`` (C_in, C_out / groups, kH, kW), ``bias`` (C_out,) or None; ``stride``,
    ``padding``, ``output_padding`` and ``dilation`` are ints or pairs. ``output_padding``
    (added on the bottom/right of the output) must be smaller than ``stride``.

    Shape: (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.conv_transpose2d(tm.ones(2, 4, 5, 5), tm.ones(4, 3, 3, 3), stride=2).shape
    (2, 3, 11, 11)
    """
    fn = "conv_transpose2d"
    x = as_tensor_arg(fn, "input", input)
    w = as_tensor_arg(fn, "weight", weight)
    check_float(fn, "input", x)
    check_float(fn, "weight", w)
    check_ndim(fn, "input", x, (3, 4))
    check_ndim(fn, "weight", w, 4)
    groups = check_positive_int(fn, "groups", groups)
    c_in = x.shape[-3]
    if c_in != w.shape[0]:
        raise ValueError(f"{fn}: input has {c_in} channels but weight expects {w.shape[0]} "
                         f"(weight shape {tuple(w.shape)} is (C_in, C_out / groups, kH, kW))")
    if c_in % groups:
        raise ValueError(f"{fn}: in_channels={c_in} must be divisible by groups={groups}")
    c_out = w.shape[1] * groups
    if bias is not None:
        bias = as_tensor_arg(fn, "bias", bias)
        if bias.shape != (c_out,):
            raise ValueError(f"{fn}: bias must have shape ({c_out},) (C_out), got "
                             f"{tuple(bias.shape)}")
    check_same_dtype(fn, input=x, weight=w, bias=bias)
    stride = int_tuple(fn, "stride", stride, 2, minimum=1)
    padding = int_tuple(fn, "padding", padding, 2, minimum=0)
    dilation = int_tuple(fn, "dilation", dilation, 2, minimum=1)
    output_padding = int_tuple(fn, "output_padding", output_padding, 2, minimum=0)
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"{fn}: output_padding {output_padding} must be smaller than stride "
                         f"{stride}")
    out_hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                   zip(x.shape[-2:], stride, padding, dilation, w.shape[2:], output_padding))
    if min(out_hw) < 1:
        raise ValueError(f"{fn}: the output would be {out_hw} for input {tuple(x.shape[-2:])}, "
                         f"kernel {tuple(w.shape[2:])}, stride {stride}, padding {padding}")
    check_alloc(fn, "the output", (*x.shape[:-3], c_out, *out_hw), x.dtype)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.reshape(1, *x.shape)
    y = ConvTranspose2dFn.apply(x.contiguous(), w.contiguous(), bias, stride, padding,
                                dilation, groups, out_hw)
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution over (N, C_in, L) or unbatched (C_in, L), weight
    (C_in, C_out / groups, k). Runs as :func:`conv_transpose2d` on a height-1 image.

    Shape: (N, C_in, L) -> (N, C_out, L_out), L_out = (L − 1)·s − 2p + d·(k − 1) + output_padding + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.conv_transpose1d(tm.ones(2, 4, 5), tm.ones(4, 3, 3), stride=2).shape
    (2, 3, 11)
    """
    fn = "conv_transpose1d"
    x = as_tensor_arg(fn, "input", input)
    w = as_tensor_arg(fn, "weight", weight)
    check_ndim(fn, "input", x, (2, 3))
    check_ndim(fn, "weight", w, 3)

    def one(name, value):
        return (1 if name in ("stride", "dilation") else 0, *int_tuple(fn, name, value, 1))

    try:
        y = conv_transpose2d(x.unsqueeze(-2), w.unsqueeze(-2), bias, one("stride", stride),
                             one("padding", padding), one("output_padding", output_padding),
                             groups, one("dilation", dilation))
    except (ValueError, TypeError) as exc:  # name this function, not the 2-D one it runs
        raise type(exc)(str(exc).replace("conv_transpose2d", fn, 1)) from None
    return y.squeeze(-2)
