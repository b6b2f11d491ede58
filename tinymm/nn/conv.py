"""``Conv1d`` and ``Conv2d``: convolution layers with PyTorch's parameters and initialisation."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_alloc, check_positive_int, int_tuple
from ..functional import conv as Fconv
from . import init
from .module import Module
from .parameter import Parameter


class _ConvNd(Module):
    """Shared constructor: ``weight`` (out_channels, in_channels, *kernel_size), ``bias``
    (out_channels,) or None, initialised as PyTorch (kaiming_uniform(a=√5), i.e.
    U(±1/√fan_in), and bias U(±1/√fan_in) with fan_in = in_channels·∏kernel_size)."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None):
        super().__init__()
        fn, n = type(self).__name__, self.dims
        self.in_channels = check_positive_int(fn, "in_channels", in_channels)
        self.out_channels = check_positive_int(fn, "out_channels", out_channels)
        self.kernel_size = int_tuple(fn, "kernel_size", kernel_size, n, minimum=1)
        self.stride = int_tuple(fn, "stride", stride, n, minimum=1)
        self.dilation = int_tuple(fn, "dilation", dilation, n, minimum=1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{fn}: padding must be an int, a tuple of {n} ints, 'valid' "
                                 f"or 'same', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{fn}: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")
            self.padding = padding
        else:
            self.padding = int_tuple(fn, "padding", padding, n, minimum=0)
        if isinstance(groups, bool) or groups != 1:
            raise ValueError(f"{fn}: groups={groups!r} is not supported (only groups=1)")
        if padding_mode != "zeros":
            raise ValueError(f"{fn}: padding_mode={padding_mode!r} is not supported "
                             "(only 'zeros')")
        self.groups, self.padding_mode = 1, "zeros"
        dt = np.dtype(dtype or np.float32)
        check_alloc(fn, "weight", (out_channels, in_channels, *self.kernel_size), dt)
        self.weight = Parameter(np.empty((out_channels, in_channels, *self.kernel_size), dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) -> (N, C_out, L_out).

    ``groups`` (other than 1) and ``padding_mode`` (other than "zeros") are not supported.

    >>> import tinymm as tm
    >>> tm.nn.Conv1d(3, 8, 5, padding=2)(tm.randn(4, 3, 20)).shape
    (4, 8, 20)
    """

    dims = 1

    def forward(self, input):  # noqa: A002
        return Fconv.conv1d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) -> (N, C_out, H_out,
    W_out); see :func:`tinymm.functional.conv2d`.

    ``groups`` (other than 1) and ``padding_mode`` (other than "zeros") are not supported.

    >>> import tinymm as tm
    >>> tm.nn.Conv2d(3, 16, 3, padding=1)(tm.randn(2, 3, 32, 32)).shape
    (2, 16, 32, 32)
    """

    dims = 2

    def forward(self, input):  # noqa: A002
        return Fconv.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation)
