"""Rounding-error bounds of the recurrent kernels (RNN, LSTM, GRU), forward and backward."""

from __future__ import annotations

import numpy as np

from tinymm.testing import tolerance as tol

from .softmax import KE


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


# ------------------------------------------------------------------ one LSTM cell (jit helpers)
def lstm_cell_bound(gates_in, hh, bias, c_prev):
    """Reference (gates, c, h) of one LSTM step from its input term, recurrent term and bias,
    and their bounds: a = x-term + bias + hh: e_a <= 2u(|x-term| + |bias| + |hh|); then the
    gate, cell and output rules of :func:`recurrent_forward_bound` for one step."""
    dtype = gates_in.dtype
    u = tol.unit_roundoff(dtype)
    g_in, hh64, b64, cp = tol.reference_inputs(gates_in, hh, bias, c_prev)
    H = cp.shape[1]
    a = g_in + b64 + hh64
    e_a = 2 * u * (np.abs(g_in) + np.abs(b64) + np.abs(hh64))
    sig = 1 / (1 + np.exp(-a))
    part = lambda v, k: v[:, k * H:(k + 1) * H]  # noqa: E731
    i, f, o = part(sig, 0), part(sig, 1), part(sig, 3)
    g = np.tanh(part(a, 2))
    e_i, e_f, e_o = (s * (1 - s) * part(e_a, k) + (KE + 3) * u for k, s in ((0, i), (1, f), (3, o)))
    e_g = (1 - g * g) * part(e_a, 2) + KE * u * np.abs(g)
    c = f * cp + i * g
    e_c = (np.abs(cp) * e_f + np.abs(g) * e_i + np.abs(i) * e_g
           + 3 * u * (np.abs(f * cp) + np.abs(i * g)))
    th = np.tanh(c)
    h = o * th
    e_h = np.abs(th) * e_o + np.abs(o) * ((1 - th * th) * e_c + KE * u * np.abs(th)) + u * np.abs(h)
    s = tol.SAFETY
    gates = np.concatenate([i, f, g, o], axis=1)
    e_gates = np.concatenate([e_i, e_f, e_g, e_o], axis=1)
    return (gates, c, h), (s * e_gates, s * e_c, s * e_h)


def lstm_cell_backward_bound(dh_next, gy, dc0, gates, c_prev, c, gb0):
    """Reference (d_pre, grad_bias, dc into the previous step) of one LSTM backward step, and
    bounds: the step is a straight-line program of +, −, × (tanh(c) charged KE), so γ_K times
    the same program on absolute values, K = 16 + KE (+ N for the bias column sums)."""
    dtype = gates.dtype
    w = tol.reference_inputs(dh_next, gy, dc0, gates, c_prev, c, gb0)
    dhn, gy64, dc64, gt, cp, c64, gb64 = w
    N, H = cp.shape
    part = lambda v, k: v[:, k * H:(k + 1) * H]  # noqa: E731

    def program(dh, dc, i, f, g, o, cprev, tc, one, sign):
        dc = dc + dh * o * (one + sign * tc * tc)
        d_pre = np.concatenate([dc * g * i * (one + sign * i), dc * cprev * f * (one + sign * f),
                                dc * i * (one + sign * g * g), dh * tc * o * (one + sign * o)],
                               axis=1)
        return d_pre, dc * f

    gates_parts = [part(gt, k) for k in range(4)]
    tc = np.tanh(c64)
    d_pre, dc_out = program(dhn + gy64, dc64, *gates_parts, cp, tc, 1.0, -1.0)
    m_pre, m_dc = program(np.abs(dhn) + np.abs(gy64), np.abs(dc64),
                          *(np.abs(p) for p in gates_parts), np.abs(cp), np.abs(tc), 1.0, 1.0)
    scale = tol.SAFETY * tol.gamma(16 + KE, dtype)
    scale_gb = tol.SAFETY * tol.gamma(16 + KE + N + 1, dtype)
    refs = (d_pre, gb64 + d_pre.sum(axis=0), dc_out)
    bounds = (scale * m_pre, scale_gb * (np.abs(gb64) + m_pre.sum(axis=0)), scale * m_dc)
    return refs, bounds
