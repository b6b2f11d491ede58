"""Layer and batch normalisation kernels: NumPy reference twins (see kernels/__init__.py).

Over each row x of the input viewed as ``(R, D)`` (D = the product of ``normalized_shape``)::

    μ = mean(x),  σ² = mean((x − μ)²)  (biased, as PyTorch),  rstd = 1 / √(σ² + eps)
    x̂ = (x − μ) · rstd,  y = x̂ ⊙ γ + β        (γ = weight, β = bias, both optional, (D,))

Backward, with g = dy ⊙ γ (g = dy without weight)::

    dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  dγ = Σ_rows dy ⊙ x̂,  dβ = Σ_rows dy

``mean`` and ``rstd`` are ``(R,)`` arrays in the input's dtype, saved by forward for backward.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
]


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


# ----------------------------------------------------------------------------- batch norm
def batch_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
    mean: np.ndarray | None, var: np.ndarray | None, eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation of x viewed as (N, C, L) per channel c; returns ``(y, μ, σ², rstd)``.

    With ``mean``/``var`` None the batch statistics are used (training)::

        μ_c = mean_{n,l} x[n, c, l],  σ²_c = mean_{n,l} (x[n, c, l] − μ_c)²   (biased)

    otherwise the given (running) ``mean`` and ``var`` (C,). Then, per channel::

        rstd_c = 1 / √(σ²_c + eps),  y = (x − μ_c) · rstd_c · γ_c + β_c

    ``μ``, ``σ²`` and ``rstd`` are (C,) arrays in x's dtype (the caller updates running
    statistics from the biased σ² and keeps μ, rstd for backward).
    """
    if mean is None:
        mean = x.mean(axis=(0, 2))  # (N, C, L) -> (C,)
        centred = x - mean[None, :, None]  # (N, C, L)
        var = (centred * centred).mean(axis=(0, 2))  # (C,), biased
    else:
        centred = x - mean[None, :, None]
    rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)  # (C,)
    y = centred * rstd[None, :, None]  # x̂, (N, C, L)
    if weight is not None:
        y = y * weight[None, :, None]
    if bias is not None:
        y = y + bias[None, :, None]
    return (y.astype(x.dtype, copy=False), mean.astype(x.dtype, copy=False),
            var.astype(x.dtype, copy=False), rstd)


def batch_norm_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray,
    rstd: np.ndarray, batch_stats: bool, need_weight_grad: bool, need_bias_grad: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(dx, dγ, dβ)`` for x viewed as (N, C, L); dγ / dβ are None unless asked for.

    With M = N·L values per channel, x̂ = (x − μ) · rstd and g = dy · γ::

        batch statistics (training):  dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))
        given statistics (eval):      dx = rstd · g      (μ, σ² are constants)
        dγ_c = Σ_{n,l} dy · x̂,  dβ_c = Σ_{n,l} dy
    """
    xhat = (x - mean[None, :, None]) * rstd[None, :, None]  # (N, C, L)
    g = grad_output if weight is None else grad_output * weight[None, :, None]
    if batch_stats:
        g_mean = g.mean(axis=(0, 2), keepdims=True)  # (1, C, 1)
        gx_mean = (g * xhat).mean(axis=(0, 2), keepdims=True)  # (1, C, 1)
        grad_x = rstd[None, :, None] * (g - g_mean - xhat * gx_mean)
    else:
        grad_x = rstd[None, :, None] * g
    grad_weight = (grad_output * xhat).sum(axis=(0, 2)) if need_weight_grad else None  # (C,)
    grad_bias = grad_output.sum(axis=(0, 2)) if need_bias_grad else None  # (C,)
    return grad_x.astype(x.dtype, copy=False), grad_weight, grad_bias
