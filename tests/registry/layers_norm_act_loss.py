"""Registry entries for batch/group normalisation, channel dropout, the second-round
activations and the losses (functional forms and modules), with PyTorch's names."""

from __future__ import annotations

import numpy as np

import tinymm as tm
import tinymm.functional as F
from tinymm import nn

from ._build import indices, out_of_range, randn
from .core import INDEX_ERRORS
from .spec import Invalid, Sample, Spec

_SPATIAL = ("small", "batch1", "one_channel", "1x1", "bench")


# ----------------------------------------------------------------------------- samples
def _seq(rng, d, dtype):
    """(N, C, L) feature maps."""
    return Sample({"input": randn(rng, (d.N, d.C, d.L), dtype)}, grad=("input",))


def _image(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.C, d.H, d.W), dtype)}, grad=("input",))


def _activation(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype, 2.0)}, grad=("input",))


def _batch_norm(rng, d, dtype):
    c = d.C
    return Sample({"input": randn(rng, (d.N, c, d.H, d.W), dtype, 2.0),
                   "running_mean": randn(rng, (c,), dtype, 0.5),
                   "running_var": rng.uniform(0.5, 2.0, c).astype(dtype),
                   "weight": randn(rng, (c,), dtype),
                   "bias": randn(rng, (c,), dtype)},
                  options={"training": True, "momentum": 0.2, "eps": 1e-5},
                  grad=("input", "weight", "bias"))


def _group_norm(rng, d, dtype):
    c = 2 * d.C
    return Sample({"input": randn(rng, (d.N, c, d.L), dtype, 2.0),
                   "weight": randn(rng, (c,), dtype), "bias": randn(rng, (c,), dtype)},
                  options={"num_groups": 2, "eps": 1e-5}, grad=("input", "weight", "bias"))


def _classes(rng, d, dtype):
    logits = randn(rng, (d.N * d.L, d.K), dtype, 2.0)
    return Sample({"input": logits, "target": indices(rng, (d.N * d.L,), d.K)},
                  options={"reduction": "mean"}, grad=("input",))


def _log_probs(rng, d, dtype):
    s = _classes(rng, d, dtype)
    x = s.arrays["input"].astype(np.float64)
    logp = x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - x.max(1, keepdims=True)
    return s.with_arrays(input=logp.astype(dtype))


def _weighted_classes(rng, d, dtype):
    s = _classes(rng, d, dtype)
    return Sample({**s.arrays, "weight": rng.uniform(0.2, 2.0, d.K).astype(dtype)},
                  options={"reduction": "mean", "label_smoothing": 0.1}, grad=("input",))


def _soft_targets(rng, d, dtype):
    s = _classes(rng, d, dtype)
    y = rng.dirichlet(np.ones(d.K), size=d.N * d.L).astype(dtype)
    return Sample({"input": s.arrays["input"], "target": y},
                  options={"reduction": "mean", "label_smoothing": 0.1}, grad=("input", "target"))


def _pair(rng, d, dtype):
    shape = (d.N, d.L, d.F)
    return Sample({"input": randn(rng, shape, dtype), "target": randn(rng, shape, dtype)},
                  options={"reduction": "mean"}, grad=("input", "target"))


def _probabilities(rng, d, dtype):
    shape = (d.N, d.L, d.F)
    return Sample({"input": rng.uniform(0.05, 0.95, shape).astype(dtype),
                   "target": rng.random(shape).astype(dtype)},
                  options={"reduction": "mean"}, grad=("input", "target"))


def _kl(rng, d, dtype):
    s = _log_probs(rng, d, dtype)
    y = rng.dirichlet(np.ones(d.K), size=d.N * d.L).astype(dtype) + dtype.type(1e-3)
    return Sample({"input": s.arrays["input"], "target": y},
                  options={"reduction": "batchmean"}, grad=("input", "target"))


def _cosine(rng, d, dtype):
    return Sample({"input1": randn(rng, (d.N, d.E), dtype), "input2": randn(rng, (d.N, d.E), dtype),
                   "target": np.where(rng.random(d.N) < 0.5, -1, 1).astype(np.int64)},
                  options={"margin": 0.1, "reduction": "mean"}, grad=("input1", "input2"))


def _drop(rng, d, dtype, image):
    s = _image(rng, d, dtype) if image else _seq(rng, d, dtype)
    return s.with_options(p=0.4, training=True)


# ----------------------------------------------------------------------------- invalid variants
def _bad(kind, **options):
    return Invalid(kind, lambda s, r: s.with_options(**options))


def _bad_init(kind, **init):
    return Invalid(kind, lambda s, r: s.with_init(**init))


_TARGET_OUT = Invalid("target out of range", lambda s, r: s.with_arrays(
    target=out_of_range(s.arrays["target"], s.arrays["input"].shape[1])), INDEX_ERRORS)
_BAD_REDUCTION = _bad("unknown reduction", reduction="avg")


def _activation_spec(name, call, **kwargs):
    return Spec(f"F.{name}", getattr(F, name.split("[")[0]), _activation, call,
                error_name=name.split("[")[0], **kwargs)


def _loss(name, sample, call, **kwargs):
    return Spec(f"F.{name}", getattr(F, name.split("[")[0]), sample, call,
                error_name=name.split("[")[0], **kwargs)


# the functions each module's forward delegates to (their names may head its errors)
_DELEGATES = {
    "BatchNorm1d": ("batch_norm",), "BatchNorm2d": ("batch_norm",), "GroupNorm": ("group_norm",),
    "Dropout1d": ("dropout1d",), "Dropout2d": ("dropout2d",), "LeakyReLU": ("leaky_relu",),
    "ELU": ("elu",), "SiLU": ("silu",), "Softplus": ("softplus",), "Mish": ("mish",),
    "Hardtanh": ("hardtanh",), "GELU": ("gelu",), "NLLLoss": ("nll_loss",),
    "BCELoss": ("binary_cross_entropy",), "L1Loss": ("l1_loss",),
    "SmoothL1Loss": ("smooth_l1_loss",), "HuberLoss": ("huber_loss",), "KLDivLoss": ("kl_div",),
    "CosineEmbeddingLoss": ("cosine_embedding_loss",),
    "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits",),
}


def _module(name, sample, call=None, init=None, **kwargs):
    init = init or {}
    kwargs.setdefault("also_named", _DELEGATES[name.split("[")[0]])
    return Spec(f"nn.{name}", getattr(nn, name.split("[")[0]),
                lambda rng, d, dtype: sample(rng, d, dtype).with_init(**init(d) if callable(init)
                                                                      else init),
                call or (lambda m, a, o: m(*(v for v in a.values()))),
                make=lambda nn, i: getattr(nn, name.split("[")[0])(**i),
                error_name=name.split("[")[0], **kwargs)


def _without_options(build):
    """The functional sample with its options moved out (modules take them in init)."""
    def sample(rng, d, dtype):
        s = build(rng, d, dtype)
        return Sample(s.arrays, {}, s.init, s.grad)
    return sample


def _bn_module_sample(dims):
    def build(rng, d, dtype):
        shape = {1: (d.N, d.C, d.L), 2: (d.N, d.C, d.H, d.W)}[dims]
        return Sample({"input": randn(rng, shape, dtype, 2.0)}, init={"num_features": d.C},
                      grad=("input",))
    return build


def _bce_with_pos_weight(nn_namespace, init):
    """BCEWithLogitsLoss with a per-feature ``pos_weight`` buffer, in either framework."""
    values = np.linspace(0.5, 2.0, init["features"], dtype=np.float32)
    if nn_namespace.__name__.startswith("torch"):
        import torch

        return nn_namespace.BCEWithLogitsLoss(pos_weight=torch.from_numpy(values))
    return nn_namespace.BCEWithLogitsLoss(pos_weight=tm.tensor(values))


SPECS = [
    # normalisation
    Spec("F.batch_norm", F.batch_norm, _batch_norm,
         lambda F, a, o: F.batch_norm(a["input"], a["running_mean"], a["running_var"],
                                      a["weight"], a["bias"], **o),
         sizes=_SPATIAL,
         invalid=(_bad("negative eps", eps=-1.0),
                  Invalid("running_mean of the wrong length", lambda s, r: s.with_arrays(
                      running_mean=np.zeros(s.arrays["input"].shape[1] + 1,
                                            s.arrays["input"].dtype))))),
    Spec("F.batch_norm[eval]", F.batch_norm,
         lambda rng, d, dtype: _batch_norm(rng, d, dtype).with_options(training=False),
         lambda F, a, o: F.batch_norm(a["input"], a["running_mean"], a["running_var"],
                                      a["weight"], a["bias"], **o),
         sizes=_SPATIAL, error_name="batch_norm"),
    Spec("F.group_norm", F.group_norm, _group_norm,
         lambda F, a, o: F.group_norm(a["input"], o["num_groups"], a["weight"], a["bias"],
                                      o["eps"]),
         size_options=("num_groups",),
         invalid=(Invalid("num_groups does not divide the channels",
                          lambda s, r: s.with_options(num_groups=s.arrays["input"].shape[1] + 1)),)),
    Spec("F.dropout1d", F.dropout1d, lambda rng, d, dtype: _drop(rng, d, dtype, False),
         lambda F, a, o: F.dropout1d(a["input"], **o), random=True,
         invalid=(_bad("p > 1", p=1.5),)),
    Spec("F.dropout2d", F.dropout2d, lambda rng, d, dtype: _drop(rng, d, dtype, True),
         lambda F, a, o: F.dropout2d(a["input"], **o), random=True, sizes=_SPATIAL,
         invalid=(_bad("p < 0", p=-0.5),)),
    # activations
    _activation_spec("leaky_relu", lambda F, a, o: F.leaky_relu(a["input"], 0.2)),
    _activation_spec("elu", lambda F, a, o: F.elu(a["input"], 0.7)),
    _activation_spec("silu", lambda F, a, o: F.silu(a["input"])),
    _activation_spec("softplus", lambda F, a, o: F.softplus(a["input"], 2.0, 3.0)),
    _activation_spec("mish", lambda F, a, o: F.mish(a["input"])),
    Spec("F.hardtanh", F.hardtanh,
         lambda rng, d, dtype: _activation(rng, d, dtype).with_options(min_val=-0.5, max_val=1.5),
         lambda F, a, o: F.hardtanh(a["input"], **o),
         invalid=(_bad("min_val > max_val", min_val=2.0, max_val=1.0),)),
    _activation_spec("gelu[tanh]", lambda F, a, o: F.gelu(a["input"], approximate="tanh")),
    # losses
    _loss("nll_loss", _log_probs, lambda F, a, o: F.nll_loss(a["input"], a["target"], **o),
          invalid=(_TARGET_OUT, _BAD_REDUCTION)),
    _loss("cross_entropy[weight, smoothing]", _weighted_classes,
          lambda F, a, o: F.cross_entropy(a["input"], a["target"], a["weight"], **o),
          invalid=(_TARGET_OUT,)),
    _loss("cross_entropy[probabilities]", _soft_targets,
          lambda F, a, o: F.cross_entropy(a["input"], a["target"], **o),
          invalid=(_bad("ignore_index with probabilities", ignore_index=1),)),
    _loss("binary_cross_entropy", _probabilities,
          lambda F, a, o: F.binary_cross_entropy(a["input"], a["target"], **o),
          invalid=(Invalid("input outside [0, 1]", lambda s, r: s.with_arrays(
              input=s.arrays["input"] + 2)), _BAD_REDUCTION)),
    _loss("l1_loss", _pair, lambda F, a, o: F.l1_loss(a["input"], a["target"], **o),
          invalid=(_BAD_REDUCTION,)),
    _loss("smooth_l1_loss", _pair,
          lambda F, a, o: F.smooth_l1_loss(a["input"], a["target"], beta=0.5, **o),
          invalid=(_BAD_REDUCTION,)),
    _loss("huber_loss", _pair,
          lambda F, a, o: F.huber_loss(a["input"], a["target"], delta=0.5, **o),
          invalid=(_BAD_REDUCTION,)),
    _loss("kl_div", _kl, lambda F, a, o: F.kl_div(a["input"], a["target"], **o),
          invalid=(_BAD_REDUCTION,)),
    _loss("cosine_embedding_loss", _cosine,
          lambda F, a, o: F.cosine_embedding_loss(a["input1"], a["input2"], a["target"], **o),
          invalid=(Invalid("target value 0", lambda s, r: s.with_arrays(
              target=np.zeros_like(s.arrays["target"]))), _BAD_REDUCTION)),
    _loss("binary_cross_entropy_with_logits[weight, pos_weight]",
          lambda rng, d, dtype: Sample(
              {**_probabilities(rng, d, dtype).with_arrays(
                  input=randn(rng, (d.N, d.L, d.F), dtype, 2.0)).arrays,
               "weight": rng.uniform(0.2, 2.0, (d.N, d.L, d.F)).astype(dtype),
               "pos_weight": rng.uniform(0.2, 3.0, d.F).astype(dtype)},
              {"reduction": "mean"}, grad=("input", "target")),
          lambda F, a, o: F.binary_cross_entropy_with_logits(
              a["input"], a["target"], a["weight"], pos_weight=a["pos_weight"], **o),
          invalid=(_BAD_REDUCTION,)),
    _loss("mse_loss[weight]",
          lambda rng, d, dtype: _pair(rng, d, dtype).with_arrays(
              weight=rng.uniform(0.2, 2.0, (d.N, d.L, d.F)).astype(dtype)),
          lambda F, a, o: F.mse_loss(a["input"], a["target"], weight=a["weight"], **o)),
    # modules
    _module("BatchNorm1d", _bn_module_sample(1), lambda m, a, o: m(a["input"]),
            size_options=("num_features",),
            invalid=(_bad_init("num_features mismatch", num_features=99),)),
    _module("BatchNorm1d[momentum=None, affine=False]", _bn_module_sample(1),
            lambda m, a, o: m(a["input"]), init={"momentum": None, "affine": False}),
    _module("BatchNorm2d", _bn_module_sample(2), lambda m, a, o: m(a["input"]), sizes=_SPATIAL,
            size_options=("num_features",)),
    _module("BatchNorm2d[track_running_stats=False]", _bn_module_sample(2),
            lambda m, a, o: m(a["input"]), init={"track_running_stats": False}, sizes=_SPATIAL),
    _module("GroupNorm", lambda rng, d, dtype: Sample(
                {"input": _group_norm(rng, d, dtype).arrays["input"]}, grad=("input",)),
            lambda m, a, o: m(a["input"]),
            init=lambda d: {"num_groups": 2, "num_channels": 2 * d.C}),
    _module("Dropout1d", _seq, lambda m, a, o: m(a["input"]), init={"p": 0.4}, random=True),
    _module("Dropout2d", _image, lambda m, a, o: m(a["input"]), init={"p": 0.4}, random=True,
            sizes=_SPATIAL),
    _module("LeakyReLU", _activation, init={"negative_slope": 0.2}),
    _module("ELU", _activation, init={"alpha": 0.7}),
    _module("SiLU", _activation),
    _module("Softplus", _activation, init={"beta": 2.0, "threshold": 3.0}),
    _module("Mish", _activation),
    _module("Hardtanh", _activation, init={"min_val": -0.5, "max_val": 1.5},
            invalid=(_bad_init("min_val > max_val", min_val=2.0, max_val=1.0),)),
    _module("GELU[tanh]", _activation, init={"approximate": "tanh"}),
    _module("NLLLoss", _without_options(_log_probs), lambda m, a, o: m(a["input"], a["target"])),
    _module("BCELoss", _without_options(_probabilities)),
    _module("L1Loss", _without_options(_pair)),
    _module("SmoothL1Loss", _without_options(_pair), init={"beta": 0.5}),
    _module("HuberLoss", _without_options(_pair), init={"delta": 0.5}),
    _module("KLDivLoss", _without_options(_kl), init={"reduction": "batchmean"}),
    _module("CosineEmbeddingLoss", _without_options(_cosine), init={"margin": 0.1}),
    Spec("nn.BCEWithLogitsLoss[pos_weight]", nn.BCEWithLogitsLoss,
         lambda rng, d, dtype: _without_options(_probabilities)(rng, d, dtype).with_init(
             features=d.F),
         lambda m, a, o: m(a["input"], a["target"]), make=_bce_with_pos_weight,
         error_name="BCEWithLogitsLoss", also_named=_DELEGATES["BCEWithLogitsLoss"]),
]
