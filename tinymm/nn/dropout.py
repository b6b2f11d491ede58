"""Channel dropout modules ``Dropout1d`` and ``Dropout2d`` (``Dropout`` is in activation.py)."""

from __future__ import annotations

from .. import functional as F
from .._validation import check_probability
from .module import Module


class _ChannelDropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_probability(type(self).__name__, "p", p)
        if not isinstance(inplace, bool):
            raise TypeError(f"{type(self).__name__}: inplace must be a bool, got "
                            f"{type(inplace).__name__}")
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """Zero whole channels of (N, C, L) / (C, L) inputs with probability ``p`` in training
    (:func:`tinymm.functional.dropout1d`); identity in eval mode. Output has the input's shape.

    >>> nn.Dropout1d(0.5).eval()(tm.ones(2, 3, 4)).shape
    (2, 3, 4)
    """

    def forward(self, input):  # noqa: A002
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_ChannelDropout):
    """Zero whole channels of (N, C, H, W) / (C, H, W) inputs with probability ``p`` in training
    (:func:`tinymm.functional.dropout2d`); identity in eval mode. Output has the input's shape.

    >>> nn.Dropout2d(0.5).eval()(tm.ones(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    def forward(self, input):  # noqa: A002
        return F.dropout2d(input, self.p, self.training)
