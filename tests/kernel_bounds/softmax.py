"""Rounding-error bounds of the softmax family (softmax, log-softmax, cross-entropy)."""

from __future__ import annotations

import numpy as np

from tinymm.testing import tolerance as tol

KE = 2 * tol.TRANSCENDENTAL_ULPS  # relative error of exp / log, in units of u


def check_twins(name: str, outputs: dict, reference64, bound) -> None:
    """Assert every backend's output (``{"numba": a, "numpy": b}``) is within ``bound``."""
    for backend, out in outputs.items():
        tol.assert_close_to_reference(out, reference64, bound, name=f"{name} ({backend})")


def _finite_product(a, b):
    """a·b with 0·inf = 0 (a probability 0 times an infinite magnitude contributes nothing)."""
    with np.errstate(invalid="ignore"):
        return np.where(a == 0, 0.0, a * b)


def softmax_stats(x, dtype=None) -> dict:
    """Float64 reference quantities of row softmax over the last axis of ``x`` (N, C).

    ``x`` is the kernel's input, or (with ``dtype``, the kernel's dtype) an intermediate
    already in the reference precision.
    """
    if dtype is None:
        dtype, x64 = x.dtype, tol.reference_inputs(x)
    else:
        x64 = x
    c = x64.shape[1]
    u = tol.unit_roundoff(dtype)
    tiny = float(np.finfo(dtype).tiny)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = x64.max(axis=1, keepdims=True)
        d = x64 - m
        e = np.exp(d)
        s = e.sum(axis=1, keepdims=True)
        p = e / s
        lse = np.log(s)
        logp = d - lse
        # the intermediates an implementation rounds before/after exp: x - m, m + L, x - m - L
        t = np.abs(x64) + np.abs(m) + np.abs(lse)
        t_bar = _finite_product(p, t).sum(axis=1, keepdims=True)
        # relative error of the row sum S: its additions, the errors of its terms, underflow
        rho = tol.gamma(max(c - 1, 0), dtype) + u * (KE + t_bar) + c * tiny / s
    return dict(dtype=dtype, u=u, tiny=tiny, p=p, logp=logp, lse=lse, t=t, rho=rho, c=c)


def softmax_forward_bound(x):
    """softmax(x) = e/S, e = exp(x - m): |err p_c| <= p_c (u(T_c + KE + 2) + ρ) + tiny.

    T_c = |x_c| + |m| + |L| bounds every rounded intermediate of the exponent (its
    rounding is a relative error u·T_c of exp's result); +2: the division, possibly done
    as a reciprocal and a product; ρ: the relative error of S (γ_{C-1}, plus the p-weighted
    errors of its terms); tiny: exp's underflow to 0 / subnormals.
    """
    s = softmax_stats(x)
    u = s["u"]
    with np.errstate(invalid="ignore"):
        raw = _finite_product(s["p"], u * (s["t"] + KE + 2) + s["rho"]) + s["tiny"]
    return s["p"], tol.SAFETY * raw


def _log_softmax_raw(s):
    """|err logp_c| <= u(T_c + |logp_c|) + ρ + KE·u·|L| (first order, without SAFETY)."""
    u = s["u"]
    with np.errstate(invalid="ignore"):
        return u * (s["t"] + np.abs(s["logp"])) + s["rho"] + KE * u * np.abs(s["lse"])


def log_softmax_forward_bound(x):
    """log_softmax(x) = (x - m) - log S; see :func:`_log_softmax_raw`."""
    s = softmax_stats(x)
    return s["logp"], tol.SAFETY * _log_softmax_raw(s)


def softmax_backward_bound(y, g):
    """dx = y ⊙ (g − s), s = Σ g·y: |err| <= |y| γ_C Σ|g·y| + 2u|y|(|g| + |s|)."""
    y64, g64 = tol.reference_inputs(y, g)
    u, c = tol.unit_roundoff(y.dtype), y.shape[1]
    s = (g64 * y64).sum(axis=1, keepdims=True)
    dx = y64 * (g64 - s)
    raw = (np.abs(y64) * tol.gamma(c, y.dtype) * np.abs(g64 * y64).sum(axis=1, keepdims=True)
           + 2 * u * np.abs(y64) * (np.abs(g64) + np.abs(s)))
    return dx, tol.SAFETY * raw


def log_softmax_backward_bound(y, g):
    """dx = g − p·Σg, p = exp(y): |err| <= p γ_{C-1} Σ|g| + (KE+2)u·p|Σg| + u|g| + tiny|Σg|."""
    y64, g64 = tol.reference_inputs(y, g)
    u, c = tol.unit_roundoff(y.dtype), y.shape[1]
    tiny = float(np.finfo(y.dtype).tiny)
    p = np.exp(y64)
    sg = g64.sum(axis=1, keepdims=True)
    dx = g64 - p * sg
    raw = (p * tol.gamma(max(c - 1, 0), y.dtype) * np.abs(g64).sum(axis=1, keepdims=True)
           + (KE + 2) * u * p * np.abs(sg) + u * np.abs(g64) + tiny * np.abs(sg))
    return dx, tol.SAFETY * raw


def cross_entropy_forward_bound(x, target, eps: float, ignore_index: int):
    """loss = −(1−ε) logp_t − (ε/C) Σ_c logp_c, 0 for ignored rows (exactly).

    |err loss| <= (1−ε) R_t + (ε/C)(Σ_c R_c + γ_{C-1} Σ|logp_c|) + 3u(|(1−ε) logp_t| +
    |(ε/C) Σ logp|), R the log-softmax bound; returns (loss, loss bound, logp, logp bound).
    """
    s = softmax_stats(x)
    u, c, logp = s["u"], s["c"], s["logp"]
    r = _log_softmax_raw(s)
    n = x.shape[0]
    keep = target != ignore_index
    safe_t = np.where(keep, target, 0)
    rows = np.arange(n)
    picked, r_t = logp[rows, safe_t], r[rows, safe_t]
    loss = -(1 - eps) * picked
    raw = (1 - eps) * r_t + 3 * u * np.abs(loss)
    if eps != 0:
        total = logp.sum(axis=1)
        loss = loss - (eps / c) * total
        raw = raw + (eps / c) * (r.sum(axis=1) + tol.gamma(max(c - 1, 0), x.dtype)
                                 * np.abs(logp).sum(axis=1) + 3 * u * np.abs(total))
    loss = np.where(keep, loss, 0.0)
    raw = np.where(keep, raw, 0.0)
    return loss, tol.SAFETY * raw, logp, tol.SAFETY * r


def cross_entropy_backward_bound(logp, target, eps: float, ignore_index: int, grad_rows):
    """dx_c = (p_c − ε/C − (1−ε)[c = t]) g, 0 for ignored rows (exactly).

    |err| <= |g| u (p_c (KE+2) + 2ε/C + 3(1−ε)[c = t]) + 2u|dx_c| + tiny·|g|.
    """
    lp64, g64 = tol.reference_inputs(logp, grad_rows)
    u, (n, c) = tol.unit_roundoff(logp.dtype), logp.shape
    tiny = float(np.finfo(logp.dtype).tiny)
    keep = target != ignore_index
    p = np.exp(lp64)
    onehot = np.zeros((n, c), lp64.dtype)
    onehot[np.arange(n)[keep], target[keep]] = 1.0
    dx = (p - eps / c - (1 - eps) * onehot) * np.where(keep, g64, 0)[:, None]
    ag = np.abs(g64)[:, None]
    raw = ag * (u * (p * (KE + 2) + 2 * eps / c + 3 * (1 - eps) * onehot) + tiny) + 2 * u * np.abs(dx)
    return dx, tol.SAFETY * np.where(keep[:, None], raw, 0.0)
