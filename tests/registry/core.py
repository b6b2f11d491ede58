"""Registry entries for ``tinymm.functional`` (every name of its ``__all__``).

Calls are written with PyTorch's names, so the same lambda runs on ``torch.nn.functional``
(``torch_call`` defaults to ``call``); the recurrent layer ops have no PyTorch counterpart.
"""

from __future__ import annotations

import tinymm.functional as F

from ._build import distinct, indices, out_of_range, randn
from .spec import DEGENERATE, Dims, Invalid, Sample, Spec

INDEX_ERRORS = (IndexError,)  # an out-of-range index (the API contract, as PyTorch)


def _x(rng, d: Dims, dtype) -> Sample:
    """(N, L, E): one token / batch 1 make the leading dims 1."""
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype)}, grad=("input",))


def _dim_out_of_range(s: Sample, rng) -> Sample:
    return s.with_options(dim=s.arrays["input"].ndim + 2)


_DIM_INVALID = (Invalid("dim out of range", _dim_out_of_range, INDEX_ERRORS),)


def _softmax(rng, d, dtype):
    return _x(rng, d, dtype).with_options(dim=-1)


def _dropout(rng, d, dtype):
    return _x(rng, d, dtype).with_options(p=0.3, training=True)


def _linear(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "weight": randn(rng, (d.F, d.E), dtype, 0.3),
                   "bias": randn(rng, (d.F,), dtype)}, grad=("input", "weight", "bias"))


def _cross_entropy(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N * d.L, d.K), dtype, 2.0),
                   "target": indices(rng, (d.N * d.L,), d.K)},
                  options={"reduction": "mean"}, grad=("input",))


def _target_out_of_range(s: Sample, rng) -> Sample:
    k = s.arrays["input"].shape[1]
    return s.with_arrays(target=out_of_range(s.arrays["target"], k))


def _mse(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.F), dtype),
                   "target": randn(rng, (d.N, d.L, d.F), dtype)},
                  options={"reduction": "mean"}, grad=("input", "target"))


def _bce(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.F), dtype, 2.0),
                   "target": rng.random((d.N, d.L, d.F)).astype(dtype)},
                  options={"reduction": "mean"}, grad=("input", "target"))


def _one_hot(rng, d, dtype):
    return Sample({"tensor": indices(rng, (d.N, d.L), d.K)}, options={"num_classes": d.K})


def _one_hot_out_of_range(s: Sample, rng) -> Sample:
    return s.with_arrays(tensor=out_of_range(s.arrays["tensor"], s.options["num_classes"]))


def _conv1d(rng, d, dtype):
    length = d.W
    k = min(3, length)
    return Sample({"input": randn(rng, (d.N, d.C, length), dtype),
                   "weight": randn(rng, (d.C + 1, d.C, k), dtype, 0.5),
                   "bias": randn(rng, (d.C + 1,), dtype)},
                  options={"stride": 1, "padding": k // 2, "dilation": 1},
                  grad=("input", "weight", "bias"))


def _conv2d(rng, d, dtype):
    kh, kw = min(3, d.H), min(3, d.W)
    return Sample({"input": randn(rng, (d.N, d.C, d.H, d.W), dtype),
                   "weight": randn(rng, (d.C + 1, d.C, kh, kw), dtype, 0.5),
                   "bias": randn(rng, (d.C + 1,), dtype)},
                  options={"stride": 1, "padding": (kh // 2, kw // 2), "dilation": 1},
                  grad=("input", "weight", "bias"))


def _pool1d(rng, d, dtype):
    k = min(2, d.W)
    return Sample({"input": distinct(rng, (d.N, d.C, d.W), dtype)},
                  options={"kernel_size": k, "stride": None, "padding": 0}, grad=("input",))


def _pool2d(rng, d, dtype):
    k = (min(2, d.H), min(2, d.W))
    return Sample({"input": distinct(rng, (d.N, d.C, d.H, d.W), dtype)},
                  options={"kernel_size": k, "stride": None, "padding": 0}, grad=("input",))


def _adaptive(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.C, d.H, d.W), dtype)},
                  options={"output_size": (max(1, d.H // 2), max(1, d.W - 1))}, grad=("input",))


def _layer_norm(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype, 2.0),
                   "weight": randn(rng, (d.E,), dtype),
                   "bias": randn(rng, (d.E,), dtype)},
                  options={"normalized_shape": (d.E,), "eps": 1e-5},
                  grad=("input", "weight", "bias"))


def _embedding(rng, d, dtype):
    return Sample({"input": indices(rng, (d.N, d.L), d.K),
                   "weight": randn(rng, (d.K, d.E), dtype)},
                  options={"padding_idx": None}, grad=("weight",))


def _embedding_out_of_range(s: Sample, rng) -> Sample:
    return s.with_arrays(input=out_of_range(s.arrays["input"], s.arrays["weight"].shape[0]))


def _sdpa(rng, d, dtype):
    hd = d.E // d.heads
    return Sample({"query": randn(rng, (d.N, d.heads, d.L, hd), dtype),
                   "key": randn(rng, (d.N, d.heads, d.S, hd), dtype),
                   "value": randn(rng, (d.N, d.heads, d.S, hd), dtype)},
                  options={"dropout_p": 0.0, "is_causal": False},
                  grad=("query", "key", "value"))


def _recurrent(gates: int, states: tuple[str, ...]):
    def build(rng, d, dtype):
        h = d.F
        arrays = {"input": randn(rng, (d.L, d.N, d.E), dtype)}
        arrays.update({s: randn(rng, (d.N, h), dtype, 0.5) for s in states})
        arrays.update({"w_ih": randn(rng, (gates * h, d.E), dtype, 0.3),
                       "w_hh": randn(rng, (gates * h, h), dtype, 0.3),
                       "b_ih": randn(rng, (gates * h,), dtype, 0.3),
                       "b_hh": randn(rng, (gates * h,), dtype, 0.3)})
        return Sample(arrays, options={"reverse": False}, grad=tuple(arrays))
    return build


_ELEMENTWISE = ("relu", "gelu", "tanh", "sigmoid")
_RECURRENT_SIZES = ("small", "one_token", "batch1", "bench")  # heads/channels/spatial: n/a


def _elementwise(name: str) -> Spec:
    return Spec(f"F.{name}", getattr(F, name), sample=_x,
                call=lambda F, a, o: getattr(F, name)(a["input"]))


SPECS = [
    *(_elementwise(n) for n in _ELEMENTWISE),
    Spec("F.softmax", F.softmax, _softmax, lambda F, a, o: F.softmax(a["input"], **o),
         invalid=_DIM_INVALID),
    Spec("F.log_softmax", F.log_softmax, _softmax,
         lambda F, a, o: F.log_softmax(a["input"], **o), invalid=_DIM_INVALID),
    Spec("F.dropout", F.dropout, _dropout, lambda F, a, o: F.dropout(a["input"], **o),
         random=True,
         invalid=(Invalid("p > 1", lambda s, r: s.with_options(p=1.5)),
                  Invalid("p < 0", lambda s, r: s.with_options(p=-0.1)))),
    Spec("F.linear", F.linear, _linear,
         lambda F, a, o: F.linear(a["input"], a["weight"], a["bias"])),
    Spec("F.cross_entropy", F.cross_entropy, _cross_entropy,
         lambda F, a, o: F.cross_entropy(a["input"], a["target"], **o),
         invalid=(Invalid("target out of range", _target_out_of_range, INDEX_ERRORS),
                  Invalid("negative target", lambda s, r: s.with_arrays(
                      target=out_of_range(s.arrays["target"], -3)), INDEX_ERRORS),
                  Invalid("unknown reduction", lambda s, r: s.with_options(reduction="avg")),
                  Invalid("label_smoothing > 1",
                          lambda s, r: s.with_options(label_smoothing=2.0)))),
    Spec("F.mse_loss", F.mse_loss, _mse,
         lambda F, a, o: F.mse_loss(a["input"], a["target"], **o),
         invalid=(Invalid("unknown reduction", lambda s, r: s.with_options(reduction="avg")),)),
    Spec("F.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, _bce,
         lambda F, a, o: F.binary_cross_entropy_with_logits(a["input"], a["target"], **o)),
    Spec("F.one_hot", F.one_hot, _one_hot,
         lambda F, a, o: F.one_hot(a["tensor"], **o), differentiable=False,
         size_options=("num_classes",), dtypes=(),
         invalid=(Invalid("class out of range", _one_hot_out_of_range, INDEX_ERRORS),)),
    Spec("F.conv1d", F.conv1d, _conv1d,
         lambda F, a, o: F.conv1d(a["input"], a["weight"], a["bias"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("stride", "padding", "dilation"),
         invalid=(Invalid("groups=0", lambda s, r: s.with_options(groups=0)),
                  Invalid("padding='full'", lambda s, r: s.with_options(padding="full")))),
    Spec("F.conv2d", F.conv2d, _conv2d,
         lambda F, a, o: F.conv2d(a["input"], a["weight"], a["bias"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("stride", "padding", "dilation"),
         invalid=(Invalid("strided padding='same'",
                          lambda s, r: s.with_options(padding="same", stride=2)),)),
    Spec("F.max_pool1d", F.max_pool1d, _pool1d,
         lambda F, a, o: F.max_pool1d(a["input"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("kernel_size", "stride", "padding")),
    Spec("F.max_pool2d", F.max_pool2d, _pool2d,
         lambda F, a, o: F.max_pool2d(a["input"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("kernel_size", "stride", "padding"),
         invalid=(Invalid("padding over half the kernel",
                          lambda s, r: s.with_options(kernel_size=2, padding=2)),)),
    Spec("F.avg_pool2d", F.avg_pool2d, _pool2d,
         lambda F, a, o: F.avg_pool2d(a["input"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("kernel_size", "stride", "padding")),
    Spec("F.adaptive_avg_pool2d", F.adaptive_avg_pool2d, _adaptive,
         lambda F, a, o: F.adaptive_avg_pool2d(a["input"], **o),
         sizes=("small", "batch1", "one_channel", "1x1", "bench"),
         size_options=("output_size",)),
    Spec("F.layer_norm", F.layer_norm, _layer_norm,
         lambda F, a, o: F.layer_norm(a["input"], o["normalized_shape"], a["weight"],
                                      a["bias"], o["eps"]),
         invalid=(Invalid("negative eps", lambda s, r: s.with_options(eps=-1.0)),
                  Invalid("normalized_shape mismatch", lambda s, r: s.with_options(
                      normalized_shape=(s.arrays["input"].shape[-1] + 1,))))),
    Spec("F.embedding", F.embedding, _embedding,
         lambda F, a, o: F.embedding(a["input"], a["weight"], **o),
         sizes=("small", "one_token", "batch1", "bench"),
         invalid=(Invalid("index out of range", _embedding_out_of_range, INDEX_ERRORS),
                  Invalid("negative index", lambda s, r: s.with_arrays(
                      input=out_of_range(s.arrays["input"], -1)), INDEX_ERRORS),
                  Invalid("padding_idx out of range", lambda s, r: s.with_options(
                      padding_idx=s.arrays["weight"].shape[0] + 3)))),
    Spec("F.scaled_dot_product_attention", F.scaled_dot_product_attention, _sdpa,
         lambda F, a, o: F.scaled_dot_product_attention(a["query"], a["key"], a["value"], **o),
         sizes=("small", *DEGENERATE[:3], "bench"),
         invalid=(Invalid("dropout_p > 1", lambda s, r: s.with_options(dropout_p=1.5)),)),
    Spec("F.rnn_layer", F.rnn_layer, _recurrent(1, ("h0",)),
         lambda F, a, o: F.rnn_layer(*a.values(), **o), torch_call=None,
         sizes=_RECURRENT_SIZES,
         invalid=(Invalid("unknown nonlinearity",
                          lambda s, r: s.with_options(nonlinearity="sigmoid")),)),
    Spec("F.lstm_layer", F.lstm_layer, _recurrent(4, ("h0", "c0")),
         lambda F, a, o: F.lstm_layer(*a.values(), **o), torch_call=None,
         sizes=_RECURRENT_SIZES),
    Spec("F.gru_layer", F.gru_layer, _recurrent(3, ("h0",)),
         lambda F, a, o: F.gru_layer(*a.values(), **o), torch_call=None,
         sizes=_RECURRENT_SIZES),
]
