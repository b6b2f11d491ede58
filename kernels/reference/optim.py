"""Optimizer update rules (NumPy reference): one in-place step of Adam/AdamW and of SGD.

Both kernels update ``param`` and their state arrays in place and return ``None``. All
arrays share one shape and one float dtype (C-contiguous); the scalar hyper-parameters are
Python floats, converted to the array dtype before they touch an array, so float32 stays
float32. The rules are PyTorch's (``torch.optim.Adam`` / ``AdamW`` / ``SGD``, for-loop
implementation), step for step.

Adam, step t (g: gradient, p: parameter, m, v: first and second moments)::

    g ← -g                        if maximize
    p ← p (1 - lr·λ)              if decoupled (AdamW)     else  g ← g + λ p   (if λ ≠ 0)
    m ← m + (1 - β1)(g - m)                                 (= β1 m + (1 - β1) g)
    v ← β2 v + (1 - β2) g²
    v̂ ← max(v̂, v), use v̂ for v   if amsgrad
    p ← p - (lr / (1 - β1^t)) · m / (√v / √(1 - β2^t) + ε)

SGD (b: momentum buffer, μ: momentum, τ: dampening)::

    g ← -g if maximize;   g ← g + λ p
    b ← g on the first step, else  b ← μ b + (1 - τ) g      (if μ ≠ 0)
    g ← g + μ b if nesterov, else g ← b                     (if μ ≠ 0)
    p ← p - lr g
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["adam_step", "adam_steps", "sgd_step"]


def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
) -> None:
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place.

    ``step`` is the step number t >= 1 counting this one; ``max_exp_avg_sq`` is the
    AMSGrad running maximum (``None`` unless ``amsgrad``). Shapes: all arrays alike.
    """
    dt = param.dtype.type
    g = -grad if maximize else grad  # (...) a new array when negated; grad itself is not written
    if weight_decay != 0:
        if decoupled:
            param *= dt(1.0 - lr * weight_decay)  # AdamW: decay the weights, not the gradient
        else:
            g = g + dt(weight_decay) * param  # L2 penalty folded into the gradient
    exp_avg += dt(1.0 - beta1) * (g - exp_avg)  # first moment, PyTorch's lerp form
    exp_avg_sq *= dt(beta2)
    exp_avg_sq += dt(1.0 - beta2) * g * g  # second moment
    # Bias corrections in Python floats (double precision), as PyTorch computes them.
    step_size = lr / (1.0 - beta1**step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
    second = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = np.sqrt(second) / dt(bias_correction2_sqrt) + dt(eps)  # (...)
    param -= dt(step_size) * exp_avg / denom


def adam_steps(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    exp_avgs: list[np.ndarray],
    exp_avg_sqs: list[np.ndarray],
    max_exp_avg_sqs: list[np.ndarray] | None,
    steps: list[int],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
) -> None:
    """:func:`adam_step` for each parameter of a list (PyTorch's multi-tensor form): entry k
    of every list belongs to parameter k, which takes its own step number ``steps[k]``;
    ``max_exp_avg_sqs`` is ``None`` unless ``amsgrad``. The hyper-parameters are shared."""
    for k in range(len(params)):
        adam_step(params[k], grads[k], exp_avgs[k], exp_avg_sqs[k],
                  max_exp_avg_sqs[k] if amsgrad else None, steps[k], lr, beta1, beta2, eps,
                  weight_decay, decoupled, amsgrad, maximize)


def sgd_step(
    param: np.ndarray,
    grad: np.ndarray,
    momentum_buffer: np.ndarray | None,
    first_step: bool,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """One SGD step, in place; ``momentum_buffer`` is ``None`` when ``momentum == 0``.

    ``first_step`` says the buffer holds nothing yet: it is then set to the gradient
    itself (no dampening), as PyTorch does.
    """
    dt = param.dtype.type
    d = -grad if maximize else grad  # (...) the descent direction being built
    if weight_decay != 0:
        d = d + dt(weight_decay) * param
    if momentum_buffer is not None:
        if first_step:
            momentum_buffer[...] = d
        else:
            momentum_buffer *= dt(momentum)
            momentum_buffer += dt(1.0 - dampening) * d
        d = d + dt(momentum) * momentum_buffer if nesterov else momentum_buffer
    param -= dt(lr) * d
