"""Registry entries for the Transformer stacks of ``tinymm.nn.transformer`` (the encoder
layer's entry lives in ``modules.py``): ``TransformerEncoder``, ``TransformerDecoderLayer``,
``TransformerDecoder``, each with dropout 0 and ``batch_first=True``."""

from __future__ import annotations

from tinymm import nn

from ._build import randn
from .spec import DEGENERATE, Sample, Spec

_SIZES = ("small", *DEGENERATE[:3], "bench")  # one token, one head, batch 1: the escape shapes
_ALSO = ("TransformerEncoderLayer", "TransformerDecoderLayer", "MultiheadAttention", "Linear",
         "linear", "LayerNorm", "layer_norm")


def _layer_init(d):
    return dict(d_model=d.E, nhead=d.heads, dim_feedforward=2 * d.E)


def _encoder(rng, d, dtype):
    return Sample({"src": randn(rng, (d.N, d.L, d.E), dtype)},
                  init={**_layer_init(d), "num_layers": 2}, grad=("src",))


def _decoder(rng, d, dtype):
    return Sample({"tgt": randn(rng, (d.N, d.L, d.E), dtype),
                   "memory": randn(rng, (d.N, d.S, d.E), dtype)},
                  init={**_layer_init(d), "num_layers": 2}, grad=("tgt", "memory"))


def _decoder_layer(rng, d, dtype):
    s = _decoder(rng, d, dtype)
    return Sample(s.arrays, init=_layer_init(d), grad=s.grad)


def _layer(nn, kind, init):
    init = {k: v for k, v in init.items() if k != "num_layers"}
    return getattr(nn, kind)(**init, dropout=0.0, batch_first=True)


SPECS = [
    Spec("nn.TransformerEncoder", nn.TransformerEncoder, _encoder,
         lambda m, a, o: m(a["src"]),
         make=lambda nn, init: nn.TransformerEncoder(
             _layer(nn, "TransformerEncoderLayer", init), init["num_layers"],
             norm=nn.LayerNorm(init["d_model"]), enable_nested_tensor=False),
         sizes=_SIZES, size_options=("d_model", "nhead", "num_layers"), also_named=_ALSO),
    Spec("nn.TransformerDecoderLayer", nn.TransformerDecoderLayer, _decoder_layer,
         lambda m, a, o: m(a["tgt"], a["memory"]),
         make=lambda nn, init: _layer(nn, "TransformerDecoderLayer", init),
         sizes=_SIZES, size_options=("d_model", "nhead", "dim_feedforward"), also_named=_ALSO),
    Spec("nn.TransformerDecoder", nn.TransformerDecoder, _decoder,
         lambda m, a, o: m(a["tgt"], a["memory"]),
         make=lambda nn, init: nn.TransformerDecoder(
             _layer(nn, "TransformerDecoderLayer", init), init["num_layers"]),
         sizes=_SIZES, size_options=("d_model", "nhead", "num_layers"), also_named=_ALSO),
]
