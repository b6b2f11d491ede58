"""``Conv1d`` and ``Conv2d``: convolution layers with PyTorch's parameters and initialisation."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_alloc, check_positive_int, int_tuple
from ..functional import conv as Fconv
from ..functional.conv_transpose import conv_transpose1d, conv_transpose2d
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
        self.groups = check_positive_int(fn, "groups", groups)
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % self.groups:
                raise ValueError(f"{fn}: {name}={channels} must be divisible by "
                                 f"groups={self.groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{fn}: padding_mode={padding_mode!r} is not supported "
                             "(only 'zeros')")
        self.padding_mode = "zeros"
        dt = np.dtype(dtype or np.float32)
        check_alloc(fn, "weight", self._weight_shape(), dt)
        self.weight = Parameter(np.empty(self._weight_shape(), dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

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
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) -> (N, C_out, L_out).

    ``groups`` splits the channels (weight ``(C_out, C_in / groups, *kernel)``);
    ``padding_mode`` other than "zeros" is not supported.

    >>> import tinymm as tm
    >>> tm.nn.Conv1d(3, 8, 5, padding=2)(tm.randn(4, 3, 20)).shape
    (4, 8, 20)
    """

    dims = 1

    def forward(self, input):  # noqa: A002
        return Fconv.conv1d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) -> (N, C_out, H_out,
    W_out); see :func:`tinymm.functional.conv2d`.

    ``groups`` splits the channels (weight ``(C_out, C_in / groups, *kernel)``);
    ``padding_mode`` other than "zeros" is not supported.

    >>> import tinymm as tm
    >>> tm.nn.Conv2d(3, 16, 3, padding=1)(tm.randn(2, 3, 32, 32)).shape
    (2, 16, 32, 32)
    """

    dims = 2

    def forward(self, input):  # noqa: A002
        return Fconv.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (N, C_in, H, W) -> (N, C_out, H_out, W_out); see
    :func:`tinymm.functional.conv_transpose2d`. Weight ``(C_in, C_out / groups, kH, kW)``
    as PyTorch; ``forward(input, output_size=None)`` may ask for an exact output size
    (it picks ``output_padding``).

    >>> import tinymm as tm
    >>> tm.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)(tm.randn(2, 8, 5, 5)).shape
    (2, 4, 10, 10)
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)
        self.output_padding = int_tuple(type(self).__name__, "output_padding", output_padding,
                                        self.dims)

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)

    def _output_padding(self, input, output_size) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        name, n = type(self).__name__, self.dims
        size = tuple(output_size)[-n:]
        if len(size) != n:
            raise ValueError(f"{name}: output_size must hold {n} spatial sizes, got "
                             f"{output_size!r}")
        smallest = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in zip(
            input.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size))
        extra = tuple(int(o) - m for o, m in zip(size, smallest))
        if any(e < 0 or e >= s for e, s in zip(extra, self.stride)):
            raise ValueError(f"{name}: output_size {size} is not reachable from input "
                             f"{tuple(input.shape[-n:])}: sizes from {smallest} to "
                             f"{tuple(m + s - 1 for m, s in zip(smallest, self.stride))}")
        return extra

    def forward(self, input, output_size=None):  # noqa: A002
        op = conv_transpose2d if self.dims == 2 else conv_transpose1d
        return op(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", output_padding={self.output_padding}"
                    if any(self.output_padding) else "")


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution (N, C_in, L) -> (N, C_out, L_out); weight
    ``(C_in, C_out / groups, k)`` as PyTorch; see :func:`tinymm.functional.conv_transpose1d`.

    >>> import tinymm as tm
    >>> tm.nn.ConvTranspose1d(8, 4, 4, stride=2, padding=1)(tm.randn(2, 8, 5)).shape
    (2, 4, 10)
    """

    dims = 1
