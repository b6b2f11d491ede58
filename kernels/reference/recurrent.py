"""Recurrent kernels (RNN, LSTM, GRU), NumPy reference twins: one layer-direction, all steps.

The seed's recurrence is ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)``; PyTorch splits the bias
in two (``b_ih`` beside ``W_ih = W_xh`` and ``b_hh`` beside ``W_hh``), and so do we, so a
``state_dict`` copies across. Every kernel here runs one direction of one layer over the
whole sequence:

- layout is time-major: ``x`` is ``(T, N, I)``, the output sequence ``y`` is ``(T, N, H)``
  with ``y[t]`` the hidden state after step ``t`` (``h_t``);
- ``reverse=True`` runs the same recurrence over ``t = T-1, ..., 0`` (the backward half of a
  bidirectional layer); ``y[t]`` is still aligned with ``x[t]``, and ``h_n`` is then ``y[0]``;
- forward kernels return the outputs plus what their backward needs (activated gates, cell
  states); those saved arrays have the same layout in the NumPy and Numba twins, so a forward
  on one backend may be followed by a backward on the other;
- backward kernels take the gradients of the per-step outputs and of the final state(s) and
  return ``(gx, gh0[, gc0], gw_ih, gw_hh, gb_ih, gb_hh)``; ``gx`` is ``None`` when
  ``need_input_grad`` is false. Bias gradients are returned even when the forward ran
  without biases (the caller drops them).

Gate layouts follow PyTorch: LSTM rows of ``W_ih``/``W_hh`` are ``[i; f; g; o]`` (``4H``),
GRU rows are ``[r; z; n]`` (``3H``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rnn_forward",
    "rnn_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
]


# ---------------------------------------------------------------------------------------
# helpers shared with the Numba twin (kernels/jit/recurrent.py imports them)


def time_steps(T: int, reverse: bool) -> range:
    """The order in which the recurrence visits the steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def sigmoid(a: np.ndarray) -> np.ndarray:
    """``σ(a) = 1 / (1 + e^{-a}) = (1 + tanh(a/2)) / 2``; the tanh form never overflows."""
    half = a.dtype.type(0.5)
    return half * (np.tanh(half * a) + 1)


def project_inputs(
    x: np.ndarray, w_ih: np.ndarray, bias: np.ndarray | None
) -> np.ndarray:
    """The input term of every step as one GEMM: ``x_t W_ih^T + bias`` for all ``t``.

    ``x (T, N, I)``, ``w_ih (G, I)``, ``bias (G,)`` or ``None`` -> ``(T, N, G)``, a fresh array.
    """
    T, N, I = x.shape
    out = x.reshape(T * N, I) @ w_ih.T  # (T*N, I) @ (I, G) -> (T*N, G)
    if bias is not None:
        out += bias
    return out.reshape(T, N, -1)


def summed_bias(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """``b_ih + b_hh`` where both enter the pre-activation side by side (RNN, LSTM)."""
    if a is None:
        return b
    return a if b is None else a + b


def hidden_weight_grad(
    d_pre: np.ndarray, y: np.ndarray, h0: np.ndarray, reverse: bool
) -> np.ndarray:
    """``dW_hh = Σ_t d_pre[t]^T h_prev(t)`` as two GEMMs over all steps at once.

    ``d_pre (T, N, G)`` is the gradient of the recurrent pre-activation ``h_prev W_hh^T``;
    ``h_prev(t)`` is ``h0`` at the first visited step and the neighbouring output otherwise.
    Returns ``(G, H)``.
    """
    T, N, G = d_pre.shape
    H = y.shape[2]
    if reverse:  # step t follows step t+1
        first, rest, prev = d_pre[T - 1], d_pre[: T - 1], y[1:]
    else:  # step t follows step t-1
        first, rest, prev = d_pre[0], d_pre[1:], y[: T - 1]
    grad = first.T @ h0  # (G, N) @ (N, H) -> (G, H)
    grad += rest.reshape(-1, G).T @ prev.reshape(-1, H)  # ((T-1)*N, G)^T @ ((T-1)*N, H)
    return grad


def input_grads(
    d_in: np.ndarray, x: np.ndarray, w_ih: np.ndarray, need_input_grad: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(gx, gW_ih, gb_ih)`` from ``d_in (T, N, G)``, the gradient of ``x_t W_ih^T + b_ih``."""
    T, N, G = d_in.shape
    flat = d_in.reshape(T * N, G)
    gw_ih = flat.T @ x.reshape(T * N, -1)  # (G, T*N) @ (T*N, I) -> (G, I)
    gb_ih = flat.sum(axis=0)  # (G,)
    gx = (flat @ w_ih).reshape(x.shape) if need_input_grad else None  # (T*N, G) @ (G, I)
    return gx, gw_ih, gb_ih


def initial_grad(grad: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """A fresh gradient buffer for the final state: ``grad`` copied, or zeros if None."""
    return np.zeros_like(like) if grad is None else np.array(grad, dtype=like.dtype)


# ---------------------------------------------------------------------------------------
# Elman RNN: h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), f = tanh or relu


def rnn_forward(
    x: np.ndarray,
    h0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Elman RNN over a sequence: ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)``.

    ``x (T, N, I)``, ``h0 (N, H)``, ``w_ih (H, I)``, ``w_hh (H, H)``, biases ``(H,)`` or None;
    ``nonlinearity`` is ``"tanh"`` or ``"relu"``.
    Returns ``y (T, N, H)`` (every ``h_t``; also what the backward needs) and ``h_n (N, H)``.
    """
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    y = project_inputs(x, w_ih, summed_bias(b_ih, b_hh))  # (T, N, H): input terms
    h = h0
    for t in time_steps(x.shape[0], reverse):
        h = act(y[t] + h @ w_hh.T)  # (N, H) + (N, H) @ (H, H) -> (N, H)
        y[t] = h
    return y, h.copy()


def rnn_backward(
    grad_y: np.ndarray,
    grad_h_n: np.ndarray | None,
    x: np.ndarray,
    h0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    y: np.ndarray,
    nonlinearity: str = "tanh",
    reverse: bool = False,
    need_input_grad: bool = True,
) -> tuple:
    """Backprop through time for :func:`rnn_forward`.

    With ``a_t`` the pre-activation and ``dh_t = grad_y[t] + W_hh^T da_{t+1}`` (plus
    ``grad_h_n`` at the last step): ``da_t = dh_t * f'(a_t)``, where ``f'`` is ``1 - h_t^2``
    for tanh and ``[h_t > 0]`` for relu. Returns ``(gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh)``.
    """
    T = x.shape[0]
    d_pre = np.empty_like(y)  # (T, N, H): da_t
    dh = initial_grad(grad_h_n, h0)  # (N, H): gradient reaching h_t from later steps
    for t in reversed(time_steps(T, reverse)):
        dh = dh + grad_y[t]
        if nonlinearity == "tanh":
            d_pre[t] = dh * (1 - y[t] * y[t])
        else:
            d_pre[t] = dh * (y[t] > 0)
        dh = d_pre[t] @ w_hh  # (N, H) @ (H, H) -> (N, H): into h_{t-1}
    gx, gw_ih, gb_ih = input_grads(d_pre, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, gw_ih, gw_hh, gb_ih, gb_ih.copy()


# ---------------------------------------------------------------------------------------
# LSTM (PyTorch gate order i, f, g, o)


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """LSTM over a sequence.

    ``[i, f, g, o] = [σ, σ, tanh, σ](x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``,
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    ``x (T, N, I)``, ``h0, c0 (N, H)``, ``w_ih (4H, I)``, ``w_hh (4H, H)``, biases ``(4H,)``
    or None. Returns ``y (T, N, H)``, ``h_n (N, H)``, ``c_n (N, H)`` and, for the backward,
    ``gates (T, N, 4H)`` (activated ``[i, f, g, o]``) and ``c (T, N, H)`` (every ``c_t``).
    """
    T, N, _ = x.shape
    H = h0.shape[1]
    gates = project_inputs(x, w_ih, summed_bias(b_ih, b_hh))  # (T, N, 4H): input terms
    y = np.empty((T, N, H), dtype=x.dtype)
    c = np.empty((T, N, H), dtype=x.dtype)
    h_prev, c_prev = h0, c0
    for t in time_steps(T, reverse):
        a = gates[t] + h_prev @ w_hh.T  # (N, 4H) pre-activations
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 3 * H :])
        g = np.tanh(a[:, 2 * H : 3 * H])  # each (N, H)
        c_prev = f * c_prev + i * g
        h_prev = o * np.tanh(c_prev)
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        c[t], y[t] = c_prev, h_prev
    return y, h_prev.copy(), c_prev.copy(), gates, c


def lstm_backward(
    grad_y: np.ndarray,
    grad_h_n: np.ndarray | None,
    grad_c_n: np.ndarray | None,
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    y: np.ndarray,
    gates: np.ndarray,
    c: np.ndarray,
    reverse: bool = False,
    need_input_grad: bool = True,
) -> tuple:
    """Backprop through time for :func:`lstm_forward`.

    Per step, latest first, with ``dh`` from the output and the later step and ``dc`` from
    the later step: ``do = dh tanh(c_t)``, ``dc += dh o (1 - tanh²c_t)``, ``di = dc g``,
    ``dg = dc i``, ``df = dc c_{t-1}``; the pre-activation gradients multiply by the gate
    derivatives (``σ' = σ(1-σ)``, ``tanh' = 1 - tanh²``); then ``dc_{t-1} = dc f`` and
    ``dh_{t-1} = da W_hh``. Returns ``(gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh)``.
    """
    T = x.shape[0]
    H = h0.shape[1]
    d_pre = np.empty_like(gates)  # (T, N, 4H): gradient of the pre-activations
    dh = initial_grad(grad_h_n, h0)  # (N, H)
    dc = initial_grad(grad_c_n, c0)  # (N, H)
    order = time_steps(T, reverse)
    for k in reversed(range(T)):
        t = order[k]
        c_prev = c[order[k - 1]] if k > 0 else c0
        i, f, g, o = (gates[t, :, j * H : (j + 1) * H] for j in range(4))  # (N, H) each
        tanh_c = np.tanh(c[t])
        dh = dh + grad_y[t]
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        d_pre[t] = np.concatenate(
            [
                dc * g * i * (1 - i),  # through i = σ(.)
                dc * c_prev * f * (1 - f),  # through f = σ(.)
                dc * i * (1 - g * g),  # through g = tanh(.)
                dh * tanh_c * o * (1 - o),  # through o = σ(.)
            ],
            axis=1,
        )
        dc = dc * f  # into c_{t-1}
        dh = d_pre[t] @ w_hh  # (N, 4H) @ (4H, H) -> (N, H): into h_{t-1}
    gx, gw_ih, gb_ih = input_grads(d_pre, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_pre, y, h0, reverse)
    return gx, dh, dc, gw_ih, gw_hh, gb_ih, gb_ih.copy()


# ---------------------------------------------------------------------------------------
# GRU (PyTorch formulation, gate order r, z, n)


def gru_forward(
    x: np.ndarray,
    h0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GRU over a sequence, as PyTorch writes it.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    ``x (T, N, I)``, ``h0 (N, H)``, ``w_ih (3H, I)``, ``w_hh (3H, H)``, biases ``(3H,)`` or
    None. Returns ``y (T, N, H)``, ``h_n (N, H)`` and, for the backward, ``gates (T, N, 3H)``
    (``[r, z, n]``) and ``hn (T, N, H)`` (every ``W_hn h_{t-1} + b_hn``).
    """
    T, N, _ = x.shape
    H = h0.shape[1]
    gates = project_inputs(x, w_ih, b_ih)  # (T, N, 3H): input terms
    y = np.empty((T, N, H), dtype=x.dtype)
    hn = np.empty((T, N, H), dtype=x.dtype)
    h = h0
    for t in time_steps(T, reverse):
        ah = h @ w_hh.T  # (N, H) @ (H, 3H) -> (N, 3H)
        if b_hh is not None:
            ah = ah + b_hh
        r = sigmoid(gates[t, :, :H] + ah[:, :H])
        z = sigmoid(gates[t, :, H : 2 * H] + ah[:, H : 2 * H])
        hn[t] = ah[:, 2 * H :]
        n = np.tanh(gates[t, :, 2 * H :] + r * hn[t])
        h = (1 - z) * n + z * h
        gates[t] = np.concatenate([r, z, n], axis=1)
        y[t] = h
    return y, h.copy(), gates, hn


def gru_backward(
    grad_y: np.ndarray,
    grad_h_n: np.ndarray | None,
    x: np.ndarray,
    h0: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    y: np.ndarray,
    gates: np.ndarray,
    hn: np.ndarray,
    reverse: bool = False,
    need_input_grad: bool = True,
) -> tuple:
    """Backprop through time for :func:`gru_forward`.

    Per step, latest first: ``dn = dh (1-z)``, ``dz = dh (h_{t-1} - n)``,
    ``da_n = dn (1 - n²)``, ``dr = da_n * hn``, ``da_r = dr r(1-r)``, ``da_z = dz z(1-z)``.
    The input side gets ``[da_r, da_z, da_n]``, the hidden side ``[da_r, da_z, da_n * r]``,
    and ``dh_{t-1} = dh z + (hidden side) W_hh``.
    Returns ``(gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh)``.
    """
    T = x.shape[0]
    H = h0.shape[1]
    d_in = np.empty_like(gates)  # (T, N, 3H): gradient of x_t W_ih^T + b_ih
    d_hid = np.empty_like(gates)  # (T, N, 3H): gradient of h_{t-1} W_hh^T + b_hh
    dh = initial_grad(grad_h_n, h0)  # (N, H)
    order = time_steps(T, reverse)
    for k in reversed(range(T)):
        t = order[k]
        h_prev = y[order[k - 1]] if k > 0 else h0
        r, z, n = (gates[t, :, j * H : (j + 1) * H] for j in range(3))  # (N, H) each
        dh = dh + grad_y[t]
        da_n = dh * (1 - z) * (1 - n * n)
        da_r = da_n * hn[t] * r * (1 - r)
        da_z = dh * (h_prev - n) * z * (1 - z)
        d_in[t] = np.concatenate([da_r, da_z, da_n], axis=1)
        d_hid[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dh = dh * z + d_hid[t] @ w_hh  # (N, 3H) @ (3H, H) -> (N, H): into h_{t-1}
    gx, gw_ih, gb_ih = input_grads(d_in, x, w_ih, need_input_grad)
    gw_hh = hidden_weight_grad(d_hid, y, h0, reverse)
    gb_hh = d_hid.reshape(-1, 3 * H).sum(axis=0)
    return gx, dh, gw_ih, gw_hh, gb_ih, gb_hh
