"""Recurrent kernels (RNN, LSTM, GRU), Numba twins of kernels/reference/recurrent.py.

Same signatures, same saved arrays (see the reference module for the equations). How the
time is spent:

- all input projections ``x_t W_ih^T`` are one GEMM before the loop, and all weight
  gradients are GEMMs after the backward loop;
- per step, one NumPy GEMM for the recurrent term writes into a reused scratch buffer, then
  one fused ``@njit`` cell does every gate nonlinearity and the state update in a single
  pass, writing straight into the preallocated ``(T, N, .)`` outputs. No BLAS inside Numba
  (one BLAS thread pool, see docs/performance.md);
- there is no SVML, so ``math.tanh`` is a slow scalar call. For float32 the cells use a
  rational approximation evaluated in float64 (relative error < 2e-7, vectorised); float64
  keeps ``math.tanh`` so it agrees with the reference to rounding. (Evaluating it in float32
  was only 1.3x faster and its error reached 3.2e-7: not worth the accuracy.)

LSTM, batch 32, 128 -> 128, 20 steps, float32, forward + backward: ~3.8 ms in the benchmark
(was 4.2; torch 2.9-3.4 on the same 2-core VM, noisy). In-process medians, µs (rough: the
machine is shared):

- forward ~1.35 ms: input GEMM 300-335; 19 step GEMMs x 29-34 (h0 = 0, the layers' default,
  skips the first); 20 cells x 19-22, of which ~14 when the data is hot (9 the activations,
  3 the transpose of the recurrent term, see _STEP_GEMM_NOTE); setup ~30;
- backward ~2.4 ms: 20 cells x 21-26 (hot: ~9.5, of which 4 are the two transposes); 20 step
  GEMMs x 30-36; after the loop three GEMMs of 84 MFLOP, W_ih 330-380, x 315-370,
  W_hh 340-400 (its h0 term skipped when h0 = 0); W_hh^T copy ~30.

Cells cost twice their hot time inside the loop: each step's saved arrays come from L3
(the backward cell alone streams ~180 KB per step) and the GEMM outputs from the other core;
the step GEMMs cost ~25% more than alone. Folding the bias into the forward cell saved a
~90 µs pass over (T*N, 4H), and summing the bias gradient in the backward cell a 30-70 µs
one. Tried and measured not to help: x_t or W_ih merged into the step GEMMs (bigger step
GEMMs cost more than the one big GEMM they replace), chunked weight-gradient GEMMs inside
the loop, software prefetch of the next step, workspace scratch (aligned or not), 16x16
transposes, a blocked (8-row) forward cell.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..reference.recurrent import (
    hidden_weight_grad,
    initial_grad,
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
    # clamp to [-9, 9], a NaN stays NaN: min/max's own rule, without the builtins, which Numba
    # compiles as functions of their own at their first use
    w = np.float64(v)
    w = -9.0 if w < -9.0 else w
    w = 9.0 if w > 9.0 else w
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


# Not inline="always": inlining an overload at Numba's IR level types it again at every call
# site (the LSTM cell compiled in 1.6 s with it, 1.1 s without); LLVM inlines the compiled
# function anyway, so the generated code is the same.
@overload(_tanh, jit_options=_JIT)
def _tanh_typed(v):
    return _tanh_f32 if v == types.float32 else _tanh_f64


@overload(_sigmoid, jit_options=_JIT)
def _sigmoid_typed(v):
    return _sigmoid_f32 if v == types.float32 else _sigmoid_f64


# ---------------------------------------------------------------------------------------
# fused cells: one step, all gates. Arrays are (N, .) slices of the sequence buffers, except
# the LSTM's recurrent terms, which come transposed, (4H, N) or (H, N) (_STEP_GEMM_NOTE).
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


# ---------------------------------------------------------------------------------------
# transposes for the per-step GEMMs (see _STEP_GEMM_NOTE)
#
# An 8x8 block transpose written as an LLVM intrinsic: eight vector loads, three rounds of
# two-input shuffles (unpack pairs of elements, then pairs of pairs, then quads), eight
# vector stores. Written as scalar loops, LLVM kept every variant we tried scalar or with
# gathers (0.4-0.6 ns per element at (512, 32) float32; this is ~0.2 ns).

_PAIRS = ((0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15))
_PAIR_PAIRS = ((0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15))
_QUADS = ((0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15))


def _shuffle_mask(lanes):
    i32 = ir.IntType(32)
    return ir.Constant(ir.VectorType(i32, len(lanes)), [ir.Constant(i32, k) for k in lanes])


@intrinsic
def _transpose_block8(typingctx, a, row, col, out, out_row, out_col):
    """``out[out_row + k, out_col + i] = a[row + i, col + k]`` for ``i, k < 8``: one 8x8 block,
    both arrays 2-D C-contiguous of one dtype (anything else does not compile: the vector
    loads and stores assume unit-stride rows). The caller keeps the blocks in bounds."""
    for arr in (a, out):
        if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"):
            return None
    if a.dtype != out.dtype or not isinstance(a.dtype, types.Float):
        return None
    sig = types.void(a, row, col, out, out_row, out_col)

    def codegen(context, builder, signature, args):
        a_ty, out_ty = signature.args[0], signature.args[3]
        a_arr = context.make_array(a_ty)(context, builder, args[0])
        out_arr = context.make_array(out_ty)(context, builder, args[3])
        row, col, out_row, out_col = (context.cast(builder, args[k], signature.args[k], types.intp)
                                      for k in (1, 2, 4, 5))
        vec = ir.VectorType(context.get_data_type(a_ty.dtype), 8)
        align = a_ty.dtype.bitwidth // 8

        def vector_pointer(ty, arr, r, c, i):
            index = [builder.add(r, ir.Constant(r.type, i)), c]
            ptr = cgutils.get_item_pointer(context, builder, ty, arr, index)
            return builder.bitcast(ptr, vec.as_pointer())

        def shuffle(x, y, lanes):
            return builder.shuffle_vector(x, y, _shuffle_mask(lanes))

        rows = [builder.load(vector_pointer(a_ty, a_arr, row, col, i), align=align)
                for i in range(8)]
        # round 1: rows (2i, 2i+1) interleaved element-wise, low and high halves of each lane
        lo = [shuffle(rows[2 * i], rows[2 * i + 1], _PAIRS[0]) for i in range(4)]
        hi = [shuffle(rows[2 * i], rows[2 * i + 1], _PAIRS[1]) for i in range(4)]
        # round 2: pairs of pairs -> each vector holds 4 rows of 2 columns
        quads = []
        for first, second in ((0, 1), (2, 3)):
            for half in (lo, hi):
                quads += [shuffle(half[first], half[second], m) for m in _PAIR_PAIRS]
        # round 3: quads[k] holds columns k, k + 4 of rows 0-3, quads[k + 4] of rows 4-7
        for k in range(4):
            for q, lanes in enumerate(_QUADS):
                column = shuffle(quads[k], quads[k + 4], lanes)
                builder.store(column, vector_pointer(out_ty, out_arr, out_row, out_col, k + 4 * q),
                              align=align)
        return context.get_dummy_value()

    return sig, codegen


@njit(**_JIT)
def _transpose_into(a, out):
    """``out <- a.T`` for C-contiguous ``a (R, C)``, ``out (C, R)``: 8x8 blocks, then the
    ragged edges element by element. Blocks run down a column strip of ``a`` so the stores
    walk along rows of ``out`` (twice as fast as the other order at (512, 32))."""
    R, C = a.shape
    if out.shape[0] != C or out.shape[1] != R:  # the 8x8 blocks must stay in bounds
        raise ValueError("_transpose_into: out must have the shape of a.T")
    R8, C8 = R - R % 8, C - C % 8
    for k0 in range(0, C8, 8):
        for r0 in range(0, R8, 8):
            _transpose_block8(a, r0, k0, out, k0, r0)
    for r in range(R):
        for k in range(C8, C):
            out[k, r] = a[r, k]
    for r in range(R8, R):
        for k in range(C8):
            out[k, r] = a[r, k]


@njit(**_JIT)
def _lstm_cell(gates, hh_t, bias, c_prev, c, h, hh):
    """``gates`` holds the input terms ``x_t W_ih^T`` ``(N, 4H)``, ``hh_t`` the recurrent term
    transposed, ``W_hh h_{t-1}^T (4H, N)`` (see _STEP_GEMM_NOTE), ``bias`` ``b_ih + b_hh``.
    Leaves the activated [i, f, g, o] in ``gates`` and writes ``c_t = f c_{t-1} + i g`` and
    ``h_t = o tanh(c_t)``; ``hh (N, 4H)`` is scratch for ``hh_t`` transposed back."""
    N, H = c.shape
    _transpose_into(hh_t, hh)
    for n in range(N):
        for j in range(2 * H):  # i, f = σ(.)
            gates[n, j] = _sigmoid(gates[n, j] + bias[j] + hh[n, j])
        for j in range(H):  # g = tanh(.)
            gates[n, 2 * H + j] = _tanh(gates[n, 2 * H + j] + bias[2 * H + j] + hh[n, 2 * H + j])
        for j in range(H):  # o = σ(.)
            gates[n, 3 * H + j] = _sigmoid(gates[n, 3 * H + j] + bias[3 * H + j]
                                           + hh[n, 3 * H + j])
        for j in range(H):
            c[n, j] = gates[n, H + j] * c_prev[n, j] + gates[n, j] * gates[n, 2 * H + j]
        for j in range(H):
            h[n, j] = gates[n, 3 * H + j] * _tanh(c[n, j])


@njit(**_JIT)
def _lstm_cell_backward(dh_t, grad_y, dc, gates, c_prev, c, d_pre, d_pre_t, gb, dh):
    """One step back. ``dh_t (H, N)`` holds step t+1's ``(d_pre W_hh)^T`` (see
    _STEP_GEMM_NOTE), ``dc`` the gradient into ``c_t`` (updated in place to ``dc_{t-1}``);
    writes ``d_pre (N, 4H)`` and its transpose ``d_pre_t (4H, N)`` and adds the column sums
    of ``d_pre`` to the bias gradient ``gb (4H,)``. ``dh (N, H)`` is scratch for the whole
    gradient reaching ``h_t``."""
    N, H = c.shape
    one = c.dtype.type(1)
    _transpose_into(dh_t, dh)
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
        for j in range(4 * H):  # the row is still in L1 (a GEMV over all steps cost 2-3x more)
            gb[j] += d_pre[n, j]
    _transpose_into(d_pre, d_pre_t)


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

# _STEP_GEMM_NOTE: which way round the per-step GEMMs run. OpenBLAS (2 threads) is fastest
# when the gate dimension G is the row dimension of the row-major output and the batch N its
# column dimension. Measured alone at N=32, H=128, G=4H=512, float32 (medians, µs):
#   forward   W_hh (G, H) @ h^T (H, N)       -> (G, N)   25   [h @ W_hh^T copy -> (N, G): 36,
#                                                               h @ W_hh.T view: 47]
#   backward  W_hh^T copy (H, G) @ d^T (G, N) -> (H, N)   25   [d @ W_hh -> (N, H): 36; with
#                                                               a d.T view instead: 34]
# So the LSTM cells take the recurrent term as (G, N) and the backward cell also writes the
# transpose of d_pre[t] (``_transpose_into``, ~3 µs per (32, 512) block). Inside the loop
# that saved ~9 µs per forward step and ~2 µs per backward step net (the GEMMs cost 30-35 µs
# there: their operands come from the other core). RNN and GRU still run h @ (contiguous
# copy of W_hh^T) -> (N, G); their cells would need the same transposes to switch.


def _column_sums(a: Array) -> Array:
    """``a (M, G) -> (G,)``, the sum over rows, as a GEMV with a ones vector (~3x faster than
    ``a.sum(axis=0)``'s pairwise reduction at (640, 512))."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def _input_grads(d_in: Array, x: Array, w_ih: Array, need_input_grad: bool) -> tuple:
    """``(gx, gW_ih)`` from ``d_in (T, N, G)``, as ``reference.recurrent.input_grads`` (the
    bias gradient is left to the caller)."""
    T, N, G = d_in.shape
    flat = d_in.reshape(T * N, G)
    gw_ih = flat.T @ x.reshape(T * N, -1)  # (G, T*N) @ (T*N, I)
    gx = (flat @ w_ih).reshape(x.shape) if need_input_grad else None  # (T*N, G) @ (G, I)
    return gx, gw_ih


def _recurrent_weight_grad(d_pre: Array, y: Array, h0: Array, reverse: bool) -> Array:
    """``reference.recurrent.hidden_weight_grad``, skipping the first step's GEMM when ``h0``
    is all zeros (the default initial state)."""
    if h0.any():
        return hidden_weight_grad(d_pre, y, h0, reverse)
    T, N, G = d_pre.shape
    H = y.shape[2]
    rest, prev = (d_pre[: T - 1], y[1:]) if reverse else (d_pre[1:], y[: T - 1])
    return rest.reshape(-1, G).T @ prev.reshape(-1, H)  # ((T-1)*N, G)^T @ ((T-1)*N, H)


def rnn_forward(x: Array, h0: Array, w_ih: Array, w_hh: Array, b_ih: Array | None,
                b_hh: Array | None, nonlinearity: str = "tanh",
                reverse: bool = False) -> tuple[Array, Array]:
    """Elman RNN over a sequence; see ``reference.recurrent.rnn_forward``."""
    relu = nonlinearity == "relu"
    y = project_inputs(x, w_ih, summed_bias(b_ih, b_hh))  # (T, N, H): input terms, then h_t
    hh = np.empty_like(h0)  # (N, H) scratch for h_{t-1} W_hh^T
    w_hh_t = np.ascontiguousarray(w_hh.T)  # NN form, see _STEP_GEMM_NOTE
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
    gx, gw_ih = _input_grads(d_pre, x, w_ih, need_input_grad)
    gb_ih = _column_sums(d_pre.reshape(-1, d_pre.shape[2]))
    gw_hh = _recurrent_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, gw_ih, gw_hh, gb_ih, gb_ih.copy()


def lstm_forward(x: Array, h0: Array, c0: Array, w_ih: Array, w_hh: Array,
                 b_ih: Array | None, b_hh: Array | None, reverse: bool = False) -> tuple:
    """LSTM over a sequence; see ``reference.recurrent.lstm_forward``."""
    T, N, I = x.shape
    H = h0.shape[1]
    G = 4 * H
    # input terms of every step as one GEMM; the cell adds the bias (saves a pass over gates)
    gates = np.matmul(x.reshape(T * N, I), w_ih.T).reshape(T, N, G)
    bias = summed_bias(b_ih, b_hh)
    bias = np.zeros(G, dtype=x.dtype) if bias is None else bias
    y = np.empty((T, N, H), dtype=x.dtype)
    c = np.empty((T, N, H), dtype=x.dtype)
    hh_t = np.empty((G, N), dtype=x.dtype)  # W_hh h_{t-1}^T
    hh = np.empty((N, G), dtype=x.dtype)  # scratch of the cell
    zero_h0 = not h0.any()  # then the first step's recurrent term is 0: no GEMM
    if zero_h0:
        hh_t.fill(0)
    h_prev, c_prev = h0, c0
    for k, t in enumerate(time_steps(T, reverse)):
        if k or not zero_h0:
            np.matmul(w_hh, h_prev.T, out=hh_t)  # see _STEP_GEMM_NOTE
        _lstm_cell(gates[t], hh_t, bias, c_prev, c[t], y[t], hh)
        h_prev, c_prev = y[t], c[t]
    return y, h_prev.copy(), c_prev.copy(), gates, c


def lstm_backward(grad_y: Array, grad_h_n: Array | None, grad_c_n: Array | None, x: Array,
                  h0: Array, c0: Array, w_ih: Array, w_hh: Array, y: Array, gates: Array,
                  c: Array, reverse: bool = False, need_input_grad: bool = True) -> tuple:
    """Backprop through time for :func:`lstm_forward`; see the reference twin."""
    T, N, _ = x.shape
    H = h0.shape[1]
    G = 4 * H
    d_pre = np.empty((T, N, G), dtype=x.dtype)  # C-contiguous whatever the inputs are
    d_pre_t = np.empty((G, N), dtype=x.dtype)  # d_pre[t] transposed, for the GEMM
    w_hh_t = np.empty((H, G), dtype=x.dtype)  # see _STEP_GEMM_NOTE
    _transpose_into(np.ascontiguousarray(w_hh), w_hh_t)
    dh_t = np.zeros((H, N), dtype=x.dtype)  # (d_pre[t+1] W_hh)^T, plus grad_h_n at first
    if grad_h_n is not None:
        _transpose_into(np.ascontiguousarray(grad_h_n, dtype=x.dtype), dh_t)
    dc = initial_grad(grad_c_n, c0)  # (N, H)
    gb = np.zeros(G, dtype=x.dtype)
    dh = np.empty((N, H), dtype=x.dtype)  # scratch of the cell, then gh0
    order = time_steps(T, reverse)
    for k in range(T - 1, -1, -1):
        t = order[k]
        c_prev = c[order[k - 1]] if k > 0 else c0
        _lstm_cell_backward(dh_t, grad_y[t], dc, gates[t], c_prev, c[t], d_pre[t], d_pre_t, gb,
                            dh)
        np.matmul(w_hh_t, d_pre_t, out=dh_t)  # (H, 4H) @ (4H, N): into h_{t-1}, transposed
    _transpose_into(dh_t, dh)
    gx, gw_ih = _input_grads(d_pre, x, w_ih, need_input_grad)
    gw_hh = _recurrent_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, dc, gw_ih, gw_hh, gb, gb.copy()


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
    w_hh_t = np.ascontiguousarray(w_hh.T)  # NN form, see _STEP_GEMM_NOTE
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
    gx, gw_ih = _input_grads(d_in, x, w_ih, need_input_grad)
    gb_ih = _column_sums(d_in.reshape(-1, 3 * H))
    gw_hh = _recurrent_weight_grad(d_hid, y, h0, reverse)
    gb_hh = _column_sums(d_hid.reshape(-1, 3 * H))
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
