"""Activation modules, ``Softmax`` and ``Dropout`` (thin wrappers of ``tinymm.functional``)."""

from __future__ import annotations

from .. import functional as F
from .._validation import check_probability
from .module import Module


class ReLU(Module):
    def forward(self, input):  # noqa: A002
        return F.relu(input)


class GELU(Module):
    """Exact (erf) GELU."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate != "none":
            raise ValueError(f"GELU: approximate must be 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):  # noqa: A002
        return F.gelu(input)


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
