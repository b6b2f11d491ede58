"""Registry entries for h8's ops and layers: grouped/depthwise and transposed convolutions,
``F.pad``, ``F.interpolate``/``nn.Upsample``, ``F.bilinear``/``nn.Bilinear``, ``nn.Unflatten``.
(``nn.ParameterList`` has no forward and is exempt, as ``ModuleList``.)
"""

from __future__ import annotations

import tinymm.functional as F
from tinymm import nn

from ._build import randn
from .spec import Invalid, Sample, Spec

_SPATIAL = ("small", "batch1", "one_channel", "1x1", "bench")


def _image(rng, d, dtype, channels=None):
    return randn(rng, (d.N, channels or d.C, d.H, d.W), dtype)


def _depthwise(rng, d, dtype):
    """Two outputs per input channel (groups = C_in), 3x3 (clipped to the image)."""
    kh, kw = min(3, d.H), min(3, d.W)
    return Sample({"input": _image(rng, d, dtype), "weight": randn(rng, (2 * d.C, 1, kh, kw),
                                                                  dtype, 0.5),
                   "bias": randn(rng, (2 * d.C,), dtype)},
                  options={"stride": 1, "padding": (kh // 2, kw // 2), "dilation": 1,
                           "groups": d.C}, grad=("input", "weight", "bias"))


def _grouped(rng, d, dtype):
    """groups=2 over 2·C input and 2·(C+1) output channels."""
    kh, kw = min(3, d.H), min(3, d.W)
    return Sample({"input": _image(rng, d, dtype, 2 * d.C),
                   "weight": randn(rng, (2 * (d.C + 1), d.C, kh, kw), dtype, 0.5),
                   "bias": None},
                  options={"stride": (1, 2), "padding": (kh // 2, 0), "dilation": 1,
                           "groups": 2}, grad=("input", "weight"))


def _depthwise1d(rng, d, dtype):
    k = min(3, d.W)
    return Sample({"input": randn(rng, (d.N, d.C, d.W), dtype),
                   "weight": randn(rng, (d.C, 1, k), dtype, 0.5)},
                  options={"stride": 1, "padding": k // 2, "groups": d.C},
                  grad=("input", "weight"))


def _transposed(rng, d, dtype):
    kh, kw = min(3, d.H + 1), min(3, d.W + 1)
    return Sample({"input": _image(rng, d, dtype),
                   "weight": randn(rng, (d.C, d.C + 1, kh, kw), dtype, 0.5),
                   "bias": randn(rng, (d.C + 1,), dtype)},
                  options={"stride": 2, "padding": 1, "output_padding": 1, "groups": 1,
                           "dilation": 1}, grad=("input", "weight", "bias"))


def _transposed1d(rng, d, dtype):
    k = min(3, d.W + 1)
    return Sample({"input": randn(rng, (d.N, d.C, d.W), dtype),
                   "weight": randn(rng, (d.C, d.C + 1, k), dtype, 0.5), "bias": None},
                  options={"stride": 2, "padding": 0, "output_padding": 1, "groups": 1,
                           "dilation": 1}, grad=("input", "weight"))


def _conv_transpose1d_module(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.C, d.W), dtype)},
                  init={"in_channels": d.C, "out_channels": d.C + 2, "kernel_size": 3,
                        "stride": 2, "padding": 1}, grad=("input",))


def _padded(mode, pad, value=None):
    """``pad``: a tuple, or (dims -> tuple) where the amounts depend on the image size."""
    def build(rng, d, dtype):
        amounts = pad(d) if callable(pad) else pad
        return Sample({"input": _image(rng, d, dtype)}, options={"pad": amounts, "mode": mode,
                                                                 "value": value},
                      grad=("input",))
    return build


def _reflect_amounts(d):
    """Reflection pads at most size - 1 per side."""
    return (min(2, d.W - 1), min(1, d.W - 1), min(1, d.H - 1), min(2, d.H - 1))


def _interp(**options):
    def build(rng, d, dtype):
        return Sample({"input": _image(rng, d, dtype)}, options=dict(options), grad=("input",))
    return build


def _bilinear(rng, d, dtype):
    return Sample({"input1": randn(rng, (d.N, d.L, d.E), dtype),
                   "input2": randn(rng, (d.N, d.L, d.F), dtype),
                   "weight": randn(rng, (d.F + 1, d.E, d.F), dtype, 0.3),
                   "bias": randn(rng, (d.F + 1,), dtype)},
                  grad=("input1", "input2", "weight", "bias"))


def _bilinear_module(rng, d, dtype):
    s = _bilinear(rng, d, dtype)
    return Sample({"input1": s.arrays["input1"], "input2": s.arrays["input2"]},
                  init={"in1_features": d.E, "in2_features": d.F, "out_features": d.F + 1},
                  grad=("input1", "input2"))


def _conv_call(name):
    return lambda F, a, o: getattr(F, name)(a["input"], a["weight"], a.get("bias"), **o)


def _image_module(**init):
    def build(rng, d, dtype):
        return Sample({"input": _image(rng, d, dtype)}, init=dict(init), grad=("input",))
    return build


def _conv_transpose_module(rng, d, dtype):
    return Sample({"input": _image(rng, d, dtype)},
                  init={"in_channels": d.C, "out_channels": 2 * d.C, "kernel_size": 2,
                        "stride": 2, "groups": d.C}, grad=("input",))


def _depthwise_module(rng, d, dtype):
    return Sample({"input": _image(rng, d, dtype)},
                  init={"in_channels": d.C, "out_channels": d.C, "kernel_size": 1 + 2 * (
                      d.H > 1 and d.W > 1), "padding": int(d.H > 1 and d.W > 1),
                        "groups": d.C}, grad=("input",))


def _unflatten(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L * d.E), dtype)},
                  init={"dim": 1, "unflattened_size": (d.L, d.E)}, grad=("input",))


def _forward(m, a, o):
    return m(*[v for v in a.values() if v is not None])


SPECS = [
    Spec("F.conv2d[depthwise]", F.conv2d, _depthwise, _conv_call("conv2d"), sizes=_SPATIAL,
         size_options=("stride", "padding", "dilation", "groups"), error_name="conv2d",
         invalid=(Invalid("groups not dividing the channels",
                          lambda s, r: s.with_options(groups=s.arrays["input"].shape[1] + 1)),)),
    Spec("F.conv2d[groups=2]", F.conv2d, _grouped, _conv_call("conv2d"), sizes=_SPATIAL,
         size_options=("stride", "padding", "groups"), error_name="conv2d"),
    Spec("F.conv1d[depthwise]", F.conv1d, _depthwise1d, _conv_call("conv1d"),
         sizes=_SPATIAL, size_options=("stride", "padding", "groups"), error_name="conv1d"),
    Spec("F.conv_transpose2d", F.conv_transpose2d, _transposed, _conv_call("conv_transpose2d"),
         sizes=_SPATIAL, size_options=("stride", "padding", "output_padding", "dilation"),
         invalid=(Invalid("output_padding >= stride",
                          lambda s, r: s.with_options(output_padding=2)),)),
    Spec("F.conv_transpose1d", F.conv_transpose1d, _transposed1d,
         _conv_call("conv_transpose1d"), sizes=_SPATIAL,
         size_options=("stride", "padding", "output_padding", "dilation")),
    Spec("nn.ConvTranspose1d", nn.ConvTranspose1d, _conv_transpose1d_module, _forward,
         make=lambda nn, init: nn.ConvTranspose1d(**init), sizes=_SPATIAL,
         size_options=("in_channels", "out_channels", "kernel_size", "stride"),
         also_named=("conv_transpose1d", "conv_transpose2d")),
    Spec("F.pad[constant]", F.pad, _padded("constant", (1, 2, 0, 3), 0.5),
         lambda F, a, o: F.pad(a["input"], **o), sizes=_SPATIAL,
         invalid=(Invalid("odd pad length", lambda s, r: s.with_options(pad=(1, 2, 3))),
                  Invalid("unknown mode", lambda s, r: s.with_options(mode="wrap"))),
         error_name="pad"),
    Spec("F.pad[reflect]", F.pad, _padded("reflect", _reflect_amounts),
         lambda F, a, o: F.pad(a["input"], **o), sizes=_SPATIAL, error_name="pad",
         invalid=(Invalid("pad beyond the size",
                          lambda s, r: s.with_options(pad=(s.arrays["input"].shape[-1],) * 2)),
                  Invalid("1-D pad of a 4-D input", lambda s, r: s.with_options(pad=(0, 0))))),
    Spec("F.pad[replicate]", F.pad, _padded("replicate", (2, 1, 1, 3)),
         lambda F, a, o: F.pad(a["input"], **o), sizes=_SPATIAL, error_name="pad"),
    Spec("F.pad[circular]", F.pad, _padded("circular", (1, 0, 0, 1)),
         lambda F, a, o: F.pad(a["input"], **o), sizes=_SPATIAL, error_name="pad"),
    Spec("F.interpolate[nearest]", F.interpolate, _interp(scale_factor=2, mode="nearest"),
         lambda F, a, o: F.interpolate(a["input"], **o), sizes=_SPATIAL,
         error_name="interpolate"),
    Spec("F.interpolate[bilinear]", F.interpolate,
         _interp(size=(7, 3), mode="bilinear", align_corners=False),
         lambda F, a, o: F.interpolate(a["input"], **o), sizes=_SPATIAL,
         size_options=("size",), error_name="interpolate",
         invalid=(Invalid("both size and scale_factor",
                          lambda s, r: s.with_options(scale_factor=2.0)),)),
    Spec("F.interpolate[bilinear, align_corners]", F.interpolate,
         _interp(scale_factor=1.5, mode="bilinear", align_corners=True),
         lambda F, a, o: F.interpolate(a["input"], **o), sizes=_SPATIAL,
         error_name="interpolate"),
    Spec("F.bilinear", F.bilinear, _bilinear,
         lambda F, a, o: F.bilinear(a["input1"], a["input2"], a["weight"], a["bias"])),
    Spec("nn.Conv2d[depthwise]", nn.Conv2d, _depthwise_module, _forward,
         make=lambda nn, init: nn.Conv2d(**init), sizes=_SPATIAL,
         size_options=("in_channels", "out_channels", "groups"), error_name="Conv2d",
         also_named=("conv2d",)),
    Spec("nn.ConvTranspose2d", nn.ConvTranspose2d, _conv_transpose_module, _forward,
         make=lambda nn, init: nn.ConvTranspose2d(**init), sizes=_SPATIAL,
         size_options=("in_channels", "out_channels", "kernel_size", "stride"),
         also_named=("conv_transpose2d",)),
    Spec("nn.Upsample", nn.Upsample, _image_module(scale_factor=2, mode="bilinear"),
         _forward, make=lambda nn, init: nn.Upsample(**init), sizes=_SPATIAL,
         also_named=("interpolate",)),
    Spec("nn.Bilinear", nn.Bilinear, _bilinear_module, _forward,
         make=lambda nn, init: nn.Bilinear(**init),
         size_options=("in1_features", "in2_features", "out_features"),
         also_named=("bilinear",)),
    Spec("nn.Unflatten", nn.Unflatten, _unflatten, _forward,
         make=lambda nn, init: nn.Unflatten(**init)),
]


# ---------------------------------------------------------------------------------------
# packed sequences: tinymm.nn.utils.rnn, and the recurrent layers on PackedSequences


def _rnn_utils(target):
    """``nn.utils.rnn`` of the framework ``target`` (a functional namespace or a module)."""
    import tinymm

    if type(target).__module__.startswith("torch") or getattr(target, "__name__", "").startswith(
            "torch"):
        import torch

        return torch.nn.utils.rnn
    return tinymm.nn.utils.rnn


def _lengths(d):
    """Decreasing-by-position-free lengths in [1, L]: the batch is deliberately unsorted."""
    return [max(1, d.L - (3 * i) % d.L) for i in range(d.N)]


def _padded_batch(rng, d, dtype):
    return Sample({"input": randn(rng, (d.L, d.N, d.E), dtype)},
                  options={"lengths": _lengths(d)}, grad=("input",))


def _pack_round_trip(F, a, o):
    rnn = _rnn_utils(F)
    packed = rnn.pack_padded_sequence(a["input"], o["lengths"], enforce_sorted=False)
    return rnn.pad_packed_sequence(packed, padding_value=-1.0)[0]


def _sequences(rng, d, dtype):
    return Sample({f"seq{i}": randn(rng, (max(1, d.L - i), d.E), dtype) for i in range(3)},
                  grad=("seq0", "seq1", "seq2"))


def _pad_sequence(F, a, o):
    return _rnn_utils(F).pad_sequence(list(a.values()), batch_first=True, padding_value=2.0)


def _packed_recurrent(**extra):
    def build(rng, d, dtype):
        return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype)},
                      options={"lengths": _lengths(d)},
                      init={"input_size": d.E, "hidden_size": d.F, "batch_first": True,
                            **extra}, grad=("input",))
    return build


def _packed_call(m, a, o):
    rnn = _rnn_utils(m)
    packed = rnn.pack_padded_sequence(a["input"], o["lengths"], batch_first=True,
                                      enforce_sorted=False)
    out, state = m(packed)
    return rnn.pad_packed_sequence(out, batch_first=True)[0], state


_SEQ = ("small", "one_token", "batch1", "bench")
_PACKED = ("pack_padded_sequence", "pad_packed_sequence")

SPECS += [
    Spec("utils.rnn.pack_padded_sequence", nn.utils.rnn.pack_padded_sequence, _padded_batch,
         _pack_round_trip, sizes=_SEQ, error_name="pack_padded_sequence",
         also_named=("pad_packed_sequence",),
         invalid=(Invalid("a length beyond the padded length", lambda s, r: s.with_options(
             lengths=[s.arrays["input"].shape[0] + 1] + s.options["lengths"][1:])),
                  Invalid("a zero length", lambda s, r: s.with_options(
                      lengths=[0] + s.options["lengths"][1:])))),
    Spec("utils.rnn.pad_sequence", nn.utils.rnn.pad_sequence, _sequences, _pad_sequence,
         sizes=("small", "batch1", "bench"), error_name="pad_sequence"),
    Spec("nn.LSTM[packed, bidirectional]", nn.LSTM,
         _packed_recurrent(num_layers=2, bidirectional=True), _packed_call,
         make=lambda nn, init: nn.LSTM(**init), sizes=_SEQ, error_name="LSTM",
         also_named=_PACKED),
    Spec("nn.GRU[packed]", nn.GRU, _packed_recurrent(), _packed_call,
         make=lambda nn, init: nn.GRU(**init), sizes=_SEQ, error_name="GRU",
         also_named=_PACKED),
    Spec("nn.RNN[packed, relu]", nn.RNN, _packed_recurrent(nonlinearity="relu"), _packed_call,
         make=lambda nn, init: nn.RNN(**init), sizes=_SEQ, error_name="RNN",
         also_named=_PACKED),
]
