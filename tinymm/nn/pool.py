"""Pooling layers: ``MaxPool1d``, ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``."""

from __future__ import annotations

from .._validation import int_tuple
from ..functional import pool as Fpool
from .module import Module


def _check_window(fn: str, dims: int, kernel_size, stride, padding) -> None:
    """PyTorch's constructor-time rules: positive kernel/stride, padding <= kernel / 2."""
    kernel = int_tuple(fn, "kernel_size", kernel_size, dims, minimum=1)
    if stride is not None:
        int_tuple(fn, "stride", stride, dims, minimum=1)
    pads = int_tuple(fn, "padding", padding, dims, minimum=0)
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise ValueError(f"{fn}: padding {pads} must be at most half of kernel_size {kernel}")


class _MaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        fn = type(self).__name__
        _check_window(fn, self.dims, kernel_size, stride, padding)
        Fpool._unsupported(fn, self.dims, dilation, ceil_mode=ceil_mode)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride  # PyTorch keeps the value given
        self.padding = padding
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of length ``kernel_size`` of (N, C, L) or (C, L); ``stride`` defaults
    to the kernel size; padding (−inf) at most half the kernel. ``return_indices=True``
    also returns the flat argmax positions.

    >>> import tinymm as tm
    >>> tm.nn.MaxPool1d(2)(tm.randn(4, 3, 9)).shape
    (4, 3, 4)
    """

    dims = 1

    def forward(self, input):  # noqa: A002
        return Fpool.max_pool1d(input, self.kernel_size, self.stride, self.padding,
                                return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over (kH, kW) windows of (N, C, H, W) or (C, H, W): the seed's
    ``o(i,j) = max_p x(i-p+1, j-p+1)``. Ties go to the first maximum in row-major order.

    >>> import tinymm as tm
    >>> tm.nn.MaxPool2d(2)(tm.randn(2, 8, 32, 32)).shape
    (2, 8, 16, 16)
    """

    dims = 2

    def forward(self, input):  # noqa: A002
        return Fpool.max_pool2d(input, self.kernel_size, self.stride, self.padding,
                                return_indices=self.return_indices)


class AvgPool2d(Module):
    """Mean over (kH, kW) windows, zero padding counted (``count_include_pad=True``; other
    values of ``ceil_mode``, ``count_include_pad`` and ``divisor_override`` are not supported).

    >>> import tinymm as tm
    >>> tm.nn.AvgPool2d(3, stride=1, padding=1)(tm.randn(2, 4, 5, 5)).shape
    (2, 4, 5, 5)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        _check_window("AvgPool2d", 2, kernel_size, stride, padding)
        Fpool._unsupported("AvgPool2d", 2, ceil_mode=ceil_mode,
                           count_include_pad=count_include_pad,
                           divisor_override=divisor_override)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):  # noqa: A002
        return Fpool.avg_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average to a fixed ``output_size`` (int or pair; ``None`` keeps that input size)
    whatever the input size, with PyTorch's bins [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉).

    >>> import tinymm as tm
    >>> tm.nn.AdaptiveAvgPool2d(1)(tm.randn(2, 64, 7, 9)).shape
    (2, 64, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        if len(sizes) != 2:
            raise TypeError("AdaptiveAvgPool2d: output_size must be an int or a pair (None "
                            f"keeps the input size), got {output_size!r}")
        int_tuple("AdaptiveAvgPool2d", "output_size", tuple(1 if s is None else s for s in sizes),
                  2, minimum=1)
        self.output_size = output_size

    def forward(self, input):  # noqa: A002
        return Fpool.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
