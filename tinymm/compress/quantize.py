"""Post-training int8 quantisation: Linear, Conv1d/Conv2d and LSTM weights as int8 + scales.

Anchor: PyTorch's ``torch.ao.quantization.quantize_dynamic``. The rule (see
``kernels/reference/quant.py`` for the arithmetic):

- **weights**: per output channel, symmetric: ``W ≈ s_w[c] · W_q[c]``, ``W_q`` int8 in
  [−127, 127] (PyTorch's dynamic quantisation uses one scale per tensor by default; one per
  channel loses less accuracy for the same size);
- **activations** of Linear and Conv: uint8 with one scale and zero point per tensor, either
  measured on every call from the batch's range (*dynamic*, as ``quantize_dynamic``), or fixed
  beforehand from calibration batches (*static*: :func:`quantize_static`); by default on
  **7 bits** (0..127, ``reduce_range=True``, the option PyTorch's x86 observers have for the
  same reason): the AVX2 kernel then multiplies with ``vpmaddubsw``, whose int16 pair sums
  cannot saturate below 128 (2 · 127 · 127 < 2¹⁵): 1.9× (batch 1) to 1.2× (batch 32) faster
  than widening every value to int32 lanes (AMD EPYC, 1 thread); ``reduce_range=False``
  keeps the full 8 bits (0..255);
- the product runs in **integer arithmetic** (uint8 × int8 → int32 accumulators) in the
  Numba int8 kernel, then one float multiply per output rescales it;
- **LSTM**: weights are stored as int8 + per-row scales (a quarter of the bytes) and
  dequantised to float32 when the layer runs; the recurrence itself stays in float32.

Quantised modules are for inference: their outputs do not require grad. Their state dict
holds int8 arrays and float32 scales, so ``tm.save`` writes a pickle-free, ~4× smaller
checkpoint.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import numpy as np

from .. import kernels
from ..autograd import no_grad
from ..nn import GRU, LSTM, RNN, Conv1d, Conv2d, Embedding, Linear, Module
from ..tensor import Tensor

__all__ = ["QuantizedLinear", "QuantizedConv1d", "QuantizedConv2d", "QuantizedLSTM", "QuantizedGRU",
           "QuantizedRNN", "QuantizedEmbedding",
           "quantize_dynamic", "quantize_static", "weight_bytes", "DEFAULT_DYNAMIC"]

MAX_K = 66_000  # 255 · 127 · K < 2³¹: the int32 accumulator cannot overflow below this


def _activation_qparams(lo: float, hi: float, qmax: int = 255) -> tuple[float, int]:
    """Affine parameters mapping [lo, hi] ∪ {0} onto 0..qmax (0.0 maps to an integer exactly)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # math, not numpy: this runs every call
        raise ValueError(f"quantize: activation range [{lo}, {hi}] is not finite")
    scale = (hi - lo) / qmax if hi > lo else 1.0
    return float(scale), min(max(round(-lo / scale), 0), qmax)


def _check_reduce_range(fn: str, reduce_range) -> bool:
    if not isinstance(reduce_range, bool):
        raise TypeError(f"{fn}: reduce_range must be a bool, got {type(reduce_range).__name__}")
    return reduce_range


def _float_input(fn: str, x) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind != "f" or arr.dtype.itemsize < 4:
        raise TypeError(f"{fn}: input must be float32 or float64, got {arr.dtype}")
    return arr


class _QuantizedBase(Module):
    """int8 weight (out, K) + float32 scales + optional bias, and the activation range.

    ``reduce_range`` (not stored in the state dict: a choice of how to run, like PyTorch's
    observers' flag): activations on 7 bits (0..127) when True, 8 bits (0..255) when False.
    """

    reduce_range = True

    @property
    def activation_qmax(self) -> int:
        return 127 if self.reduce_range else 255

    def _init_weight(self, weight2d: np.ndarray, bias: np.ndarray | None,
                     activation_range: tuple[float, float] | None) -> None:
        if weight2d.shape[1] >= MAX_K:
            raise ValueError(f"{type(self).__name__}: {weight2d.shape[1]} inputs per output "
                             f"could overflow the int32 accumulator (limit {MAX_K})")
        q, s = kernels.get("quantize_weight_per_channel")(np.ascontiguousarray(weight2d))
        self.register_buffer("weight_int8", q)
        self.register_buffer("weight_scale", s)
        # Σ_k W_q[c, k] (int32, 4 bytes a channel): the zero-point correction, kept with the weights
        self.register_buffer("weight_sum", kernels.get("int8_weight_sums")(q))
        self.register_buffer("bias", None if bias is None else bias.astype(np.float32))
        rng = (np.nan, np.nan) if activation_range is None else activation_range
        self.register_buffer("activation_range", np.asarray(rng, np.float32))

    @property
    def dynamic(self) -> bool:
        """True when the activation range is measured on every call (no calibration)."""
        lo, hi = self.activation_range.tolist()
        return math.isnan(lo) or math.isnan(hi)

    def _qparams(self, x: np.ndarray) -> tuple[float, int]:
        if self.dynamic:
            return _activation_qparams(float(x.min(initial=0.0)), float(x.max(initial=0.0)),
                                       self.activation_qmax)
        return _activation_qparams(float(self.activation_range[0]), float(self.activation_range[1]),
                                   self.activation_qmax)

    def _matmul(self, rows: np.ndarray, x_for_range: np.ndarray) -> np.ndarray:
        """rows (M, K) float -> (M, out) float32 through the int8 kernel."""
        scale, zero = self._qparams(x_for_range)
        xq = kernels.get("quantize_activation")(rows, scale, zero, self.activation_qmax)
        y, _ = kernels.get("int8_linear")(xq, scale, zero, self.weight_int8, self.weight_scale,
                                          self.bias, self.weight_sum)
        return y

    def dequantized_weight(self) -> np.ndarray:
        """s_w[c] · W_q[c] as float32, in the float layer's (out, K) layout."""
        return self.weight_int8.astype(np.float32) * self.weight_scale[:, None]


class QuantizedLinear(_QuantizedBase):
    """y = x Wᵀ + b with int8 weights and uint8 activations (integer product).

    QuantizedLinear.from_float(linear, activation_range=None): dynamic without a range.

    Shape: as ``nn.Linear``, (*, in_features) -> (*, out_features).

    >>> from tinymm.compress import QuantizedLinear
    >>> layer = nn.Linear(16, 8)
    >>> q = QuantizedLinear.from_float(layer)
    >>> x = tm.randn(3, 16)
    >>> q(x).shape, float((q(x) - layer(x)).abs().max()) < 0.1
    ((3, 8), True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_weight(np.zeros((out_features, in_features), np.float32),
                          np.zeros(out_features, np.float32) if bias else None, None)

    @classmethod
    def from_float(cls, linear: Linear, activation_range=None,
                   reduce_range: bool = True) -> QuantizedLinear:
        q = cls.__new__(cls)
        Module.__init__(q)
        q.reduce_range = _check_reduce_range("QuantizedLinear.from_float", reduce_range)
        q.in_features, q.out_features = linear.in_features, linear.out_features
        q._init_weight(linear.weight.data, None if linear.bias is None else linear.bias.data,
                       activation_range)
        return q

    def forward(self, input):  # noqa: A002
        x = _float_input("QuantizedLinear", input)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear: input must end in {self.in_features} features, "
                             f"got shape {x.shape}")
        rows = x.reshape(-1, self.in_features)
        y = self._matmul(rows, rows).reshape(*x.shape[:-1], self.out_features)
        return Tensor(y.astype(x.dtype, copy=False))

    def extra_repr(self) -> str:
        mode = "dynamic" if self.dynamic else "static"
        return (f"in_features={self.in_features}, out_features={self.out_features}, {mode}, "
                f"activations {7 if self.reduce_range else 8}-bit")


class _QuantizedConv(_QuantizedBase):
    dims = 2

    @classmethod
    def from_float(cls, conv, activation_range=None, reduce_range: bool = True):
        fn = f"Quantized{type(conv).__name__}"
        _check_reduce_range(f"{fn}.from_float", reduce_range)
        if getattr(conv, "groups", 1) != 1 or any(d != 1 for d in conv.dilation):
            raise ValueError(f"{fn}: only groups=1 and dilation=1 are supported, got groups="
                             f"{conv.groups}, dilation={conv.dilation}")
        if isinstance(conv.padding, str):
            if conv.padding == "same" and any(k % 2 == 0 for k in conv.kernel_size):
                raise ValueError(f"{fn}: padding='same' with an even kernel is not supported")
            padding = (0,) * cls.dims if conv.padding == "valid" else tuple(
                k // 2 for k in conv.kernel_size)
        else:
            padding = tuple(conv.padding)
        q = cls.__new__(cls)
        Module.__init__(q)
        q.reduce_range = reduce_range
        q.in_channels, q.out_channels = conv.in_channels, conv.out_channels
        q.kernel_size, q.stride, q.padding = tuple(conv.kernel_size), tuple(conv.stride), padding
        w = conv.weight.data.reshape(conv.out_channels, -1)  # (O, C·∏k)
        q._init_weight(w, None if conv.bias is None else conv.bias.data, activation_range)
        return q

    def _conv2d(self, x: np.ndarray, kernel, stride, padding) -> np.ndarray:
        """x (N, C, H, W) float -> (N, O, Ho, Wo) float32."""
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{type(self).__name__}: input {x.shape[2:]} is smaller than the "
                             f"kernel {kernel} with padding {padding}")
        scale, zero = self._qparams(x)
        xq = kernels.get("quantize_activation")(x, scale, zero, self.activation_qmax)
        rows = kernels.get("int8_im2col")(xq, kernel, stride, padding, zero)  # (N·Ho·Wo, K)
        y, _ = kernels.get("int8_linear")(rows, scale, zero, self.weight_int8, self.weight_scale,
                                          self.bias, self.weight_sum)
        return np.ascontiguousarray(y.reshape(N, Ho, Wo, -1).transpose(0, 3, 1, 2))


class QuantizedConv2d(_QuantizedConv):
    """Conv2d with int8 weights and uint8 activations: int8 im2col, then the int8 product.

    Shape: as ``nn.Conv2d``.

    >>> from tinymm.compress import QuantizedConv2d
    >>> QuantizedConv2d.from_float(nn.Conv2d(2, 3, 3))(tm.randn(1, 2, 6, 6)).shape
    (1, 3, 4, 4)
    """

    def forward(self, input):  # noqa: A002
        x = _float_input("QuantizedConv2d", input)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv2d: input must be (N, {self.in_channels}, H, W), "
                             f"got shape {x.shape}")
        return Tensor(self._conv2d(x, self.kernel_size, self.stride, self.padding).astype(x.dtype))


class QuantizedConv1d(_QuantizedConv):
    """Conv1d with int8 weights and uint8 activations (the 2-D kernel on height 1).

    Shape: as ``nn.Conv1d``.

    >>> from tinymm.compress import QuantizedConv1d
    >>> QuantizedConv1d.from_float(nn.Conv1d(2, 3, 3))(tm.randn(1, 2, 6)).shape
    (1, 3, 4)
    """

    dims = 1

    def forward(self, input):  # noqa: A002
        x = _float_input("QuantizedConv1d", input)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv1d: input must be (N, {self.in_channels}, L), "
                             f"got shape {x.shape}")
        y = self._conv2d(x[:, :, None, :], (1, self.kernel_size[0]), (1, self.stride[0]),
                         (0, self.padding[0]))
        return Tensor(y[:, :, 0, :].astype(x.dtype))


class QuantizedLSTM(Module):
    """An LSTM (or, as its subclasses, a GRU or RNN) whose weight matrices are stored as
    int8 + per-row float32 scales.

    The forward pass dequantises them into a float32 LSTM (weight-only quantisation: the
    recurrence runs in float, as the size, not the speed, is what int8 buys here).

    Shape: as the wrapped layer.

    >>> from tinymm.compress import QuantizedLSTM
    >>> out, _ = QuantizedLSTM(nn.LSTM(3, 4))(tm.randn(5, 2, 3))
    >>> out.shape
    (5, 2, 4)
    """

    def __init__(self, lstm: LSTM):
        super().__init__()
        object.__setattr__(self, "_float", copy.deepcopy(lstm))
        for name, p in lstm.named_parameters():
            if name.startswith("weight"):
                q, s = kernels.get("quantize_weight_per_channel")(np.ascontiguousarray(p.data))
                self.register_buffer(name + "_int8", q)
                self.register_buffer(name + "_scale", s)
            else:
                self.register_buffer(name, p.data.astype(np.float32).copy())

    @classmethod
    def from_float(cls, lstm: LSTM, activation_range=None, reduce_range: bool = True) -> QuantizedLSTM:
        return cls(lstm)  # activations stay float32: reduce_range does not apply

    def forward(self, input, hx=None):  # noqa: A002
        for name, p in self._float.named_parameters():  # dequantise: s_w[row] · W_q[row]
            if name.startswith("weight"):
                p.data[...] = self._buffers[name + "_int8"].astype(np.float32) * \
                    self._buffers[name + "_scale"][:, None]
            else:
                p.data[...] = self._buffers[name]
        with no_grad():
            return self._float(input, hx)


class QuantizedEmbedding(Module):
    """An embedding table stored as int8 rows + one float32 scale per row; a lookup gathers
    the int8 rows and rescales them (the gradient-free inference path).

    Shape: as ``nn.Embedding``, indices (*) -> (*, D).

    >>> from tinymm.compress import QuantizedEmbedding
    >>> QuantizedEmbedding(nn.Embedding(10, 4))(tm.tensor([1, 2])).shape
    (2, 4)
    """

    def __init__(self, embedding: Embedding):
        super().__init__()
        q, s = kernels.get("quantize_weight_per_channel")(np.ascontiguousarray(embedding.weight.data))
        self.register_buffer("weight_int8", q)
        self.register_buffer("weight_scale", s)
        self.num_embeddings, self.embedding_dim = q.shape
        self.padding_idx = embedding.padding_idx

    @classmethod
    def from_float(cls, embedding: Embedding, activation_range=None,
                   reduce_range: bool = True) -> QuantizedEmbedding:
        return cls(embedding)  # a lookup: reduce_range does not apply

    def forward(self, input):  # noqa: A002
        ids = input.data if isinstance(input, Tensor) else np.asarray(input)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"QuantizedEmbedding: input must hold integer ids, got {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise IndexError(f"QuantizedEmbedding: ids must be in [0, {self.num_embeddings}), got "
                             f"values in [{ids.min()}, {ids.max()}]")
        rows = self.weight_int8[ids].astype(np.float32) * self.weight_scale[ids][..., None]
        return Tensor(rows)


class QuantizedGRU(QuantizedLSTM):
    """A GRU with int8 weights (see :class:`QuantizedLSTM`)."""


class QuantizedRNN(QuantizedLSTM):
    """An Elman RNN with int8 weights (see :class:`QuantizedLSTM`)."""


_QUANTIZED = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d, Conv1d: QuantizedConv1d,
              LSTM: QuantizedLSTM, GRU: QuantizedGRU, RNN: QuantizedRNN,
              Embedding: QuantizedEmbedding}
DEFAULT_DYNAMIC = (Linear, LSTM)


def _replace(model: Module, kinds: tuple, ranges: dict | None, reduce_range: bool,
             prefix: str = "") -> None:
    for name, child in list(model._modules.items()):
        if child is None:
            continue
        path = f"{prefix}.{name}" if prefix else name
        kind = next((k for k in kinds if type(child) is k), None)
        if kind is not None:
            rng = None if ranges is None else ranges.get(path)
            model._modules[name] = _QUANTIZED[kind].from_float(child, rng, reduce_range)
        else:
            _replace(child, kinds, ranges, reduce_range, path)


def _check_kinds(fn: str, modules) -> tuple:
    kinds = tuple(modules)
    unknown = [k for k in kinds if k not in _QUANTIZED]
    if unknown:
        raise ValueError(f"{fn}: can quantise {sorted(k.__name__ for k in _QUANTIZED)}, got "
                         f"{[getattr(k, '__name__', k) for k in unknown]}")
    return kinds


def quantize_dynamic(model: Module, qconfig_spec: Iterable = DEFAULT_DYNAMIC,
                     dtype: str = "int8", inplace: bool = False, *,
                     reduce_range: bool = True) -> Module:
    """A copy of ``model`` (or ``model`` itself with ``inplace``) whose Linear and LSTM layers
    (or the layer types in ``qconfig_spec``) are int8; activations quantised per call, on 7
    bits (``reduce_range``, the default) or 8.

    >>> from tinymm.compress import quantize_dynamic, weight_bytes
    >>> model = nn.Sequential(nn.Linear(16, 8))
    >>> small = quantize_dynamic(model)
    >>> type(small[0]).__name__, weight_bytes(model), weight_bytes(small)
    ('QuantizedLinear', 544, 232)

    (232 bytes: 128 int8 weights, 8 float32 scales, 8 int32 weight-row sums for the activation
    zero point, 8 float32 biases and the 2-float activation range.)
    """
    fn = "quantize_dynamic"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a tinymm nn.Module, got {type(model).__name__}")
    if dtype not in ("int8", "qint8"):
        raise ValueError(f"{fn}: dtype must be 'int8', got {dtype!r}")
    kinds = _check_kinds(fn, qconfig_spec)
    _check_reduce_range(fn, reduce_range)
    out = model if inplace else copy.deepcopy(model)
    _replace(out, kinds, None, reduce_range)
    return out.eval()


class _RangeObserver(Module):
    """Wraps a layer during calibration and records the range of its inputs."""

    def __init__(self, inner: Module):
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "lo", np.inf)
        object.__setattr__(self, "hi", -np.inf)

    def forward(self, input, *args, **kwargs):  # noqa: A002
        x = input.data if isinstance(input, Tensor) else np.asarray(input)
        object.__setattr__(self, "lo", min(self.lo, float(x.min(initial=np.inf))))
        object.__setattr__(self, "hi", max(self.hi, float(x.max(initial=-np.inf))))
        return self.inner(input, *args, **kwargs)


def quantize_static(model: Module, calibration: Iterable, modules: Iterable = (Linear, Conv1d, Conv2d),
                    inplace: bool = False, *, reduce_range: bool = True) -> Module:
    """A copy of ``model`` with int8 layers whose activation ranges were measured on
    ``calibration`` (an iterable of model inputs, e.g. DataLoader batches) in eval mode;
    activations on 7 bits (``reduce_range``, the default) or 8.

    Layers that no calibration batch reached stay dynamic.

    >>> from tinymm.compress import quantize_static
    >>> model = quantize_static(nn.Sequential(nn.Linear(4, 2)), [tm.randn(8, 4) for _ in range(2)])
    >>> type(model[0]).__name__
    'QuantizedLinear'
    """
    fn = "quantize_static"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a tinymm nn.Module, got {type(model).__name__}")
    kinds = _check_kinds(fn, modules)
    _check_reduce_range(fn, reduce_range)
    out = model if inplace else copy.deepcopy(model)
    observers: dict[str, _RangeObserver] = {}

    def wrap(mod: Module, prefix: str) -> None:
        for name, child in list(mod._modules.items()):
            if child is None:
                continue
            path = f"{prefix}.{name}" if prefix else name
            if type(child) in kinds:
                observers[path] = mod._modules[name] = _RangeObserver(child)
            else:
                wrap(child, path)

    wrap(out, "")
    was_training = out.training
    out.eval()
    batches = 0
    with no_grad():
        for batch in calibration:
            out(batch)
            batches += 1
    if batches == 0:
        raise ValueError(f"{fn}: calibration gave no batches")

    def unwrap(mod: Module) -> None:
        for name, child in list(mod._modules.items()):
            if isinstance(child, _RangeObserver):
                mod._modules[name] = child.inner
            elif child is not None:
                unwrap(child)

    unwrap(out)
    ranges = {p: (o.lo, o.hi) for p, o in observers.items() if np.isfinite(o.lo)}
    _replace(out, kinds, ranges, reduce_range)
    out.train(was_training)
    return out.eval()


def weight_bytes(model: Module) -> int:
    """Bytes of a model's parameters and persistent buffers (what a checkpoint stores,
    without optimizer state).

    >>> from tinymm.compress import weight_bytes
    >>> weight_bytes(nn.Linear(16, 8))                 # (16·8 + 8) float32 values
    544
    """
    return int(sum(a.nbytes for a in model.state_dict().values()))
