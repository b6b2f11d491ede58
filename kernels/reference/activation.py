"""activation kernels: NumPy reference twins (see kernels/__init__.py).

ReLU, ``y = max(x, 0)``, and its gradient ``g · [x > 0]``, written as a selection (as
PyTorch's threshold backward) so an infinite ``g`` where ``x <= 0`` gives 0, not ``inf · 0``.
A NaN input stays NaN forward and passes no gradient back.
"""

from __future__ import annotations

import numpy as np

__all__ = ["relu_forward", "relu_backward"]


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise, same shape and dtype."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad where x > 0, else 0 (x is the forward's input)."""
    return np.where(x > 0, grad, grad.dtype.type(0))
