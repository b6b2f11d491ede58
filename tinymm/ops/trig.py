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


sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
