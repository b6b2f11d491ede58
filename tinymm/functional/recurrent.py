"""Recurrent layer ops: one layer-direction of an RNN, LSTM or GRU over a whole sequence.

These are the building blocks of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (internal: not in
``tinymm.functional.__all__``, but documented and tested). Each is ONE autograd node for all
time steps: the forward runs the fused kernel (input projection of every step as one GEMM,
then a time loop of one GEMM + one fused cell), the backward runs backprop-through-time in
one kernel call. The seed's recurrence ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)`` is
:func:`rnn_layer`; PyTorch splits ``b_h`` into ``b_ih + b_hh`` and so do we.

Layout is time-major: ``input (T, N, I)``, ``h0 (N, H)``; the output ``(T, N, H)`` holds
every ``h_t``. ``reverse=True`` runs ``t = T-1 .. 0`` (the second half of a bidirectional
layer) with the output still aligned with the input. Gate order is PyTorch's: LSTM
``[i, f, g, o]`` (``w_ih (4H, I)``), GRU ``[r, z, n]`` (``w_ih (3H, I)``).

    >>> import tinymm as tm
    >>> x, h0, c0 = tm.randn(5, 2, 3), tm.zeros(2, 4), tm.zeros(2, 4)
    >>> w_ih, w_hh = tm.randn(16, 3), tm.randn(16, 4)
    >>> y, h_n, c_n = lstm_layer(x, h0, c0, w_ih, w_hh)
    >>> y.shape, h_n.shape
    ((5, 2, 4), (2, 4))
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_ndim, check_same_dtype
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["rnn_layer", "lstm_layer", "gru_layer"]

NONLINEARITIES = ("tanh", "relu")


def _contiguous(a: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(a, dtype=dtype)


def _bias_grads(ctx, gb_ih, gb_hh):
    """The bias gradients the kernel always computes, dropped for absent biases."""
    return (gb_ih if ctx.has_bias[0] else None), (gb_hh if ctx.has_bias[1] else None)


class RNNLayer(Function):
    """Elman RNN layer-direction: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse):
        y, h_n = kernels.get("rnn_forward")(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse)
        ctx.save_for_backward(x, h0, w_ih, w_hh, y)
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return y, h_n

    @staticmethod
    def backward(ctx, grad_y, grad_h_n):
        x, h0, w_ih, w_hh, y = ctx.saved_tensors
        gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh = kernels.get("rnn_backward")(
            _contiguous(grad_y, x.dtype), _contiguous(grad_h_n, x.dtype), x, h0, w_ih, w_hh,
            y, ctx.nonlinearity, ctx.reverse, ctx.needs_input_grad[0],
        )
        return (gx, gh0, gw_ih, gw_hh, *_bias_grads(ctx, gb_ih, gb_hh), None, None)


class LSTMLayer(Function):
    """LSTM layer-direction; saves the activated gates and cell states for the backward."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        y, h_n, c_n, gates, c = kernels.get("lstm_forward")(x, h0, c0, w_ih, w_hh, b_ih, b_hh,
                                                            reverse)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, y, gates, c)
        ctx.reverse = reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return y, h_n, c_n

    @staticmethod
    def backward(ctx, grad_y, grad_h_n, grad_c_n):
        x, h0, c0, w_ih, w_hh, y, gates, c = ctx.saved_tensors
        gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh = kernels.get("lstm_backward")(
            _contiguous(grad_y, x.dtype), _contiguous(grad_h_n, x.dtype),
            _contiguous(grad_c_n, x.dtype), x, h0, c0, w_ih, w_hh, y, gates, c, ctx.reverse,
            ctx.needs_input_grad[0],
        )
        return (gx, gh0, gc0, gw_ih, gw_hh, *_bias_grads(ctx, gb_ih, gb_hh), None)


class GRULayer(Function):
    """GRU layer-direction; saves the gates [r, z, n] and ``W_hn h + b_hn`` per step."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        y, h_n, gates, hn = kernels.get("gru_forward")(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
        ctx.save_for_backward(x, h0, w_ih, w_hh, y, gates, hn)
        ctx.reverse = reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return y, h_n

    @staticmethod
    def backward(ctx, grad_y, grad_h_n):
        x, h0, w_ih, w_hh, y, gates, hn = ctx.saved_tensors
        gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh = kernels.get("gru_backward")(
            _contiguous(grad_y, x.dtype), _contiguous(grad_h_n, x.dtype), x, h0, w_ih, w_hh,
            y, gates, hn, ctx.reverse, ctx.needs_input_grad[0],
        )
        return (gx, gh0, gw_ih, gw_hh, *_bias_grads(ctx, gb_ih, gb_hh), None)


# ---------------------------------------------------------------------------------------
# validation: everything is checked before a kernel runs


def _check_layer(fn: str, gates: int, input, states: dict, w_ih, w_hh, b_ih, b_hh) -> list:
    """Check shapes and dtypes; return the Tensors (biases may be None), contiguous."""
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    check_ndim(fn, "input", x, 3)
    T, N, I = x.shape
    if T == 0:
        raise ValueError(f"{fn}: input must have at least one time step, got shape {x.shape}")
    if N == 0 or I == 0:
        raise ValueError(f"{fn}: input must have a batch and features (no zero sizes), "
                         f"got shape {x.shape}")
    w_ih = as_tensor_arg(fn, "w_ih", w_ih)
    w_hh = as_tensor_arg(fn, "w_hh", w_hh)
    check_ndim(fn, "w_hh", w_hh, 2)
    G, H = w_hh.shape
    if G != gates * H or H == 0:
        raise ValueError(f"{fn}: w_hh must have shape ({gates} * hidden_size, hidden_size), "
                         f"got {w_hh.shape}")
    check_ndim(fn, "w_ih", w_ih, 2)
    if w_ih.shape != (G, I):
        raise ValueError(f"{fn}: input has {I} features but w_ih has shape {w_ih.shape} "
                         f"(expected ({G}, {I}) for hidden_size {H})")
    for name, t in states.items():
        t = as_tensor_arg(fn, name, t)
        if t.shape != (N, H):
            raise ValueError(f"{fn}: {name} must have shape (batch, hidden_size) = ({N}, {H}), "
                             f"got {t.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and as_tensor_arg(fn, name, b).shape != (G,):
            raise ValueError(f"{fn}: {name} must have shape ({G},), got {b.shape}")
    check_same_dtype(fn, input=x, **states, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    # kernels take C-contiguous arrays; a strided view is copied inside the graph
    return [t if t is None else t.contiguous()
            for t in (x, *states.values(), w_ih, w_hh, b_ih, b_hh)]


def _check_reverse(fn: str, reverse: object) -> bool:
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"{fn}: reverse must be a bool, got {type(reverse).__name__}")
    return bool(reverse)


# ---------------------------------------------------------------------------------------
# public (internal-API) entry points


def rnn_layer(input, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh",  # noqa: A002
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer-direction: ``h_t = f(W_hh h_{t-1} + W_ih x_t + b_ih + b_hh)``.

    ``nonlinearity`` ``"tanh"`` or ``"relu"``; ``reverse`` runs t = T−1 .. 0. The whole
    sequence is one autograd op (backpropagation through time in one kernel).

    Shape: ``input (T, N, I)``, ``h0 (N, H)``, ``w_ih (H, I)``, ``w_hh (H, H)``, biases
    ``(H,)`` or None -> ``(output (T, N, H), h_n (N, H))``.

    >>> out, h_n = F.rnn_layer(tm.randn(5, 2, 3), tm.zeros(2, 4), tm.randn(4, 3), tm.randn(4, 4))
    >>> out.shape, h_n.shape
    ((5, 2, 4), (2, 4))
    """
    fn = "rnn_layer"
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{fn}: nonlinearity must be one of {NONLINEARITIES}, "
                         f"got {nonlinearity!r}")
    reverse = _check_reverse(fn, reverse)
    x, h0, w_ih, w_hh, b_ih, b_hh = _check_layer(fn, 1, input, {"h0": h0}, w_ih, w_hh, b_ih,
                                                 b_hh)
    return RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse)


def lstm_layer(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None,  # noqa: A002
               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer-direction (PyTorch's gates ``[i, f, g, o]``).

    ``[i, f, g, o] = [σ, σ, tanh, σ](W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``,
    ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``.

    Shape: ``input (T, N, I)``, ``h0, c0 (N, H)``, ``w_ih (4H, I)``, ``w_hh (4H, H)``, biases
    ``(4H,)`` or None -> ``(output (T, N, H), h_n (N, H), c_n (N, H))``.

    >>> x, h0, c0 = tm.randn(5, 2, 3), tm.zeros(2, 4), tm.zeros(2, 4)
    >>> out, h_n, c_n = F.lstm_layer(x, h0, c0, tm.randn(16, 3), tm.randn(16, 4))
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (2, 4), (2, 4))
    """
    fn = "lstm_layer"
    reverse = _check_reverse(fn, reverse)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _check_layer(fn, 4, input, {"h0": h0, "c0": c0}, w_ih,
                                                     w_hh, b_ih, b_hh)
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)


def gru_layer(input, h0, w_ih, w_hh, b_ih=None, b_hh=None,  # noqa: A002
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One GRU layer-direction (PyTorch's formulation, gates ``[r, z, n]``).

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h_t = (1 - z) n + z h_{t-1}``.

    Shape: ``input (T, N, I)``, ``h0 (N, H)``, ``w_ih (3H, I)``, ``w_hh (3H, H)``, biases ``(3H,)``
    or None -> ``(output (T, N, H), h_n (N, H))``.

    >>> out, h_n = F.gru_layer(tm.randn(5, 2, 3), tm.zeros(2, 4), tm.randn(12, 3), tm.randn(12, 4))
    >>> out.shape, h_n.shape
    ((5, 2, 4), (2, 4))
    """
    fn = "gru_layer"
    reverse = _check_reverse(fn, reverse)
    x, h0, w_ih, w_hh, b_ih, b_hh = _check_layer(fn, 3, input, {"h0": h0}, w_ih, w_hh, b_ih,
                                                 b_hh)
    return GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
