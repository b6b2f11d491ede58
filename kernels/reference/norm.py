"""Layer normalisation kernels: NumPy reference twins (see kernels/__init__.py).

Over each row x of the input viewed as ``(R, D)`` (D = the product of ``normalized_shape``)::

    μ = mean(x),  σ² = mean((x − μ)²)  (biased, as PyTorch),  rstd = 1 / √(σ² + eps)
    x̂ = (x − μ) · rstd,  y = x̂ ⊙ γ + β        (γ = weight, β = bias, both optional, (D,))

Backward, with g = dy ⊙ γ (g = dy without weight)::

    dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  dγ = Σ_rows dy ⊙ x̂,  dβ = Σ_rows dy

``mean`` and ``rstd`` are ``(R,)`` arrays in the input's dtype, saved by forward for backward.
"""

from __future__ import annotations

import numpy as np

__all__ = ["layer_norm_forward", "layer_norm_backward"]


def layer_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = (x − μ) / √(σ² + eps) ⊙ γ + β over rows of x (R, D); returns ``(y, μ, rstd)``."""
    mean = x.mean(axis=1)  # (R, D) -> (R,)
    centred = x - mean[:, None]  # (R, D)
    var = (centred * centred).mean(axis=1)  # (R,), biased
    rstd = 1.0 / np.sqrt(var + eps)  # (R,)
    y = centred * rstd[:, None]  # x̂, (R, D)
    if weight is not None:
        y = y * weight  # (R, D) ⊙ (D,)
    if bias is not None:
        y = y + bias  # (R, D) + (D,)
    return y, mean, rstd.astype(x.dtype, copy=False)


def layer_norm_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray | None,
    mean: np.ndarray,
    rstd: np.ndarray,
    need_weight_grad: bool,
    need_bias_grad: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(dx, dγ, dβ)`` for rows of x (R, D); dγ / dβ are None unless asked for."""
    xhat = (x - mean[:, None]) * rstd[:, None]  # (R, D)
    g = grad_output if weight is None else grad_output * weight  # dL/dx̂, (R, D)
    g_mean = g.mean(axis=1, keepdims=True)  # (R, 1)
    gx_mean = (g * xhat).mean(axis=1, keepdims=True)  # (R, 1)
    grad_x = rstd[:, None] * (g - g_mean - xhat * gx_mean)  # (R, D)
    grad_weight = (grad_output * xhat).sum(axis=0) if need_weight_grad else None  # (D,)
    grad_bias = grad_output.sum(axis=0) if need_bias_grad else None  # (D,)
    return grad_x, grad_weight, grad_bias
