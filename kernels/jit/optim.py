"""Optimizer updates as Numba kernels: one fused pass over each parameter.

Same signatures and maths as ``kernels/reference/optim.py``. PyTorch's for-loop Adam makes
about eight passes over memory per parameter (lerp, mul, addcmul, sqrt, div, add,
addcdiv, ...); here each element is read once, updated in registers and written once, and
the loop vectorises (AVX). Scalars arrive as the array dtype (computed in Python floats
first), so a float32 update never touches float64. A conditional store stops the
vectorisation (measured 4-5x slower), so AMSGrad and SGD with momentum have their own
loops; the other options are selects on loop-invariant scalars.

Threads: ``adam_steps`` lays all of an optimizer's parameters end to end and cuts that range
over Numba's thread count once, with plain Python threads (``nogil`` loops,
kernels/jit/threads.py); a step smaller than ``2 * ADAM_MIN_CHUNK`` elements runs in one call.
Not ``prange``: the update is memory-bound, ``prange`` gained at most ~1.6x on 6 M parameters
(3.5 vs 5.6 ms) and, when other processes load the cores, an OpenMP launch per parameter cost
10-100x more than the work (measured 150-250 ms per Adam step against 6-14 ms serial); here
one step pays one hand-off.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .threads import split_run

__all__ = ["adam_step", "adam_steps", "sgd_step"]

# Elements per thread below which Adam runs serially. Far below threads.MIN_CHUNK: on a quiet
# 2-core AMD EPYC (Zen 4) two threads ran the seed model's 6.1 M-parameter step in 2.8 ms
# against 4.1-4.5 ms on one (kernels/jit/threads.py explains why other loops stay serial).
ADAM_MIN_CHUNK = 1 << 17


@njit(inline="always", error_model="numpy")
def _adam_moments(i, p, g, m, v, maximize, decay, l2, one_minus_beta1, beta2, one_minus_beta2):
    """Update m[i], v[i]; return the (decayed) parameter value and the new moments."""
    gi = -g[i] if maximize else g[i]
    pi = p[i] * decay  # decay is 1 unless AdamW's decoupled weight decay is on
    if l2 != 0:  # Adam's coupled weight decay: an L2 penalty folded into the gradient
        gi = gi + l2 * pi
    mi = m[i] + one_minus_beta1 * (gi - m[i])  # PyTorch's lerp form of β1 m + (1 - β1) g
    vi = beta2 * v[i] + one_minus_beta2 * gi * gi
    m[i] = mi
    v[i] = vi
    return pi, mi, vi


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_loop(p, g, m, v, maximize, decay, l2, one_minus_beta1, beta2, one_minus_beta2,
               step_size, bias_correction2_sqrt, eps):
    # 1-D arrays of one length; every scalar has the arrays' dtype.
    for i in range(p.shape[0]):
        pi, mi, vi = _adam_moments(i, p, g, m, v, maximize, decay, l2, one_minus_beta1, beta2,
                                   one_minus_beta2)
        p[i] = pi - step_size * mi / (math.sqrt(vi) / bias_correction2_sqrt + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_amsgrad_loop(p, g, m, v, vmax, maximize, decay, l2, one_minus_beta1, beta2,
                       one_minus_beta2, step_size, bias_correction2_sqrt, eps):
    for i in range(p.shape[0]):
        pi, mi, vi = _adam_moments(i, p, g, m, v, maximize, decay, l2, one_minus_beta1, beta2,
                                   one_minus_beta2)
        vi = max(vmax[i], vi)  # stored unconditionally: keeps the loop vectorised
        vmax[i] = vi
        p[i] = pi - step_size * mi / (math.sqrt(vi) / bias_correction2_sqrt + eps)


def _adam_task(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
               weight_decay, decoupled, amsgrad, maximize):
    """One parameter's loop, flat arrays and scalars (in the arrays' dtype)."""
    dt = param.dtype.type
    decay = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    arrays = (param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1))
    scalars = (bool(maximize), dt(decay), dt(l2), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2),
               dt(lr / (1.0 - beta1**step)), dt(math.sqrt(1.0 - beta2**step)), dt(eps))
    if amsgrad:
        arrays += (max_exp_avg_sq.reshape(-1),)
    return (_adam_amsgrad_loop if amsgrad else _adam_loop), arrays, scalars


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize) -> None:
    """One Adam/AdamW step in place (see the reference twin for the equations)."""
    adam_steps([param], [grad], [exp_avg], [exp_avg_sq],
               [max_exp_avg_sq] if amsgrad else None, [step], lr, beta1, beta2, eps,
               weight_decay, decoupled, amsgrad, maximize)


def adam_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2,
               eps, weight_decay, decoupled, amsgrad, maximize) -> None:
    """``adam_step`` over lists of parameters in one call (see the reference twin).

    The parameters are laid end to end as one index range ``[0, total)``, cut over Numba's
    thread count once: each thread runs the pieces of the parameters that fall in its share.
    Splitting each big parameter on its own cost a thread hand-off per parameter and left the
    small ones serial (measured on the seed model's 15 parameters, 6.1 M elements, 2 threads,
    AMD EPYC: 3.1 ms per step split per parameter, 2.8 ms split once).
    """
    tasks = [_adam_task(params[k], grads[k], exp_avgs[k], exp_avg_sqs[k],
                        max_exp_avg_sqs[k] if amsgrad else None, steps[k], lr, beta1, beta2,
                        eps, weight_decay, decoupled, amsgrad, maximize)
             for k in range(len(params))]
    starts = [0]
    for _, arrays, _ in tasks:
        starts.append(starts[-1] + arrays[0].shape[0])
    total = starts[-1]

    def work(lo: int, hi: int) -> None:
        for k, (loop, arrays, scalars) in enumerate(tasks):
            a, b = max(lo, starts[k]), min(hi, starts[k + 1])
            if a < b:
                a, b = a - starts[k], b - starts[k]
                loop(*(x[a:b] for x in arrays), *scalars)

    split_run(work, total, total, ADAM_MIN_CHUNK)


@njit(cache=True, error_model="numpy")
def _sgd_loop(p, g, maximize, lr, weight_decay):
    for i in range(p.shape[0]):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0:
            d = d + weight_decay * p[i]
        p[i] = p[i] - lr * d


@njit(cache=True, error_model="numpy")
def _sgd_momentum_loop(p, g, buf, first_step, nesterov, maximize, lr, momentum,
                       one_minus_dampening, weight_decay):
    for i in range(p.shape[0]):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0:
            d = d + weight_decay * p[i]
        b = d if first_step else momentum * buf[i] + one_minus_dampening * d
        buf[i] = b
        d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d


def sgd_step(param, grad, momentum_buffer, first_step, lr, momentum, dampening, weight_decay,
             nesterov, maximize) -> None:
    """One SGD step in place (see the reference twin for the equations)."""
    dt = param.dtype.type
    p, g = param.reshape(-1), grad.reshape(-1)
    if momentum_buffer is None:
        _sgd_loop(p, g, bool(maximize), dt(lr), dt(weight_decay))
    else:
        _sgd_momentum_loop(p, g, momentum_buffer.reshape(-1), bool(first_step), bool(nesterov),
                           bool(maximize), dt(lr), dt(momentum), dt(1.0 - dampening),
                           dt(weight_decay))


def warmup() -> None:
    """Compile (or load from cache) every loop for float32 and float64."""
    for dtype in (np.float32, np.float64):
        p, g = np.ones(3, dtype), np.full(3, 0.5, dtype)
        m, v, vmax = np.zeros(3, dtype), np.zeros(3, dtype), np.zeros(3, dtype)
        for amsgrad in (False, True):
            adam_step(p, g, m, v, vmax, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, amsgrad, False)
        for buf in (None, np.zeros(3, dtype)):
            sgd_step(p, g, buf, True, 1e-3, 0.9, 0.0, 0.0, False, False)
