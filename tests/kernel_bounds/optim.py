"""Rounding-error bounds of one optimizer step (Adam/AdamW, SGD), in place on copies."""

from __future__ import annotations

import numpy as np

from tinymm.testing import tolerance as tol


def _run_reference(kernel, arrays, scalars):
    """The reference kernel's in-place step on exactly widened copies of ``arrays``."""
    wide = [None if a is None else tol.reference_inputs(a).copy() for a in arrays]
    kernel(*wide, *scalars)
    return wide


def adam_step_bound(kernel, arrays, step, lr, beta1, beta2, eps, weight_decay, decoupled,
                    amsgrad, maximize):
    """Reference (param, grad, m, v, v_max) after one Adam/AdamW step, and their bounds.

    First order, every hyper-parameter rounded to the dtype (one u each), A = |·|:
    g' = g + λp: e_g <= 2u(|g| + λ|p|); AdamW p' = p·(1 − lr·λ): e_p' <= 2u|p|;
    m = m + (1−β1)(g' − m): e_m <= 4u(|m| + (1−β1)(|g'| + |m|)) + (1−β1) e_g;
    v = β2 v + (1−β2) g'²: e_v <= 5u(β2 v + (1−β2) g'²) + 2(1−β2)|g'| e_g (amsgrad's max
    is 1-Lipschitz); d = √v̂ / c2 + ε: e_d <= min(e_v / (2√v̂), √e_v) / c2 + 4u·d;
    s = lr/c1 · m / d: e_s <= |s| (3u + e_d / d) + lr/c1 · e_m / d;
    p = p' − s: e_p <= e_p' + e_s + u|p|.
    """
    param, grad, m0, v0, vmax0 = arrays
    u = tol.unit_roundoff(param.dtype)
    wide = _run_reference(kernel, arrays, (step, lr, beta1, beta2, eps, weight_decay,
                                           decoupled, amsgrad, maximize))
    p, _, m, v, vmax = wide
    p0, g = tol.reference_inputs(param, grad)
    m_prev, v_prev = tol.reference_inputs(m0, v0)
    lam = weight_decay
    if decoupled or lam == 0:
        gp, e_g = np.abs(g), 0.0
        e_pd = 2 * u * np.abs(p0) if (decoupled and lam) else 0.0
    else:
        gp = np.abs(g) + lam * np.abs(p0)
        e_g, e_pd = 2 * u * gp, 0.0
    e_m = 4 * u * (np.abs(m_prev) + (1 - beta1) * (gp + np.abs(m_prev))) + (1 - beta1) * e_g
    e_v = 5 * u * (beta2 * np.abs(v_prev) + (1 - beta2) * gp * gp) + 2 * (1 - beta2) * gp * e_g
    second = vmax if amsgrad else v
    c1, c2 = 1 - beta1 ** step, np.sqrt(1 - beta2 ** step)
    root = np.sqrt(second)
    with np.errstate(divide="ignore", invalid="ignore"):
        e_root = np.where(root > 0, np.minimum(e_v / (2 * root), np.sqrt(e_v)), np.sqrt(e_v))
    d = root / c2 + eps
    e_d = e_root / c2 + 4 * u * d
    s = lr / c1 * m / d
    e_s = np.abs(s) * (3 * u + e_d / d) + lr / c1 * e_m / d
    e_p = e_pd + e_s + u * np.abs(p)
    bounds = [tol.SAFETY * e_p, np.zeros_like(e_p), tol.SAFETY * e_m, tol.SAFETY * e_v,
              None if vmax0 is None else tol.SAFETY * e_v]
    return wide, bounds


def sgd_step_bound(kernel, arrays, first_step, lr, momentum, dampening, weight_decay, nesterov,
                   maximize):
    """Reference (param, grad, buffer) after one SGD step, and their bounds (first order):

    d = g + λp: e_d <= 2u(|g| + λ|p|); b = d on the first step, else b = μb + (1−τ)d:
    e_b <= 4u(μ|b| + (1−τ)|d|) + (1−τ) e_d; nesterov d' = d + μb: e_d' <= e_d + μ e_b +
    3u(|d| + μ|b|), else d' = b; p = p − lr·d': e_p <= lr·e_d' + 2u·lr|d'| + u|p|.
    """
    param, grad, buf0 = arrays
    u = tol.unit_roundoff(param.dtype)
    wide = _run_reference(kernel, arrays, (first_step, lr, momentum, dampening, weight_decay,
                                           nesterov, maximize))
    p, _, buf = wide
    p0, g = tol.reference_inputs(param, grad)
    dmag = np.abs(g) + weight_decay * np.abs(p0)
    e_d = 2 * u * dmag
    if buf0 is None:
        e_b, step_mag, e_step = None, dmag, e_d
    else:
        if first_step:
            e_b = e_d
        else:
            b_prev = np.abs(tol.reference_inputs(buf0))
            e_b = 4 * u * (momentum * b_prev + (1 - dampening) * dmag) + (1 - dampening) * e_d
        if nesterov:
            step_mag = dmag + momentum * np.abs(buf)
            e_step = e_d + momentum * e_b + 3 * u * step_mag
        else:
            step_mag, e_step = np.abs(buf), e_b
    e_p = lr * e_step + 2 * u * lr * step_mag + u * np.abs(p)
    bounds = [tol.SAFETY * e_p, np.zeros_like(e_p), None if e_b is None else tol.SAFETY * e_b]
    return wide, bounds
