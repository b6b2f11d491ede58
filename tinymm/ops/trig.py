"""Trigonometric ops: ``sin`` and ``cos`` (e.g. the sinusoidal positional encoding of the
Transformer tutorial). d sin(x)/dx = cos(x), d cos(x)/dx = −sin(x)."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .elementwise import _unary

__all__ = ["sin", "cos"]


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * np.sin(a)


_sin = _unary(Sin, "sin")
_cos = _unary(Cos, "cos")


def sin(input):  # noqa: A002
    """y = sin x elementwise (x in radians); dy/dx = cos x.

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.sin(tm.tensor([0.0, np.pi / 2])).tolist()]
    [0.0, 1.0]
    """
    return _sin(input)


def cos(input):  # noqa: A002
    """y = cos x elementwise (x in radians); dy/dx = −sin x.

    Shape: any -> the same shape.

    >>> [round(v, 4) for v in tm.cos(tm.tensor([0.0, np.pi])).tolist()]
    [1.0, -1.0]
    """
    return _cos(input)
