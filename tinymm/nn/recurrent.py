"""``RNN``, ``LSTM`` and ``GRU``: multi-layer, optionally bidirectional recurrent layers.

Same constructor arguments, parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...),
shapes, gate order, initialisation and return values as PyTorch, so a ``state_dict`` copies
across both ways. Each layer-direction is one fused autograd op over all time steps
(``tinymm.functional.recurrent``); layers are stacked here, with the two directions of a
bidirectional layer concatenated on the feature dim and dropout between layers in training.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import functional as F
from .._validation import as_tensor_arg, check_alloc, check_float, check_int, check_same_dtype
from ..functional.recurrent import NONLINEARITIES, gru_layer, lstm_layer, rnn_layer
from ..ops.shape import cat, stack
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNN", "LSTM", "GRU"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RecurrentBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, layer stacking."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int,
                 bias: bool, batch_first: bool, dropout: float, bidirectional: bool,
                 dtype) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = check_int(name, "input_size", input_size, minimum=1)
        self.hidden_size = check_int(name, "hidden_size", hidden_size, minimum=1)
        self.num_layers = check_int(name, "num_layers", num_layers, minimum=1)
        for arg, value in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: {arg} must be a bool, got {type(value).__name__}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not (
                0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers only, so it does "
                          "nothing with num_layers=1", UserWarning, stacklevel=3)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dt = np.dtype(dtype or np.float32)
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        widest = max(input_size, hidden_size * directions, hidden_size)
        check_alloc(name, "the weights", (num_layers, directions, gates, widest), dt)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                tag = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{tag}", Parameter(np.empty((gates, layer_input), dt)))
                setattr(self, f"weight_hh_{tag}", Parameter(np.empty((gates, hidden_size), dt)))
                if self.bias:
                    setattr(self, f"bias_ih_{tag}", Parameter(np.empty(gates, dt)))
                    setattr(self, f"bias_hh_{tag}", Parameter(np.empty(gates, dt)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op, for code written for PyTorch (whose CUDA path wants one weight buffer)."""

    # ------------------------------------------------------------------ forward
    def _layer_weights(self, layer: int, reverse: bool) -> tuple:
        tag = f"l{layer}{'_reverse' if reverse else ''}"
        w = (getattr(self, f"weight_ih_{tag}"), getattr(self, f"weight_hh_{tag}"))
        if self.bias:
            return w + (getattr(self, f"bias_ih_{tag}"), getattr(self, f"bias_hh_{tag}"))
        return w + (None, None)

    def _check_input(self, input) -> tuple[Tensor, bool]:  # noqa: A002
        name = type(self).__name__
        x = as_tensor_arg(name, "input", input)
        check_float(name, "input", x)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be 3-D (batched) or 2-D (unbatched), "
                             f"got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[-1]} features (input shape "
                             f"{x.shape}) but input_size={self.input_size}")
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{name}: input must have at least one time step, "
                             f"got shape {x.shape}")
        check_same_dtype(name, input=x, weight_ih_l0=self.weight_ih_l0)
        return x, x.ndim == 3

    def _check_state(self, label: str, state, batched: bool, x: Tensor) -> Tensor:
        name = type(self).__name__
        t = as_tensor_arg(name, label, state)
        rows = self.num_layers * (2 if self.bidirectional else 1)
        want = (rows, x.shape[1], self.hidden_size) if batched else (rows, self.hidden_size)
        if t.shape != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ValueError(f"{name}: {label} must have shape {want} "
                             f"(num_layers * num_directions, {'batch, ' if batched else ''}"
                             f"hidden_size) for {kind} input, got {t.shape}")
        check_same_dtype(name, input=x, **{label: t})
        return t if batched else t.unsqueeze(1)

    def _run(self, input, states: list | None, layer_fn):  # noqa: A002
        """Stack the layers. ``states``: None or (D*L, N, H) Tensors (h_0[, c_0]); returns
        (output (T, N, D*H) time-major, [final states, each (D*L, N, H)])."""
        x = input
        T, N, _ = x.shape
        directions = 2 if self.bidirectional else 1
        zeros = Tensor._wrap(np.zeros((N, self.hidden_size), x.dtype))
        finals: list[list[Tensor]] = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                k = layer * directions + d
                initial = [zeros] * self._n_states if states is None else [s[k] for s in states]
                y, *last = layer_fn(x, *initial, *self._layer_weights(layer, d == 1), d == 1)
                outputs.append(y)
                finals.append(last)
            x = outputs[0] if directions == 1 else cat(outputs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, [stack([f[i] for f in finals], dim=0) for i in range(self._n_states)]

    def _forward(self, input, states):  # noqa: A002
        """Shared forward: layouts in and out; ``states`` as given (None or a list)."""
        x, batched = self._check_input(input)
        if batched:
            if self.batch_first:
                x = x.transpose(0, 1)
        else:
            x = x.unsqueeze(1)
        if states is not None:
            labels = ("h_0", "c_0")
            states = [self._check_state(label, s, batched, x) for label, s in zip(labels, states)]
        output, finals = self._run(x, states, self._layer_fn)
        if not batched:
            return output.squeeze(1), [f.squeeze(1) for f in finals]
        return (output.transpose(0, 1) if self.batch_first else output), finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        for arg, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False)):
            if getattr(self, arg) != default:
                text += f", {arg}={getattr(self, arg)}"
        return text


class RNN(_RecurrentBase):
    """Elman RNN, the seed's ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)`` with ``f`` = tanh or
    relu; per layer ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    ``forward(input, hx=None)`` -> ``(output, h_n)``: ``input (L, N, H_in)`` (``(N, L, H_in)``
    with ``batch_first``; ``(L, H_in)`` unbatched), ``hx``/``h_n`` ``(D * num_layers, N, H)``,
    ``output (L, N, D * H)`` with D = 2 if bidirectional else 1.

    >>> import tinymm as tm
    >>> out, h_n = RNN(10, 20, num_layers=2)(tm.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=None) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected one of "
                             f"{NONLINEARITIES}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def _layer_fn(self, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        return rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, self.nonlinearity, reverse)

    def forward(self, input, hx=None):  # noqa: A002
        output, (h_n,) = self._forward(input, None if hx is None else [hx])
        return output, h_n


class LSTM(_RecurrentBase):
    """Long short-term memory, PyTorch's formulation and gate order ``[i, f, g, o]``:
    ``c_t = σ(f) c_{t-1} + σ(i) tanh(g)``, ``h_t = σ(o) tanh(c_t)``.

    ``forward(input, hx=None)`` with ``hx = (h_0, c_0)`` -> ``(output, (h_n, c_n))``; shapes
    as :class:`RNN`. ``weight_ih_l{k}`` is ``(4H, H_in)``. ``proj_size`` is not supported.

    >>> import tinymm as tm
    >>> out, (h_n, c_n) = LSTM(8, 16, batch_first=True)(tm.randn(4, 7, 8))
    >>> out.shape, c_n.shape
    ((4, 7, 16), (1, 4, 16))
    """

    _n_states = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None) -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: proj_size={proj_size!r} is not supported (tinymm's LSTM "
                             "has no output projection); use proj_size=0")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)
        self.proj_size = 0

    def _layer_fn(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        return lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)

    def forward(self, input, hx=None):  # noqa: A002
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0) of Tensors, "
                            f"got {type(hx).__name__}")
        output, (h_n, c_n) = self._forward(input, None if hx is None else list(hx))
        return output, (h_n, c_n)


class GRU(_RecurrentBase):
    """Gated recurrent unit, PyTorch's formulation and gate order ``[r, z, n]``:
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h_t = (1 - z) n + z h_{t-1}``.

    ``forward(input, hx=None)`` -> ``(output, h_n)``, shapes as :class:`RNN`;
    ``weight_ih_l{k}`` is ``(3H, H_in)``.

    >>> import tinymm as tm
    >>> out, h_n = GRU(8, 16, bidirectional=True)(tm.randn(7, 4, 8))
    >>> out.shape, h_n.shape
    ((7, 4, 32), (2, 4, 16))
    """

    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def _layer_fn(self, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        return gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)

    def forward(self, input, hx=None):  # noqa: A002
        output, (h_n,) = self._forward(input, None if hx is None else [hx])
        return output, h_n
