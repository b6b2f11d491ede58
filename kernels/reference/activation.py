"""activation kernels: NumPy reference twins (see kernels/__init__.py).

Every activation is elementwise: ``*_forward(x, ...)`` returns y = f(x) and
``*_backward(grad, x, ...)`` returns grad · f'(x), both of x's shape and dtype.
Derivatives at kinks follow PyTorch: ReLU and LeakyReLU take the x <= 0 branch at 0, ELU
the x <= 0 branch (α e^x), Hardtanh passes no gradient at its bounds.

ReLU is written as a selection (as PyTorch's threshold backward) so an infinite ``g`` where
``x <= 0`` gives 0, not ``inf · 0``. A NaN input stays NaN forward.
"""

from __future__ import annotations

import math

import numpy as np

# scipy.special is imported in the functions that use it: importing it takes ~0.13 s,
# a third of `import tinymm`'s time.

__all__ = [
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "elu_forward", "elu_backward",
    "silu_forward", "silu_backward",
    "softplus_forward", "softplus_backward",
    "mish_forward", "mish_backward",
    "hardtanh_forward", "hardtanh_backward",
    "gelu_tanh_forward", "gelu_tanh_backward",
]

# GELU's tanh approximation: u = √(2/π) (x + κ x³)
GELU_K = math.sqrt(2.0 / math.pi)
GELU_KAPPA = 0.044715


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise, same shape and dtype."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad where x > 0, else 0 (x is the forward's input)."""
    return np.where(x > 0, grad, grad.dtype.type(0))


def leaky_relu_forward(x: np.ndarray, negative_slope: float) -> np.ndarray:
    """x if x > 0 else negative_slope · x."""
    return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)


def leaky_relu_backward(grad: np.ndarray, x: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(x > 0, grad, grad * negative_slope).astype(x.dtype, copy=False)


def elu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    """x if x > 0 else α (e^x − 1) (expm1: exact near 0)."""
    neg = alpha * np.expm1(np.minimum(x, 0))  # min: no overflow in the branch not taken
    return np.where(x > 0, x, neg).astype(x.dtype, copy=False)


def elu_backward(grad: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """grad if x > 0 else grad · α e^x."""
    return np.where(x > 0, grad, grad * alpha * np.exp(np.minimum(x, 0))).astype(x.dtype,
                                                                                  copy=False)


def silu_forward(x: np.ndarray) -> np.ndarray:
    """x σ(x) (σ never overflows: scipy's expit)."""
    from scipy import special
    return x * special.expit(x)


def silu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad · σ(x) (1 + x (1 − σ(x)))."""
    from scipy import special
    s = special.expit(x)
    return grad * s * (1 + x * (1 - s))


def softplus_forward(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """log(1 + e^{βx}) / β, or x where βx > threshold (as PyTorch, for stability)."""
    z = x * beta
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta).astype(x.dtype, copy=False)


def softplus_backward(grad: np.ndarray, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """grad · σ(βx), or grad where βx > threshold."""
    from scipy import special
    z = x * beta
    return np.where(z > threshold, grad, grad * special.expit(z)).astype(x.dtype, copy=False)


def mish_forward(x: np.ndarray) -> np.ndarray:
    """x tanh(softplus(x)), softplus(x) = log(1 + e^x) computed as logaddexp(0, x)."""
    return x * np.tanh(np.logaddexp(0, x))


def mish_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad · (t + x σ(x) (1 − t²)) with t = tanh(softplus(x))."""
    from scipy import special
    t = np.tanh(np.logaddexp(0, x))
    return grad * (t + x * special.expit(x) * (1 - t * t))


def hardtanh_forward(x: np.ndarray, min_val: float, max_val: float) -> np.ndarray:
    """clip(x, min_val, max_val) (NaN stays NaN)."""
    return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)


def hardtanh_backward(grad: np.ndarray, x: np.ndarray, min_val: float, max_val: float) -> np.ndarray:
    """grad where min_val < x < max_val (strictly, as PyTorch), else 0."""
    return np.where((x > min_val) & (x < max_val), grad, grad.dtype.type(0))


def gelu_tanh_forward(x: np.ndarray) -> np.ndarray:
    """GELU's tanh form, x/2 (1 + tanh u), u = √(2/π)(x + 0.044715 x³), as x σ(2u).

    1 + tanh u = 2 σ(2u) exactly; the σ form does not cancel for negative x.
    """
    from scipy import special
    u = GELU_K * (x + GELU_KAPPA * x * x * x)
    return x * special.expit(2 * u)


def gelu_tanh_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad · (σ(2u) + 2 x σ(2u)(1 − σ(2u)) · √(2/π)(1 + 3κ x²))."""
    from scipy import special
    u = GELU_K * (x + GELU_KAPPA * x * x * x)
    s = special.expit(2 * u)
    du = GELU_K * (1 + 3 * GELU_KAPPA * x * x)
    return grad * (s + 2 * x * s * (1 - s) * du)
