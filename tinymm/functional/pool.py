"""Pooling: ``max_pool1d``, ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``.

The seed's max pooling ``o(i,j) = max_p x(i-p+1, j-p+1)`` over windows of (kH, kW) taken
every ``stride`` pixels of the input padded by ``padding`` (−inf for max, 0 for average;
at most half the kernel, as PyTorch). Output sizes use PyTorch's floor rule::

    H_out = ⌊(H + 2p − kH) / s⌋ + 1

Max pooling routes each output's gradient to the element it took (ties: the first maximum
in row-major window order, as PyTorch's CPU kernels). Average pooling divides by kH·kW
(``count_include_pad=True``). Adaptive average pooling uses PyTorch's bins
[⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉). Inputs may be batched (N, C, ...) or unbatched (C, ...).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_alloc, check_float, check_ndim, int_tuple
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class _MaxPoolNd(Function):
    """Outputs (pooled values, argmax as flat indices into each input plane)."""

    dims = 2

    @classmethod
    def forward(cls, ctx, x, kernel_size, stride, padding):
        x = np.ascontiguousarray(x)
        out, argmax = kernels.get(f"max_pool{cls.dims}d_forward")(x, kernel_size, stride, padding)
        ctx.save_for_backward(argmax)
        ctx.x_shape, ctx.dtype = x.shape, x.dtype
        return out, argmax

    @classmethod
    def backward(cls, ctx, grad_out, _grad_argmax):
        (argmax,) = ctx.saved_tensors
        if grad_out.size == 0:  # an empty batch or channel set: nothing to scatter
            return np.zeros(ctx.x_shape, ctx.dtype), None, None, None
        grad_out = np.ascontiguousarray(grad_out, dtype=ctx.dtype)
        gx = kernels.get(f"max_pool{cls.dims}d_backward")(grad_out, argmax, ctx.x_shape)
        return gx, None, None, None


class MaxPool1d(_MaxPoolNd):
    dims = 1


class MaxPool2d(_MaxPoolNd):
    dims = 2


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        x = np.ascontiguousarray(x)
        ctx.args = (x.shape, kernel_size, stride, padding)
        ctx.dtype = x.dtype
        return kernels.get("avg_pool2d_forward")(x, kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        grad_out = np.ascontiguousarray(grad_out, dtype=ctx.dtype)
        gx = kernels.get("avg_pool2d_backward")(grad_out, *ctx.args)
        return gx, None, None, None


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        x = np.ascontiguousarray(x)
        ctx.x_shape, ctx.dtype = x.shape, x.dtype
        return kernels.get("adaptive_avg_pool2d_forward")(x, output_size)

    @staticmethod
    def backward(ctx, grad_out):
        grad_out = np.ascontiguousarray(grad_out, dtype=ctx.dtype)
        gx = kernels.get("adaptive_avg_pool2d_backward")(grad_out, ctx.x_shape)
        return gx, None


# ------------------------------------------------------------------------------- validation
def _check_input(fn: str, input, dims: int) -> Tensor:  # noqa: A002
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    check_ndim(fn, "input", x, (dims + 1, dims + 2))
    return x


def _window_args(fn: str, x: Tensor, dims: int, kernel_size, stride, padding):
    """(kernel, stride, padding) as dims-tuples, checked against PyTorch's rules."""
    kernel = int_tuple(fn, "kernel_size", kernel_size, dims, minimum=1)
    stride = kernel if stride is None else int_tuple(fn, "stride", stride, dims, minimum=1)
    padding = int_tuple(fn, "padding", padding, dims, minimum=0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{fn}: padding {padding} must be at most half of kernel_size "
                         f"{kernel}")
    spatial = tuple(x.shape[-dims:])
    padded = tuple(n + 2 * p for n, p in zip(spatial, padding))
    if any(k > n for k, n in zip(kernel, padded)):
        raise ValueError(f"{fn}: kernel_size {kernel} is larger than the padded input "
                         f"{padded} (input {spatial}, padding {padding})")
    # the windows read the padded input (its size bounds the work, too)
    check_alloc(fn, "the padded input", (*x.shape[:-dims], *padded), x.dtype)
    return kernel, stride, padding


def _unsupported(fn: str, dims: int, dilation=1, **options) -> None:
    """Reject PyTorch options tinymm does not implement, naming the option."""
    if any(d != 1 for d in int_tuple(fn, "dilation", dilation, dims, minimum=1)):
        raise ValueError(f"{fn}: dilation={dilation!r} is not supported (only 1)")
    defaults = {"ceil_mode": False, "count_include_pad": True, "divisor_override": None}
    for name, value in options.items():
        if value is not defaults[name] and value != defaults[name]:
            raise ValueError(f"{fn}: {name}={value!r} is not supported "
                             f"(only {defaults[name]!r})")


def _batched(x: Tensor, dims: int) -> tuple[Tensor, bool]:
    unbatched = x.ndim == dims + 1
    return (x.reshape(1, *x.shape) if unbatched else x), unbatched


def _unbatch(t: Tensor, unbatched: bool) -> Tensor:
    return t.reshape(*t.shape[1:]) if unbatched else t


# ------------------------------------------------------------------------------- public API
def _max_pool(fn, dims, op, input, kernel_size, stride, padding, dilation, ceil_mode,  # noqa: A002
              return_indices):
    x = _check_input(fn, input, dims)
    _unsupported(fn, dims, dilation, ceil_mode=ceil_mode)
    args = _window_args(fn, x, dims, kernel_size, stride, padding)
    xb, unbatched = _batched(x, dims)
    if dims == 2 and not return_indices and not (is_grad_enabled() and x.requires_grad):
        # nothing to back-propagate: values only, no argmax computed or stored (as PyTorch)
        out = kernels.get("max_pool2d_values")(np.ascontiguousarray(xb.data), *args)
        return _unbatch(Tensor._wrap(out), unbatched)
    out, argmax = op.apply(xb, *args)
    out, argmax = _unbatch(out, unbatched), _unbatch(argmax, unbatched)
    return (out, argmax) if return_indices else out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over (kH, kW) windows of (N, C, H, W) or (C, H, W); ``stride`` defaults to the
    kernel size. With ``return_indices=True`` also returns PyTorch's indices (flat h·W + w
    positions in each input plane, int64). ``dilation`` and ``ceil_mode`` must be defaults.
    The gradient flows only to each window's maximum.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), H_out = ⌊(H + 2p − kH) / s⌋ + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.max_pool2d(tm.randn(2, 3, 7, 6), 2).shape
    (2, 3, 3, 3)
    """
    return _max_pool("max_pool2d", 2, MaxPool2d, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of length k of (N, C, L) or (C, L); as :func:`max_pool2d`.

    Shape: (N, C, L) -> (N, C, L_out), L_out = ⌊(L + 2p − k) / s⌋ + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.max_pool1d(tm.randn(2, 3, 9), 3, stride=2, padding=1).shape
    (2, 3, 5)
    """
    return _max_pool("max_pool1d", 1, MaxPool1d, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over (kH, kW) windows of (N, C, H, W) or (C, H, W), zero padding counted in the
    divisor (PyTorch's default ``count_include_pad=True``; other options are not supported).

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), H_out = ⌊(H + 2p − kH) / s⌋ + 1.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.avg_pool2d(tm.ones(1, 1, 4, 4), 2).shape
    (1, 1, 2, 2)
    """
    fn = "avg_pool2d"
    x = _check_input(fn, input, 2)
    _unsupported(fn, 2, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 divisor_override=divisor_override)
    args = _window_args(fn, x, 2, kernel_size, stride, padding)
    xb, unbatched = _batched(x, 2)
    return _unbatch(AvgPool2d.apply(xb, *args), unbatched)


def adaptive_avg_pool2d(input, output_size) -> Tensor:  # noqa: A002
    """Average (N, C, H, W) or (C, H, W) down (or up) to ``output_size`` = int or
    (H_out, W_out); a ``None`` entry keeps that input size. Bin i of H rows is
    [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉), as PyTorch.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out).

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.adaptive_avg_pool2d(tm.randn(2, 3, 7, 5), (2, None)).shape
    (2, 3, 2, 5)
    """
    fn = "adaptive_avg_pool2d"
    x = _check_input(fn, input, 2)
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise TypeError(f"{fn}: output_size must be an int or a pair (None keeps the input "
                        f"size), got {output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, x.shape[-2:]))
    out_size = int_tuple(fn, "output_size", sizes, 2, minimum=1)
    check_alloc(fn, "the output", (*x.shape[:-2], *out_size), x.dtype)
    xb, unbatched = _batched(x, 2)
    return _unbatch(AdaptiveAvgPool2d.apply(xb, out_size), unbatched)
