"""``Linear``, ``Identity`` and ``Flatten``."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .._validation import as_tensor_arg, check_alloc, check_int, check_positive_int
from . import init
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (accepts and ignores constructor arguments, as PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Linear(Module):
    """y = x Wᵀ + b with ``weight`` (out_features, in_features) and ``bias`` (out_features,).

    Initialised as PyTorch: W ~ kaiming_uniform(a=√5), i.e. U(±1/√in), b ~ U(±1/√in).
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
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = check_int("Flatten", "start_dim", start_dim)
        self.end_dim = check_int("Flatten", "end_dim", end_dim)

    def forward(self, input):  # noqa: A002
        return as_tensor_arg("Flatten", "input", input).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
