"""Rounding-error bounds of the composite kernels (softmax family), for the kernel tests.

Each function takes the kernel's inputs (the float32/float64 arrays the kernel saw) and
returns the float64 reference and the componentwise error bound, derived to first order
with ``tinymm.testing.tolerance``'s rules (u = unit roundoff, γ_n = nu/(1-nu), exp and log
charged ``TRANSCENDENTAL_ULPS``), then multiplied by ``SAFETY``. Kernels whose outputs are
sums of products use ``tolerance.multilinear_bound`` directly in their tests.

:func:`check_twins` holds the Numba and the NumPy twin to the same bound against the same
float64 reference.
"""

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


# ------------------------------------------------------------------ optimizer steps
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


# ------------------------------------------------------------------ layer norm
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


# ------------------------------------------------------------------ attention
def _mm(a, b):
    return np.matmul(a, np.swapaxes(b, -1, -2))


def attention_forward_bound(q, k, v, scale, mask, causal, drop, reference):
    """Bounds of (O, P) of attention, given the wide ``reference`` (O, P) of the same inputs.

    s = QKᵀ·scale + M: e_s <= γ_{E+2}(|scale| |Q||K|ᵀ + |M|);  P = softmax(s): the softmax's
    own rounding (:func:`softmax_forward_bound`'s terms) plus its Jacobian applied to e_s,
    |ΔP_c| <= P_c (e_s,c + Σ_k P_k e_s,k);  W = P ⊙ D: e_W <= |D| e_P + u|W|;
    O = W V: e_O <= γ_S |W||V| + e_W |V|. Masked entries (P = 0) and fully masked rows are
    exact (bound 0).
    """
    dtype = q.dtype
    u, e_dim, s_len = tol.unit_roundoff(dtype), q.shape[-1], k.shape[-2]
    q64, k64, v64 = tol.reference_inputs(q, k, v)
    out_ref, p = reference
    scores = _mm(q64, k64) * scale
    mag = abs(scale) * _mm(np.abs(q64), np.abs(k64))
    if mask is not None:
        m64 = tol.reference_inputs(mask)
        scores = scores + m64
        mag = mag + np.abs(m64)
    if causal:
        keep = np.tril(np.ones(scores.shape[-2:], bool))
        scores = np.where(keep, scores, -np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        p_flat = p.reshape(-1, p.shape[-1])
        e_s = np.broadcast_to(tol.gamma(e_dim + 2, dtype) * mag, p.shape).reshape(p_flat.shape)
        st = softmax_stats(np.broadcast_to(scores, p.shape).reshape(p_flat.shape), dtype)
        own = _finite_product(p_flat, u * (st["t"] + KE + 2) + st["rho"]) + st["tiny"]
        e_sf = np.where(p_flat > 0, e_s, 0.0)
        prop = p_flat * (e_sf + (p_flat * e_sf).sum(axis=1, keepdims=True))
        e_p = np.nan_to_num((own + prop).reshape(p.shape), nan=0.0, posinf=0.0)
        e_p = np.where(p > 0, e_p, 0.0)
    d = np.ones_like(p) if drop is None else tol.reference_inputs(drop)
    w = p * d
    e_w = np.abs(d) * e_p + u * np.abs(w)
    e_o = tol.gamma(s_len, dtype) * np.matmul(np.abs(w), np.abs(v64)) + np.matmul(e_w, np.abs(v64))
    return tol.SAFETY * e_o, tol.SAFETY * e_p


def attention_backward_bound(go, q, k, v, probs, scale, drop, gw):
    """Reference (dQ, dK, dV) of attention backward on the same inputs, and their bounds.

    W = P ⊙ D: e_W <= u|W|;  dV = Wᵀ dO: γ_L |W|ᵀ|dO| + e_Wᵀ|dO|;
    dW = dO Vᵀ + G: e <= γ_{Ev+1}(|dO||V|ᵀ + |G|);  dP = dW ⊙ D: e_dP <= |D| e_dW + u|dP|;
    r = Σ dP P: e_r <= γ_S Σ|dP P| + Σ P e_dP;
    dS = P (dP − r) scale: e_dS <= |scale| P (e_dP + e_r + 3u(|dP| + |r|));
    dQ = dS K: γ_S |dS||K| + e_dS |K|;  dK = dSᵀ Q: γ_L |dS|ᵀ|Q| + e_dSᵀ |Q|.
    """
    dtype = q.dtype
    u, (L, e_v), s_len = tol.unit_roundoff(dtype), go.shape[-2:], k.shape[-2]
    go64, q64, k64, v64, p = tol.reference_inputs(go, q, k, v, probs)
    from tinymm.kernels.reference import attention as ref

    d64 = None if drop is None else tol.reference_inputs(drop)
    g64 = None if gw is None else tol.reference_inputs(gw)
    grads = ref.attention_backward(go64, q64, k64, v64, p, scale, d64, g64)
    d = np.ones_like(p) if d64 is None else d64
    w = p * d
    e_w = u * np.abs(w)
    t = np.swapaxes
    e_dv = tol.gamma(L, dtype) * np.matmul(t(np.abs(w), -1, -2), np.abs(go64)) \
        + np.matmul(t(e_w, -1, -2), np.abs(go64))
    dw_mag = _mm(np.abs(go64), np.abs(v64)) + (0 if g64 is None else np.abs(g64))
    dwt = _mm(go64, v64) + (0 if g64 is None else g64)
    e_dw = tol.gamma(e_v + 1, dtype) * dw_mag
    dp = dwt * d
    e_dp = np.abs(d) * e_dw + u * np.abs(dp)
    r = (dp * p).sum(axis=-1, keepdims=True)
    e_r = tol.gamma(s_len, dtype) * np.abs(dp * p).sum(axis=-1, keepdims=True) \
        + (p * e_dp).sum(axis=-1, keepdims=True)
    ds = p * (dp - r) * scale
    e_ds = abs(scale) * p * (e_dp + e_r + 3 * u * (np.abs(dp) + np.abs(r)))
    e_dq = tol.gamma(s_len, dtype) * np.matmul(np.abs(ds), np.abs(k64)) + np.matmul(e_ds, np.abs(k64))
    e_dk = tol.gamma(L, dtype) * np.matmul(t(np.abs(ds), -1, -2), np.abs(q64)) \
        + np.matmul(t(e_ds, -1, -2), np.abs(q64))
    return grads, tuple(tol.SAFETY * e for e in (e_dq, e_dk, e_dv))


# ------------------------------------------------------------------ recurrent forward
def recurrent_forward_bound(kind, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """Reference forward outputs of a recurrent kernel (wide precision) and their bounds.

    ``kind``: "rnn_tanh", "rnn_relu", "lstm" or "gru". Returns (reference tuple, bound tuple)
    in the kernel's output order: rnn (y, h_n); lstm (y, h_n, c_n, gates, c); gru (y, h_n,
    gates, hn). First order, step by step, with e(·) the error carried into a step:
    pre-activation a = W_ih x + b_ih + W_hh h + b_hh: γ_{I+H+3}(|W_ih||x| + |b| + |W_hh||h|)
    + |W_hh| e(h); σ (computed as (tanh(a/2) + 1)/2): σ(1−σ) e(a) + (KE+3)u;
    tanh: (1 − t²) e(a) + KE·u|t|; relu: e(a) (1-Lipschitz); LSTM c = f c' + i g:
    |f| e(c') + |c'| e(f) + |g| e(i) + |i| e(g) + 3u(|f c'| + |i g|), h = o tanh(c);
    GRU n = tanh(a_n + r·(W_hn h + b_hn)), h = (1 − z) n + z h' with the same rules.
    The bound follows the recurrence, so it grows with T as the true error can.
    """
    from tinymm.kernels.reference import recurrent as ref

    dtype = x.dtype
    u = tol.unit_roundoff(dtype)
    x64, h064, wi, wh = tol.reference_inputs(x, h0, w_ih, w_hh)
    bi = None if b_ih is None else tol.reference_inputs(b_ih)
    bh = None if b_hh is None else tol.reference_inputs(b_hh)
    big = x64.shape[2] + wh.shape[1] + 3
    ab = lambda b: 0.0 if b is None else np.abs(b)  # noqa: E731
    sig_err = (KE + 3) * u

    def mm(a, w):
        return a @ w.T

    steps = ref.time_steps(x.shape[0], reverse)
    if kind.startswith("rnn"):
        nl = kind[4:]
        y, h_n = ref.rnn_forward(x64, h064, wi, wh, bi, bh, nl, reverse)
        e_y = np.zeros_like(y)
        h_prev, e_h = h064, np.zeros_like(h064)
        for t in steps:
            e_a = (tol.gamma(big, dtype) * (mm(np.abs(x64[t]), np.abs(wi)) + ab(bi) + ab(bh)
                                           + mm(np.abs(h_prev), np.abs(wh)))
                   + mm(e_h, np.abs(wh)))
            h = y[t]
            e_h = (1 - h * h) * e_a + KE * u * np.abs(h) if nl == "tanh" else e_a
            e_y[t], h_prev = e_h, h
        s = tol.SAFETY
        return (y, h_n), (s * e_y, s * e_h)
    if kind == "lstm":
        c064 = tol.reference_inputs(c0)
        y, h_n, c_n, gates, c = ref.lstm_forward(x64, h064, c064, wi, wh, bi, bh, reverse)
        H = h0.shape[1]
        e_y, e_c_all, e_gates = np.zeros_like(y), np.zeros_like(c), np.zeros_like(gates)
        h_prev, c_prev = h064, c064
        e_h, e_c = np.zeros_like(h064), np.zeros_like(c064)
        for t in steps:
            e_a = (tol.gamma(big, dtype) * (mm(np.abs(x64[t]), np.abs(wi)) + ab(bi) + ab(bh)
                                           + mm(np.abs(h_prev), np.abs(wh)))
                   + mm(e_h, np.abs(wh)))
            i, f, g, o = (gates[t][:, k * H:(k + 1) * H] for k in range(4))
            ea = [e_a[:, k * H:(k + 1) * H] for k in range(4)]
            e_i, e_f, e_o = (s_ * (1 - s_) * e + sig_err for s_, e in ((i, ea[0]), (f, ea[1]),
                                                                     (o, ea[3])))
            e_g = (1 - g * g) * ea[2] + KE * u * np.abs(g)
            e_c = (np.abs(f) * e_c + np.abs(c_prev) * e_f + np.abs(g) * e_i + np.abs(i) * e_g
                   + 3 * u * (np.abs(f * c_prev) + np.abs(i * g)))
            th = np.tanh(c[t])
            e_th = (1 - th * th) * e_c + KE * u * np.abs(th)
            e_h = np.abs(th) * e_o + np.abs(o) * e_th + u * np.abs(y[t])
            e_gates[t] = np.concatenate([e_i, e_f, e_g, e_o], axis=1)
            e_y[t], e_c_all[t] = e_h, e_c
            h_prev, c_prev = y[t], c[t]
        s = tol.SAFETY
        return (y, h_n, c_n, gates, c), (s * e_y, s * e_h, s * e_c, s * e_gates, s * e_c_all)
    y, h_n, gates, hn = ref.gru_forward(x64, h064, wi, wh, bi, bh, reverse)
    H = h0.shape[1]
    e_y, e_gates, e_hn_all = np.zeros_like(y), np.zeros_like(gates), np.zeros_like(hn)
    h_prev, e_h = h064, np.zeros_like(h064)
    for t in steps:
        gi = mm(x64[t], wi) + (0 if bi is None else bi)
        e_gi = tol.gamma(x64.shape[2] + 1, dtype) * (mm(np.abs(x64[t]), np.abs(wi)) + ab(bi))
        ah = mm(h_prev, wh) + (0 if bh is None else bh)
        e_ah = (tol.gamma(H + 1, dtype) * (mm(np.abs(h_prev), np.abs(wh)) + ab(bh))
                + mm(e_h, np.abs(wh)))
        r, z, n = (gates[t][:, k * H:(k + 1) * H] for k in range(3))
        part = lambda a, k: a[:, k * H:(k + 1) * H]  # noqa: E731
        e_r, e_z = (s_ * (1 - s_) * (part(e_gi, k) + part(e_ah, k)
                                     + u * np.abs(part(gi, k) + part(ah, k))) + sig_err
                    for k, s_ in ((0, r), (1, z)))
        hn_t, e_hn = part(ah, 2), part(e_ah, 2)
        a_n = part(gi, 2) + r * hn_t
        e_an = (part(e_gi, 2) + np.abs(r) * e_hn + np.abs(hn_t) * e_r
                + 2 * u * (np.abs(r * hn_t) + np.abs(a_n)))
        e_n = (1 - n * n) * e_an + KE * u * np.abs(n)
        e_h = (np.abs(1 - z) * e_n + (np.abs(n) + np.abs(h_prev)) * e_z + np.abs(z) * e_h
               + 4 * u * (np.abs((1 - z) * n) + np.abs(z * h_prev) + np.abs(n)))
        e_gates[t] = np.concatenate([e_r, e_z, e_n], axis=1)
        e_y[t], e_hn_all[t] = e_h, e_hn
        h_prev = y[t]
    s = tol.SAFETY
    return (y, h_n, gates, hn), (s * e_y, s * e_h, s * e_gates, s * e_hn_all)


# ------------------------------------------------------------------ recurrent backward
def recurrent_backward_bound(kind, grads_in, x, h0, c0, w_ih, w_hh, y, saved, reverse):
    """Reference gradients of a recurrent backward kernel and their bounds.

    Given its inputs (the saved forward arrays are inputs, exact), backprop through time is
    a straight-line program of +, −, × (and tanh(c) in the LSTM, charged KE roundings).
    For such a program the computed value differs from the exact one by at most γ_K times
    the same program run on absolute values with every − turned into + (each operation's
    (1+δ) compounds along a path of at most K operations; Higham §3.1). K counts the
    roundings along the longest path: per step the gate coefficients (<= 12 + KE) and the
    W_hh product (G terms), then the weight-gradient sums over T·N rows and gx over G.
    ``grads_in`` is (grad_y, grad_h_n[, grad_c_n]). Returns (reference, bounds) in the
    kernel's output order; ``None`` entries stay ``None``.
    """
    from tinymm.kernels.reference import recurrent as ref

    dtype = x.dtype
    T, N, _ = x.shape
    H = h0.shape[1]
    G = w_hh.shape[0]
    wide = lambda a: None if a is None else tol.reference_inputs(a)  # noqa: E731
    gy, ghn = wide(grads_in[0]), wide(grads_in[1])
    x64, h064, wi, wh, y64 = (wide(a) for a in (x, h0, w_ih, w_hh, y))
    sv = [wide(a) for a in saved]
    order = ref.time_steps(T, reverse)
    a_gy, a_wh = np.abs(gy), np.abs(wh)
    dh = np.zeros_like(h064) if ghn is None else np.abs(ghn)
    if kind.startswith("rnn"):
        nl = kind[4:]
        reference = ref.rnn_backward(gy, ghn, x64, h064, wi, wh, y64, nl, reverse, True)
        d_pre = np.empty_like(y64)
        for t in reversed(order):
            dh = dh + a_gy[t]
            coef = 1 + y64[t] * y64[t] if nl == "tanh" else (y64[t] > 0).astype(y64.dtype)
            d_pre[t] = dh * coef
            dh = d_pre[t] @ a_wh
        d_in = d_hid = d_pre
        extra = ()
    elif kind == "lstm":
        gates, c = sv
        gcn, c064 = wide(grads_in[2]), wide(c0)
        reference = ref.lstm_backward(gy, ghn, gcn, x64, h064, c064, wi, wh, y64, gates, c,
                                      reverse, True)
        dc = np.zeros_like(c064) if gcn is None else np.abs(gcn)
        d_pre = np.empty_like(gates)
        for k in reversed(range(T)):
            t = order[k]
            c_prev = np.abs(c[order[k - 1]] if k > 0 else c064)
            i, f, g, o = (np.abs(gates[t, :, j * H:(j + 1) * H]) for j in range(4))
            th = np.abs(np.tanh(c[t]))
            dh = dh + a_gy[t]
            dc = dc + dh * o * (1 + th * th)
            d_pre[t] = np.concatenate([dc * g * i * (1 + i), dc * c_prev * f * (1 + f),
                                       dc * i * (1 + g * g), dh * th * o * (1 + o)], axis=1)
            dc = dc * f
            dh = d_pre[t] @ a_wh
        d_in = d_hid = d_pre
        extra = (dc,)
    else:
        gates, hn = sv
        reference = ref.gru_backward(gy, ghn, x64, h064, wi, wh, y64, gates, hn, reverse, True)
        d_in, d_hid = np.empty_like(gates), np.empty_like(gates)
        for k in reversed(range(T)):
            t = order[k]
            h_prev = np.abs(y64[order[k - 1]] if k > 0 else h064)
            r, z, n = (np.abs(gates[t, :, j * H:(j + 1) * H]) for j in range(3))
            dh = dh + a_gy[t]
            da_n = dh * (1 + z) * (1 + n * n)
            da_r = da_n * np.abs(hn[t]) * r * (1 + r)
            da_z = dh * (h_prev + n) * z * (1 + z)
            d_in[t] = np.concatenate([da_r, da_z, da_n], axis=1)
            d_hid[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
            dh = dh * z + d_hid[t] @ a_wh
        extra = ()
    gx, gw_ih, gb_ih = ref.input_grads(d_in, np.abs(x64), np.abs(wi), True)
    gw_hh = ref.hidden_weight_grad(d_hid, np.abs(y64), np.abs(h064), reverse)
    gb_hh = d_hid.reshape(-1, G).sum(axis=0)
    magnitudes = (gx, dh, *extra, gw_ih, gw_hh, gb_ih, gb_hh)
    depth = T * (G + tol.TRANSCENDENTAL_ULPS * 2 + 12) + T * N + G + 4
    scale = tol.SAFETY * tol.gamma(depth, dtype)
    return reference, tuple(scale * m for m in magnitudes)
