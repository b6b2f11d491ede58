"""Rounding-error bounds of layer norm, forward and backward."""

from __future__ import annotations

import numpy as np

from tinymm.testing import tolerance as tol


def layer_norm_forward_bound(x, weight, bias, eps):
    """Reference (y, μ, rstd) of row layer norm and their bounds (two-pass variance).

    With A = mean|x|, c = x − μ, first order:
    e_μ <= γ_{D+1} A;  e_c <= e_μ + u(|x| + |μ|);  e_var <= γ_{D+2} var + 2 mean(|c| e_c);
    rstd = (var + ε)^(-1/2): e_rstd <= rstd (e_var / (2(var + ε)) + 3u);
    x̂ = c·rstd: e_x̂ <= rstd e_c + |c| e_rstd + u|x̂|;  y = x̂γ + β: e_y <= |γ| e_x̂ + 2u(|x̂γ| + |β|).
    The |μ| in e_c is the conditioning of rows far from 0 (float32 rows at −1000 lose ~10
    bits in x − μ): the bound grows with it instead of the test avoiding such rows.
    """
    u, d = tol.unit_roundoff(x.dtype), x.shape[1]
    x64 = tol.reference_inputs(x)
    w = np.ones(d, x64.dtype) if weight is None else tol.reference_inputs(weight)
    b = np.zeros(d, x64.dtype) if bias is None else tol.reference_inputs(bias)
    mean = x64.mean(axis=1, keepdims=True)
    c = x64 - mean
    var = (c * c).mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = c * rstd
    y = xhat * w + b
    e_mu = tol.gamma(d + 1, x.dtype) * np.abs(x64).mean(axis=1, keepdims=True)
    e_c = e_mu + u * (np.abs(x64) + np.abs(mean))
    e_var = tol.gamma(d + 2, x.dtype) * var + 2 * (np.abs(c) * e_c).mean(axis=1, keepdims=True)
    e_rstd = rstd * (e_var / (2 * (var + eps)) + 3 * u)
    e_xhat = rstd * e_c + np.abs(c) * e_rstd + u * np.abs(xhat)
    e_y = np.abs(w) * e_xhat + 2 * u * (np.abs(xhat * w) + np.abs(b))
    s = tol.SAFETY
    return (y, mean[:, 0], rstd[:, 0]), (s * e_y, s * e_mu[:, 0], s * e_rstd[:, 0])


def layer_norm_backward_bound(gy, x, weight, mean, rstd, need_weight, need_bias):
    """Reference (dx, dγ, dβ) of layer-norm backward, given the forward's μ and rstd, and bounds.

    g = dy ⊙ γ, x̂ = (x − μ) rstd, a = mean(g), c = mean(g x̂), first order:
    e_x̂ <= 2u|x̂|, e_g <= u|g|, e_a <= γ_{D+2} mean|g|, e_c <= (γ_{D+2} + 3u) mean|g x̂|;
    dx = rstd (g − a − x̂ c): e_dx <= rstd (e_g + e_a + |x̂| e_c + |c| e_x̂ + 4u T) + u|dx|,
    T = |g| + |a| + |x̂ c|;  dγ = Σ_rows dy x̂: (γ_{R+1} + 3u) Σ|dy x̂|;  dβ = Σ dy: γ_R Σ|dy|.
    """
    u, (r, d) = tol.unit_roundoff(x.dtype), x.shape
    gy64, x64, mu, rs = tol.reference_inputs(gy, x, mean, rstd)
    w = np.ones(d, x64.dtype) if weight is None else tol.reference_inputs(weight)
    mu, rs = mu[:, None], rs[:, None]
    xhat = (x64 - mu) * rs
    g = gy64 * w
    a = g.mean(axis=1, keepdims=True)
    c = (g * xhat).mean(axis=1, keepdims=True)
    dx = rs * (g - a - xhat * c)
    e_xhat, e_g = 2 * u * np.abs(xhat), u * np.abs(g)
    e_a = tol.gamma(d + 2, x.dtype) * np.abs(g).mean(axis=1, keepdims=True)
    e_c = (tol.gamma(d + 2, x.dtype) + 3 * u) * np.abs(g * xhat).mean(axis=1, keepdims=True)
    t = np.abs(g) + np.abs(a) + np.abs(xhat * c)
    e_dx = rs * (e_g + e_a + np.abs(xhat) * e_c + np.abs(c) * e_xhat + 4 * u * t) + u * np.abs(dx)
    refs, bounds = [dx], [tol.SAFETY * e_dx]
    if need_weight:
        refs.append((gy64 * xhat).sum(axis=0))
        bounds.append(tol.SAFETY * (tol.gamma(r + 1, x.dtype) + 3 * u)
                      * np.abs(gy64 * xhat).sum(axis=0))
    if need_bias:
        refs.append(gy64.sum(axis=0))
        bounds.append(tol.SAFETY * tol.gamma(r, x.dtype) * np.abs(gy64).sum(axis=0))
    return refs, bounds
