"""Recurrent kernels (RNN, LSTM, GRU), Numba twins of kernels/reference/recurrent.py.

Same signatures, same saved arrays (see the reference module for the equations). Where the
time goes and how it is spent here:

- all input projections ``x_t W_ih^T`` are one GEMM before the loop, and all weight
  gradients are GEMMs after the backward loop (helpers shared with the reference twin);
- per step, one NumPy GEMM ``h_{t-1} W_hh^T`` (or ``da_t W_hh`` backwards) writes into a
  reused scratch buffer, then one fused ``@njit`` cell does every gate nonlinearity and the
  state update in a single pass, writing straight into the preallocated ``(T, N, .)``
  outputs. No BLAS inside Numba (one BLAS thread pool, see PERF_NOTES);
- there is no SVML, so ``math.tanh`` is a slow scalar call. For float32 the cells use a
  rational approximation evaluated in float64 (relative error < 2e-7, vectorised); float64
  keeps ``math.tanh`` so it agrees with the reference to rounding.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reference.recurrent import (
    hidden_weight_grad,
    initial_grad,
    input_grads,
    project_inputs,
    summed_bias,
    time_steps,
)

__all__ = [
    "rnn_forward",
    "rnn_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
]

_JIT = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}

# ---------------------------------------------------------------------------------------
# scalar activations: one name, a typed implementation per dtype (chosen at compile time)

# tanh(v) ≈ v P(v²) / Q(v²) on |v| <= 9 (tanh(9) rounds to 1 in float32): a minimax fit of
# the relative error (4.5e-8 in exact arithmetic; < 2e-7 after float32 rounding).
_P0, _P1, _P2, _P3, _P4 = (
    0.9999999843301839,
    0.133684625851302,
    0.0034809316476512573,
    2.0379407054730213e-05,
    1.3059721074950395e-08,
)
_Q1, _Q2, _Q3, _Q4 = (
    0.4670176996677243,
    0.025820527289716746,
    0.0003262151017390355,
    7.650829772242692e-07,
)


def _tanh(v):
    """Cell tanh: exact for float64, a vectorisable rational approximation for float32."""
    return math.tanh(v)


def _sigmoid(v):
    """Cell sigmoid ``(1 + tanh(v/2)) / 2`` (no overflow; absolute error < 2e-7 in float32)."""
    return 0.5 * (1.0 + math.tanh(0.5 * v))


@njit(inline="always", **_JIT)
def _tanh_ratio(v):
    """``(v P(v²), Q(v²))`` in float64 for a float32 ``v``; ``tanh(v) ≈ num / den``."""
    w = min(max(np.float64(v), -9.0), 9.0)
    s = w * w
    num = w * ((((_P4 * s + _P3) * s + _P2) * s + _P1) * s + _P0)
    den = (((_Q4 * s + _Q3) * s + _Q2) * s + _Q1) * s + 1.0
    return num, den


def _tanh_f32(v):
    num, den = _tanh_ratio(v)
    # the division in float32: vdivps is twice as wide as vdivpd, error stays < 2e-7
    return np.float32(num) / np.float32(den)


def _sigmoid_f32(v):
    num, den = _tanh_ratio(np.float32(0.5) * v)
    return np.float32(0.5 * (den + num)) / np.float32(den)


def _tanh_f64(v):
    return math.tanh(v)


def _sigmoid_f64(v):
    return 0.5 * (1.0 + math.tanh(0.5 * v))


@overload(_tanh, jit_options=_JIT, inline="always")
def _tanh_typed(v):
    return _tanh_f32 if v == types.float32 else _tanh_f64


@overload(_sigmoid, jit_options=_JIT, inline="always")
def _sigmoid_typed(v):
    return _sigmoid_f32 if v == types.float32 else _sigmoid_f64


# ---------------------------------------------------------------------------------------
# fused cells: one step, all gates. Arrays are (N, .) slices of the sequence buffers.
#
# Why several short loops per row instead of one: LLVM vectorises a loop only if it can rule
# out aliasing between the arrays it writes and the arrays it reads, with at most 8 runtime
# pointer comparisons (gate blocks at offsets k*H of one buffer count as separate pointers).
# A loop that touched all four gates plus the states would need ~20 and stay scalar (7x
# slower). Each loop below writes one or two pointers and reads a few; all of a row's data
# stays in L1 between the loops. Loops run over range(H) with explicit block offsets: a loop
# over range(3 * H, 4 * H) did not vectorise (measured).


@njit(**_JIT)
def _rnn_cell(pre, hh, relu):
    """``pre <- f(pre + hh)`` in place; ``pre`` holds the input term, then ``h_t``."""
    N, H = pre.shape
    zero = pre.dtype.type(0)
    for n in range(N):
        if relu:
            for j in range(H):
                pre[n, j] = max(pre[n, j] + hh[n, j], zero)
        else:
            for j in range(H):
                pre[n, j] = _tanh(pre[n, j] + hh[n, j])


@njit(**_JIT)
def _rnn_cell_backward(dh, grad_y, h, relu, d_pre):
    """``d_pre = (dh + grad_y) * f'`` with ``f'`` from the output ``h`` (1 - h² or h > 0)."""
    N, H = h.shape
    one = h.dtype.type(1)
    zero = h.dtype.type(0)
    for n in range(N):
        if relu:
            for j in range(H):
                d_pre[n, j] = dh[n, j] + grad_y[n, j] if h[n, j] > zero else zero
        else:
            for j in range(H):
                d_pre[n, j] = (dh[n, j] + grad_y[n, j]) * (one - h[n, j] * h[n, j])


@njit(**_JIT)
def _lstm_cell(gates, hh, c_prev, c, h):
    """``gates`` holds the input terms ``(N, 4H)``; leaves the activated [i, f, g, o] there
    and writes ``c_t = f c_{t-1} + i g`` and ``h_t = o tanh(c_t)``."""
    N, H = c.shape
    for n in range(N):
        for j in range(2 * H):  # i, f = σ(.)
            gates[n, j] = _sigmoid(gates[n, j] + hh[n, j])
        for j in range(H):  # g = tanh(.)
            gates[n, 2 * H + j] = _tanh(gates[n, 2 * H + j] + hh[n, 2 * H + j])
        for j in range(H):  # o = σ(.)
            gates[n, 3 * H + j] = _sigmoid(gates[n, 3 * H + j] + hh[n, 3 * H + j])
        for j in range(H):
            c[n, j] = gates[n, H + j] * c_prev[n, j] + gates[n, j] * gates[n, 2 * H + j]
        for j in range(H):
            h[n, j] = gates[n, 3 * H + j] * _tanh(c[n, j])


@njit(**_JIT)
def _lstm_cell_backward(dh, grad_y, dc, gates, c_prev, c, d_pre):
    """One step back. ``dh`` holds step t+1's ``d_pre W_hh`` (overwritten), ``dc`` the
    gradient into ``c_t`` (updated in place to ``dc_{t-1}``); writes ``d_pre (N, 4H)``."""
    N, H = c.shape
    one = c.dtype.type(1)
    for n in range(N):
        for j in range(H):
            dh[n, j] += grad_y[n, j]
        for j in range(H):  # through h_t = o tanh(c_t)
            o = gates[n, 3 * H + j]
            tc = _tanh(c[n, j])
            d_pre[n, 3 * H + j] = dh[n, j] * tc * o * (one - o)
            dc[n, j] += dh[n, j] * o * (one - tc * tc)
        for j in range(H):  # through i
            i = gates[n, j]
            d_pre[n, j] = dc[n, j] * gates[n, 2 * H + j] * i * (one - i)
        for j in range(H):  # through f
            f = gates[n, H + j]
            d_pre[n, H + j] = dc[n, j] * c_prev[n, j] * f * (one - f)
        for j in range(H):  # through g, then into c_{t-1}
            g = gates[n, 2 * H + j]
            d_pre[n, 2 * H + j] = dc[n, j] * gates[n, j] * (one - g * g)
            dc[n, j] *= gates[n, H + j]


@njit(**_JIT)
def _gru_cell(gates, hh, b_hn, h_prev, hn, h):
    """``gates`` holds the input terms with ``b_hr, b_hz`` folded in; ``hh`` is
    ``h_{t-1} W_hh^T``. Leaves [r, z, n] in ``gates``; writes ``hn = W_hn h + b_hn`` and
    ``h_t = (1 - z) n + z h_{t-1}``."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        for j in range(2 * H):  # r, z = σ(.)
            gates[n, j] = _sigmoid(gates[n, j] + hh[n, j])
        for j in range(H):
            hn[n, j] = hh[n, 2 * H + j] + b_hn[j]
        # r * hn goes through h as scratch: reading block r while writing block n of the
        # same buffer is a dependence LLVM cannot bound, and that loop stayed scalar
        for j in range(H):
            h[n, j] = gates[n, j] * hn[n, j]
        for j in range(H):  # n = tanh(.)
            gates[n, 2 * H + j] = _tanh(gates[n, 2 * H + j] + h[n, j])
        for j in range(H):
            z = gates[n, H + j]
            h[n, j] = (one - z) * gates[n, 2 * H + j] + z * h_prev[n, j]


@njit(**_JIT)
def _gru_cell_backward(dh, dh_rec, grad_y, gates, hn, h_prev, d_in, d_hid):
    """One step back. ``dh`` holds ``z dh`` from step t+1 (replaced by step t's ``z dh``),
    ``dh_rec`` step t+1's ``d_hid W_hh``; writes ``d_in`` and ``d_hid`` (both ``(N, 3H)``)."""
    N, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for n in range(N):
        for j in range(H):  # the whole gradient reaching h_t
            dh[n, j] += dh_rec[n, j] + grad_y[n, j]
        for j in range(H):  # through n = tanh(.)
            z = gates[n, H + j]
            nv = gates[n, 2 * H + j]
            d_in[n, 2 * H + j] = dh[n, j] * (one - z) * (one - nv * nv)
        for j in range(H):
            d_hid[n, 2 * H + j] = d_in[n, 2 * H + j] * gates[n, j]
        for j in range(H):  # through r (reads d_hid: see the note in _gru_cell)
            d_in[n, j] = d_hid[n, 2 * H + j] * hn[n, j] * (one - gates[n, j])
        for j in range(H):  # through z
            z = gates[n, H + j]
            d_in[n, H + j] = dh[n, j] * (h_prev[n, j] - gates[n, 2 * H + j]) * z * (one - z)
        for j in range(2 * H):  # r and z see the same pre-activation gradient on both sides
            d_hid[n, j] = d_in[n, j]
        for j in range(H):  # the direct path into h_{t-1}
            dh[n, j] *= gates[n, H + j]


# ---------------------------------------------------------------------------------------
# drivers: the time loop in Python (one GEMM + one cell per step)


Array = np.ndarray

# _STEP_GEMM_NOTE: the per-step GEMM h (N, H) @ W_hh^T runs as a plain NN product on a
# contiguous copy of W_hh^T, made once per call: OpenBLAS ran the transposed-view form
# (NT) 1.3-1.7x slower at (32, 128) @ (128, 512), and the copy costs one pass over W_hh.


def rnn_forward(x: Array, h0: Array, w_ih: Array, w_hh: Array, b_ih: Array | None,
                b_hh: Array | None, nonlinearity: str = "tanh",
                reverse: bool = False) -> tuple[Array, Array]:
    """Elman RNN over a sequence; see ``reference.recurrent.rnn_forward``."""
    relu = nonlinearity == "relu"
    y = project_inputs(x, w_ih, summed_bias(b_ih, b_hh))  # (T, N, H): input terms, then h_t
    hh = np.empty_like(h0)  # (N, H) scratch for h_{t-1} W_hh^T
    w_hh_t = np.ascontiguousarray(w_hh.T)  # see _STEP_GEMM_NOTE
    h = h0
    for t in time_steps(x.shape[0], reverse):
        np.matmul(h, w_hh_t, out=hh)
        _rnn_cell(y[t], hh, relu)
        h = y[t]
    return y, h.copy()


def rnn_backward(grad_y: Array, grad_h_n: Array | None, x: Array, h0: Array, w_ih: Array,
                 w_hh: Array, y: Array, nonlinearity: str = "tanh", reverse: bool = False,
                 need_input_grad: bool = True) -> tuple:
    """Backprop through time for :func:`rnn_forward`; see the reference twin."""
    relu = nonlinearity == "relu"
    d_pre = np.empty_like(y)  # (T, N, H)
    dh = initial_grad(grad_h_n, h0)  # (N, H): gradient into h_t from later steps
    for t in reversed(time_steps(x.shape[0], reverse)):
        _rnn_cell_backward(dh, grad_y[t], y[t], relu, d_pre[t])
        np.matmul(d_pre[t], w_hh, out=dh)
    gx, gw_ih, gb_ih = input_grads(d_pre, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, gw_ih, gw_hh, gb_ih, gb_ih.copy()


def lstm_forward(x: Array, h0: Array, c0: Array, w_ih: Array, w_hh: Array,
                 b_ih: Array | None, b_hh: Array | None, reverse: bool = False) -> tuple:
    """LSTM over a sequence; see ``reference.recurrent.lstm_forward``."""
    T, N, _ = x.shape
    H = h0.shape[1]
    gates = project_inputs(x, w_ih, summed_bias(b_ih, b_hh))  # (T, N, 4H)
    y = np.empty((T, N, H), dtype=x.dtype)
    c = np.empty((T, N, H), dtype=x.dtype)
    hh = np.empty((N, 4 * H), dtype=x.dtype)  # scratch for h_{t-1} W_hh^T
    w_hh_t = np.ascontiguousarray(w_hh.T)  # see _STEP_GEMM_NOTE
    h_prev, c_prev = h0, c0
    for t in time_steps(T, reverse):
        np.matmul(h_prev, w_hh_t, out=hh)
        _lstm_cell(gates[t], hh, c_prev, c[t], y[t])
        h_prev, c_prev = y[t], c[t]
    return y, h_prev.copy(), c_prev.copy(), gates, c


def lstm_backward(grad_y: Array, grad_h_n: Array | None, grad_c_n: Array | None, x: Array,
                  h0: Array, c0: Array, w_ih: Array, w_hh: Array, y: Array, gates: Array,
                  c: Array, reverse: bool = False, need_input_grad: bool = True) -> tuple:
    """Backprop through time for :func:`lstm_forward`; see the reference twin."""
    T = x.shape[0]
    d_pre = np.empty_like(gates)  # (T, N, 4H)
    dh = initial_grad(grad_h_n, h0)  # (N, H)
    dc = initial_grad(grad_c_n, c0)  # (N, H)
    order = time_steps(T, reverse)
    for k in range(T - 1, -1, -1):
        t = order[k]
        c_prev = c[order[k - 1]] if k > 0 else c0
        _lstm_cell_backward(dh, grad_y[t], dc, gates[t], c_prev, c[t], d_pre[t])
        np.matmul(d_pre[t], w_hh, out=dh)
    gx, gw_ih, gb_ih = input_grads(d_pre, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, dc, gw_ih, gw_hh, gb_ih, gb_ih.copy()


def gru_forward(x: Array, h0: Array, w_ih: Array, w_hh: Array, b_ih: Array | None,
                b_hh: Array | None, reverse: bool = False) -> tuple:
    """GRU over a sequence; see ``reference.recurrent.gru_forward``."""
    T, N, _ = x.shape
    H = h0.shape[1]
    bias = b_ih
    if b_hh is not None:  # b_hr, b_hz add to the input side; b_hn stays inside r * (.)
        bias = np.concatenate([b_hh[: 2 * H], np.zeros(H, dtype=x.dtype)])
        bias = bias if b_ih is None else bias + b_ih
    b_hn = np.zeros(H, dtype=x.dtype) if b_hh is None else np.ascontiguousarray(b_hh[2 * H :])
    gates = project_inputs(x, w_ih, bias)  # (T, N, 3H)
    y = np.empty((T, N, H), dtype=x.dtype)
    hn = np.empty((T, N, H), dtype=x.dtype)
    hh = np.empty((N, 3 * H), dtype=x.dtype)  # scratch for h_{t-1} W_hh^T
    w_hh_t = np.ascontiguousarray(w_hh.T)  # see _STEP_GEMM_NOTE
    h = h0
    for t in time_steps(T, reverse):
        np.matmul(h, w_hh_t, out=hh)
        _gru_cell(gates[t], hh, b_hn, h, hn[t], y[t])
        h = y[t]
    return y, h.copy(), gates, hn


def gru_backward(grad_y: Array, grad_h_n: Array | None, x: Array, h0: Array, w_ih: Array,
                 w_hh: Array, y: Array, gates: Array, hn: Array, reverse: bool = False,
                 need_input_grad: bool = True) -> tuple:
    """Backprop through time for :func:`gru_forward`; see the reference twin."""
    T = x.shape[0]
    H = h0.shape[1]
    d_in = np.empty_like(gates)  # (T, N, 3H)
    d_hid = np.empty_like(gates)  # (T, N, 3H)
    dh = initial_grad(grad_h_n, h0)  # (N, H): the direct path z * dh
    dh_rec = np.zeros_like(h0)  # (N, H): the path through W_hh
    order = time_steps(T, reverse)
    for k in range(T - 1, -1, -1):
        t = order[k]
        h_prev = y[order[k - 1]] if k > 0 else h0
        _gru_cell_backward(dh, dh_rec, grad_y[t], gates[t], hn[t], h_prev, d_in[t], d_hid[t])
        np.matmul(d_hid[t], w_hh, out=dh_rec)
    dh += dh_rec
    gx, gw_ih, gb_ih = input_grads(d_in, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_hid, y, h0, reverse)
    gb_hh = d_hid.reshape(-1, 3 * H).sum(axis=0)
    return gx, dh, gw_ih, gw_hh, gb_ih, gb_hh


def warmup() -> None:
    """Compile every cell for float32 and float64 (both directions, both RNN nonlinearities)."""
    rng = np.random.default_rng(0)
    T, N, I, H = 2, 2, 3, 2
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((T, N, I)).astype(dtype)
        h0 = np.zeros((N, H), dtype)
        gy = np.ones((T, N, H), dtype)
        for gate_count, forward, backward in (
            (1, rnn_forward, rnn_backward),
            (4, lstm_forward, lstm_backward),
            (3, gru_forward, gru_backward),
        ):
            w_ih = np.full((gate_count * H, I), 0.1, dtype)
            w_hh = np.full((gate_count * H, H), 0.1, dtype)
            b = np.zeros(gate_count * H, dtype)
            if gate_count == 4:
                y, _, _, g, c = forward(x, h0, h0, w_ih, w_hh, b, b)
                backward(gy, None, None, x, h0, h0, w_ih, w_hh, y, g, c)
            elif gate_count == 3:
                y, _, g, hn = forward(x, h0, w_ih, w_hh, b, b)
                backward(gy, None, x, h0, w_ih, w_hh, y, g, hn)
            else:
                for nonlinearity in ("tanh", "relu"):
                    y, _ = forward(x, h0, w_ih, w_hh, b, b, nonlinearity)
                    backward(gy, None, x, h0, w_ih, w_hh, y, nonlinearity)
