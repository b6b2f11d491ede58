"""Registry entries for the ``tinymm.nn`` layers (every exported Module subclass with a
forward; containers without one are exempt in ``tests/registry/test_registry.py``).

``make(nn, init)`` builds the module from ``tinymm.nn`` or ``torch.nn`` (same names and
constructor arguments); PyTorch parity copies the tinymm module's ``state_dict`` into the
torch module, so both run with the same parameters.
"""

from __future__ import annotations

from tinymm import nn

from ._build import distinct, indices, out_of_range, randn
from .core import INDEX_ERRORS
from .spec import DEGENERATE, Invalid, Sample, Spec

_SPATIAL = ("small", "batch1", "one_channel", "1x1", "bench")
_SEQUENCE = ("small", "one_token", "batch1", "bench")


def _forward(m, a, o):
    """m(first array) — the usual one-input forward."""
    return m(next(iter(a.values())))


def _image(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.C, d.H, d.W), dtype)}, grad=("input",))


def _tokens(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype)}, grad=("input",))


def _simple(name: str, sample=_tokens, **kwargs) -> Spec:
    """A module whose constructor takes ``init`` and whose forward takes one input."""
    return Spec(f"nn.{name}", getattr(nn, name), sample=sample,
                make=lambda nn, init: getattr(nn, name)(**init), call=_forward, **kwargs)


def _with_init(build, **init):
    return lambda rng, d, dtype: build(rng, d, dtype).with_init(**init)


def _linear(rng, d, dtype):
    return _tokens(rng, d, dtype).with_init(in_features=d.E, out_features=d.F)


def _flatten(rng, d, dtype):
    return _image(rng, d, dtype).with_init(start_dim=1, end_dim=-1)


def _ce(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N * d.L, d.K), dtype, 2.0),
                   "target": indices(rng, (d.N * d.L,), d.K)}, grad=("input",))


def _pair(rng, d, dtype, target_scale=None):
    shape = (d.N, d.L, d.F)
    target = randn(rng, shape, dtype) if target_scale is None else \
        rng.random(shape).astype(dtype)
    return Sample({"input": randn(rng, shape, dtype), "target": target},
                  grad=("input", "target"))


def _loss_call(m, a, o):
    return m(a["input"], a["target"])


def _conv1d(rng, d, dtype):
    k = min(3, d.W)
    return Sample({"input": randn(rng, (d.N, d.C, d.W), dtype)},
                  init={"in_channels": d.C, "out_channels": d.C + 1, "kernel_size": k,
                        "padding": k // 2}, grad=("input",))


def _conv2d(rng, d, dtype):
    k = (min(3, d.H), min(3, d.W))
    return Sample({"input": randn(rng, (d.N, d.C, d.H, d.W), dtype)},
                  init={"in_channels": d.C, "out_channels": d.C + 1, "kernel_size": k,
                        "padding": (k[0] // 2, k[1] // 2)}, grad=("input",))


def _pool1d(rng, d, dtype):
    return Sample({"input": distinct(rng, (d.N, d.C, d.W), dtype)},
                  init={"kernel_size": min(2, d.W)}, grad=("input",))


def _pool2d(rng, d, dtype):
    return Sample({"input": distinct(rng, (d.N, d.C, d.H, d.W), dtype)},
                  init={"kernel_size": (min(2, d.H), min(2, d.W))}, grad=("input",))


def _adaptive(rng, d, dtype):
    return _image(rng, d, dtype).with_init(output_size=(max(1, d.H // 2), max(1, d.W - 1)))


def _embedding(rng, d, dtype):
    return Sample({"input": indices(rng, (d.N, d.L), d.K)},
                  init={"num_embeddings": d.K, "embedding_dim": d.E})


def _embedding_out_of_range(s: Sample, rng) -> Sample:
    return s.with_arrays(input=out_of_range(s.arrays["input"], s.init["num_embeddings"]))


def _layer_norm(rng, d, dtype):
    return _tokens(rng, d, dtype).with_init(normalized_shape=d.E)


def _recurrent(**extra):
    def build(rng, d, dtype):
        return Sample({"input": randn(rng, (d.L, d.N, d.E), dtype)},
                      init={"input_size": d.E, "hidden_size": d.F, **extra}, grad=("input",))
    return build


def _mha(rng, d, dtype):
    return Sample({"query": randn(rng, (d.N, d.L, d.E), dtype),
                   "key": randn(rng, (d.N, d.S, d.E), dtype),
                   "value": randn(rng, (d.N, d.S, d.E), dtype)},
                  init={"embed_dim": d.E, "num_heads": d.heads, "batch_first": True},
                  grad=("query", "key", "value"))


def _mha_self(rng, d, dtype):
    s = _mha(rng, d, dtype)
    return Sample({"query": s.arrays["query"]}, init=s.init, grad=("query",))


def _mha_kv(rng, d, dtype):
    s = _mha(rng, d, dtype)
    return Sample({"query": s.arrays["query"], "key": s.arrays["key"]}, init=s.init,
                  grad=("query", "key"))


def _encoder(rng, d, dtype):
    return _tokens(rng, d, dtype).with_init(d_model=d.E, nhead=d.heads,
                                            dim_feedforward=2 * d.E, dropout=0.0,
                                            batch_first=True)


_MHA_SIZES = ("small", *DEGENERATE[:3], "bench")
_RNN_OPTIONS = ("input_size", "hidden_size", "num_layers")

SPECS = [
    *(_simple(n, also_named=(n.lower(),)) for n in ("ReLU", "GELU", "Tanh", "Sigmoid")),
    _simple("Softmax", _with_init(_tokens, dim=-1), also_named=("softmax",)),
    _simple("LogSoftmax", _with_init(_tokens, dim=-1), also_named=("log_softmax",)),
    _simple("Dropout", _with_init(_tokens, p=0.3), random=True, also_named=("dropout",),
            invalid=(Invalid("p > 1", lambda s, r: s.with_init(p=1.5)),)),
    _simple("Identity", _image, passthrough=True),
    _simple("Flatten", _flatten, sizes=_SPATIAL, also_named=("flatten",)),
    _simple("Linear", _linear, size_options=("in_features", "out_features"),
            also_named=("linear",)),
    Spec("nn.CrossEntropyLoss", nn.CrossEntropyLoss, _ce, _loss_call,
         make=lambda nn, init: nn.CrossEntropyLoss(**init), also_named=("cross_entropy",),
         invalid=(Invalid("target out of range", lambda s, r: s.with_arrays(target=out_of_range(
             s.arrays["target"], s.arrays["input"].shape[1])), INDEX_ERRORS),
                  Invalid("unknown reduction", lambda s, r: s.with_init(reduction="avg")))),
    Spec("nn.MSELoss", nn.MSELoss, _pair, _loss_call,
         make=lambda nn, init: nn.MSELoss(**init), also_named=("mse_loss",)),
    Spec("nn.BCEWithLogitsLoss", nn.BCEWithLogitsLoss,
         lambda rng, d, dtype: _pair(rng, d, dtype, target_scale=1.0), _loss_call,
         make=lambda nn, init: nn.BCEWithLogitsLoss(**init),
         also_named=("binary_cross_entropy_with_logits",)),
    _simple("Conv1d", _conv1d, sizes=_SPATIAL,
            size_options=("in_channels", "out_channels", "kernel_size", "padding"),
            also_named=("conv1d",)),
    _simple("Conv2d", _conv2d, sizes=_SPATIAL,
            size_options=("in_channels", "out_channels", "kernel_size", "padding"),
            also_named=("conv2d",)),
    _simple("MaxPool1d", _pool1d, sizes=_SPATIAL, size_options=("kernel_size",),
            also_named=("max_pool1d",)),
    _simple("MaxPool2d", _pool2d, sizes=_SPATIAL, size_options=("kernel_size",),
            also_named=("max_pool2d",)),
    _simple("AvgPool2d", _pool2d, sizes=_SPATIAL, size_options=("kernel_size",),
            also_named=("avg_pool2d",)),
    _simple("AdaptiveAvgPool2d", _adaptive, sizes=_SPATIAL, size_options=("output_size",),
            also_named=("adaptive_avg_pool2d",)),
    _simple("Embedding", _embedding, sizes=_SEQUENCE,
            size_options=("num_embeddings", "embedding_dim"), also_named=("embedding",),
            invalid=(Invalid("index out of range", _embedding_out_of_range, INDEX_ERRORS),)),
    _simple("LayerNorm", _layer_norm, size_options=("normalized_shape",),
            also_named=("layer_norm",)),
    _simple("RNN", _recurrent(), sizes=_SEQUENCE, size_options=_RNN_OPTIONS),
    _simple("LSTM", _recurrent(), sizes=_SEQUENCE, size_options=_RNN_OPTIONS),
    _simple("GRU", _recurrent(), sizes=_SEQUENCE, size_options=_RNN_OPTIONS),
    Spec("nn.LSTM[2 layers, bidirectional, batch_first]", nn.LSTM,
         lambda rng, d, dtype: Sample({"input": randn(rng, (d.N, d.L, d.E), dtype)},
                                      init={"input_size": d.E, "hidden_size": d.F,
                                            "num_layers": 2, "bidirectional": True,
                                            "batch_first": True}, grad=("input",)),
         _forward, make=lambda nn, init: nn.LSTM(**init), sizes=_SEQUENCE, error_name="LSTM"),
    Spec("nn.MultiheadAttention[cross]", nn.MultiheadAttention, _mha,
         lambda m, a, o: m(a["query"], a["key"], a["value"]),
         make=lambda nn, init: nn.MultiheadAttention(**init), sizes=_MHA_SIZES,
         size_options=("embed_dim", "num_heads"), error_name="MultiheadAttention"),
    Spec("nn.MultiheadAttention[key is value]", nn.MultiheadAttention, _mha_kv,
         lambda m, a, o: m(a["query"], a["key"], a["key"]),
         make=lambda nn, init: nn.MultiheadAttention(**init), sizes=_MHA_SIZES,
         error_name="MultiheadAttention"),
    Spec("nn.MultiheadAttention[self]", nn.MultiheadAttention, _mha_self,
         lambda m, a, o: m(a["query"], a["query"], a["query"]),
         make=lambda nn, init: nn.MultiheadAttention(**init), sizes=_MHA_SIZES,
         error_name="MultiheadAttention"),
    _simple("TransformerEncoderLayer", _encoder, sizes=_MHA_SIZES,
            size_options=("d_model", "nhead", "dim_feedforward"),
            also_named=("MultiheadAttention", "linear", "layer_norm")),
    Spec("nn.Sequential", nn.Sequential, _linear,
         lambda m, a, o: m(a["input"]),
         make=lambda nn, init: nn.Sequential(nn.Linear(init["in_features"], init["out_features"]),
                                             nn.ReLU(), nn.Linear(init["out_features"], 2)),
         also_named=("Linear", "linear")),
]
