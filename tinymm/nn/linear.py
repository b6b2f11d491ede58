"""``Linear``, ``Bilinear``, ``Identity``, ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .._validation import (
    as_tensor_arg,
    check_alloc,
    check_int,
    check_positive_int,
    normalize_dim,
)
from ..functional.bilinear import bilinear
from . import init
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (accepts and ignores constructor arguments, as PyTorch).

    >>> x = tm.ones(2)
    >>> nn.Identity(54, unused="argument")(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Linear(Module):
    """y = x Wᵀ + b with ``weight`` (out_features, in_features) and ``bias`` (out_features,).

    Initialised as PyTorch: W ~ kaiming_uniform(a=√5), i.e. U(±1/√in), b ~ U(±1/√in).
    Input (*, in_features) -> (*, out_features).

    >>> layer = nn.Linear(3, 4)
    >>> layer(tm.ones(2, 3)).shape, layer.weight.shape, layer.bias.shape
    ((2, 4), (4, 3), (4,))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = check_positive_int("Linear", "in_features", in_features)
        self.out_features = check_positive_int("Linear", "out_features", out_features)
        dt = np.dtype(dtype or np.float32)
        check_alloc("Linear", "weight", (out_features, in_features), dt)
        self.weight = Parameter(np.empty((out_features, in_features), dt))
        self.bias = Parameter(np.empty(out_features, dt)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):  # noqa: A002
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim).

    Input (N, d1, d2, ...) -> (N, d1·d2·...).

    >>> nn.Flatten()(tm.ones(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = check_int("Flatten", "start_dim", start_dim)
        self.end_dim = check_int("Flatten", "end_dim", end_dim)

    def forward(self, input):  # noqa: A002
        return as_tensor_arg("Flatten", "input", input).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Bilinear(Module):
    """y = x1ᵀ W x2 + b: ``weight`` (out_features, in1_features, in2_features), ``bias``
    (out_features,); both ~ U(±1/√in1_features) as PyTorch.

    >>> import tinymm as tm
    >>> Bilinear(3, 4, 2)(tm.randn(5, 3), tm.randn(5, 4)).shape
    (5, 2)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, dtype=None):
        super().__init__()
        self.in1_features = check_positive_int("Bilinear", "in1_features", in1_features)
        self.in2_features = check_positive_int("Bilinear", "in2_features", in2_features)
        self.out_features = check_positive_int("Bilinear", "out_features", out_features)
        dt = np.dtype(dtype or np.float32)
        check_alloc("Bilinear", "weight", (out_features, in1_features, in2_features), dt)
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (whose product must equal its size).

    >>> import tinymm as tm
    >>> Unflatten(1, (2, 3))(tm.zeros(4, 6, 5)).shape
    (4, 2, 3, 5)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = check_int("Unflatten", "dim", dim)
        if not isinstance(unflattened_size, (tuple, list)) or not unflattened_size:
            raise TypeError(f"Unflatten: unflattened_size must be a non-empty tuple of ints, "
                            f"got {unflattened_size!r}")
        self.unflattened_size = tuple(check_int("Unflatten", "unflattened_size", s)
                                      for s in unflattened_size)

    def forward(self, input):  # noqa: A002
        input = as_tensor_arg("Unflatten", "input", input)  # noqa: A001
        d = normalize_dim("Unflatten", self.dim, input.ndim)
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if (-1 not in sizes and known != input.shape[d]) or (
                -1 in sizes and (known == 0 or input.shape[d] % known)):
            raise ValueError(f"Unflatten: unflattened_size {sizes} does not match size "
                             f"{input.shape[d]} of dim {self.dim} (input shape {input.shape})")
        return input.reshape(*input.shape[:d], *sizes, *input.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
