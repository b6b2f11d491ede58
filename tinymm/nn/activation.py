"""Activation modules, ``Softmax`` and ``Dropout`` (thin wrappers of ``tinymm.functional``)."""

from __future__ import annotations

import numbers

from .. import functional as F
from .._validation import check_probability
from .module import Module


class ReLU(Module):
    """y = max(x, 0) elementwise (:func:`tinymm.functional.relu`). Input (*) -> output (*).

    >>> nn.ReLU()(tm.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    def forward(self, input):  # noqa: A002
        return F.relu(input)


class GELU(Module):
    """GELU: exact x Φ(x) (erf) with ``approximate="none"``, the tanh form with ``"tanh"``
    (:func:`tinymm.functional.gelu`). Input (*) -> output (*).

    >>> round(nn.GELU()(tm.tensor([1.0])).item(), 4)
    0.8413
    """

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
    """y = tanh(x) elementwise. Input (*) -> output (*).

    >>> nn.Tanh()(tm.tensor([0.0])).tolist()
    [0.0]
    """
    def forward(self, input):  # noqa: A002
        return F.tanh(input)


class Sigmoid(Module):
    """y = 1 / (1 + e^{−x}) elementwise. Input (*) -> output (*).

    >>> nn.Sigmoid()(tm.tensor([0.0])).tolist()
    [0.5]
    """
    def forward(self, input):  # noqa: A002
        return F.sigmoid(input)


class Softmax(Module):
    """softmax along ``dim`` (:func:`tinymm.functional.softmax`); each slice sums to 1.
    Input (*) -> output (*).

    >>> [round(v, 4) for v in nn.Softmax(dim=-1)(tm.tensor([0.0, 0.0])).tolist()]
    [0.5, 0.5]
    """
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax along ``dim`` (:func:`tinymm.functional.log_softmax`). Input (*) -> output (*).

    >>> [round(v, 4) for v in nn.LogSoftmax(dim=-1)(tm.tensor([0.0, 0.0])).tolist()]
    [-0.6931, -0.6931]
    """
    def forward(self, input):  # noqa: A002
        return F.log_softmax(input, self.dim)


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode (the rest scaled by 1/(1 − p));
    identity in eval mode. Input (*) -> output (*).

    >>> drop = nn.Dropout(0.5)
    >>> drop.eval()(tm.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

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
    """y = x if x > 0 else negative_slope · x. ``inplace`` is accepted (computed out of place).
    Input (*) -> output (*).

    >>> nn.LeakyReLU(0.5)(tm.tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = _flag("LeakyReLU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """y = x if x > 0 else α (e^x − 1). Input (*) -> output (*).

    >>> [round(v, 4) for v in nn.ELU()(tm.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)
        self.inplace = _flag("ELU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """y = x σ(x). Input (*) -> output (*).

    >>> round(nn.SiLU()(tm.tensor([1.0])).item(), 4)
    0.7311
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _flag("SiLU", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.silu(input)


class Softplus(Module):
    """y = log(1 + e^{βx}) / β (x where βx > threshold). Input (*) -> output (*).

    >>> round(nn.Softplus()(tm.tensor([0.0])).item(), 4)
    0.6931
    """

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
    """y = x tanh(softplus(x)). Input (*) -> output (*).

    >>> round(nn.Mish()(tm.tensor([1.0])).item(), 4)
    0.8651
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = _flag("Mish", "inplace", inplace)

    def forward(self, input):  # noqa: A002
        return F.mish(input)


class Hardtanh(Module):
    """y = clamp(x, min_val, max_val), no gradient at or beyond the bounds. Input (*) -> output (*).

    >>> nn.Hardtanh()(tm.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """

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
