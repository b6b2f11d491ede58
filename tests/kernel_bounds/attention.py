"""Rounding-error bounds of scaled dot-product attention, forward and backward."""

from __future__ import annotations

import numpy as np

from tinymm.testing import tolerance as tol

from .softmax import KE, _finite_product, softmax_stats


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
