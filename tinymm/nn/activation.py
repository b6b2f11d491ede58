"""Activation modules, ``Softmax`` and ``Dropout`` (thin wrappers of ``tinymm.functional``)."""

from __future__ import annotations

import numbers

from .. import functional as F
from .._validation import check_probability
from .module import Module


class ReLU(Module):
    def forward(self, input):  # noqa: A002
        return F.relu(input)


class GELU(Module):
    """GELU: exact (erf) with ``approximate="none"``, the tanh form with ``"tanh"``."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    def forward(self, input):  # noqa: A002
        return F.tanh(input)


class Sigmoid(Module):
    def forward(self, input):  # noqa: A002
        return F.sigmoid(input)


class Softmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):  # noqa: A002
        return F.log_softmax(input, self.dim)


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_probability("Dropout", "p", p)

    def forward(self, input):  # noqa: A002
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _flag(cls: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{cls}: {name} must be a bool, got {type(value).__name__}")
    return value


def _number(cls: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{cls}: {name} must be a float, got {type(value).__name__} {value!r}")
    return float(value)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope · x. ``inplace`` is accepted (computed out of place)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = _flag("LeakyReLU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x if x > 0 else α (e^x − 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)
        self.inplace = _flag("ELU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """x σ(x)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _flag("SiLU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.silu(input)


class Softplus(Module):
    """log(1 + e^{βx}) / β (x where βx > threshold)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = _number("Softplus", "beta", beta)
        self.threshold = _number("Softplus", "threshold", threshold)
        if self.beta == 0:
            raise ValueError("Softplus: beta must be non-zero, got 0")

    def forward(self, input):  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(Module):
    """x tanh(softplus(x))."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _flag("Mish", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.mish(input)


class Hardtanh(Module):
    """clamp(x, min_val, max_val), no gradient at or beyond the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val = _number("Hardtanh", "min_val", min_val)
        self.max_val = _number("Hardtanh", "max_val", max_val)
        self.inplace = _flag("Hardtanh", "inplace", inplace)
        if self.min_val > self.max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be <= max_val ({max_val})")

    def forward(self, input):  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"
