"""Ready configurations: ``build_model`` for any dataset, ``seed_model`` for the seed's network."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import nn
from .classifier import MultimodalClassifier
from .encoders import (
    ACTIVATIONS,
    TEXT_KINDS,
    AudioEncoder,
    FrameEncoder,
    ImageEncoder,
    TextEncoder,
    VectorEncoder,
    _check_kind,
)
from .fusion import ConcatFusion, Fusion, GatedFusion, LateFusion, SumFusion
from .fusion_tensor import LowRankFusion, TensorFusion

# Every fusion method once, under its own name. "pooled_attention" is a Transformer over one
# pooled vector per modality; "mult" is the cross-modal Transformer between the modalities'
# sequences (MulT). The sweep (benchmarks/fusion.py) iterates this tuple.
FUSIONS = ("concat", "sum", "gated", "tensor", "lowrank", "pooled_attention", "late", "mult")
# Older names still accepted (CLI, checkpoints): "attention" was the pooled Transformer's name.
FUSION_ALIASES = {"attention": "pooled_attention"}
FUSION_CHOICES = FUSIONS + tuple(FUSION_ALIASES)
# Fusions that read each encoder's sequence (encoder.sequence) instead of its pooled vector.
SEQUENCE_FUSIONS = ("mult",)


def canonical_fusion(method: str) -> str:
    """The name in ``FUSIONS`` that ``method`` (a name or an alias) stands for.

    >>> canonical_fusion("attention"), canonical_fusion("gated")
    ('pooled_attention', 'gated')
    """
    name = FUSION_ALIASES.get(method, method)
    if name not in FUSIONS:
        raise ValueError(f"canonical_fusion: method must be one of {FUSION_CHOICES}, "
                         f"got {method!r}")
    return name


def make_fusion(method: str, in_features: Mapping[str, int], num_classes: int,
                **options) -> Fusion:
    """The fusion module called ``method`` for these per-modality sizes (options: its kwargs).

    Sizes are the encoders' ``out_features``, or their ``seq_features`` for a method in
    ``SEQUENCE_FUSIONS``.

    >>> fusion = make_fusion("gated", {"image": 4, "text": 3}, num_classes=5, dim=6)
    >>> type(fusion).__name__, fusion.out_features
    ('GatedFusion', 6)
    >>> make_fusion("late", {"image": 4, "text": 3}, num_classes=5).out_features
    5
    """
    method = FUSION_ALIASES.get(method, method)
    if method == "concat":
        return ConcatFusion(in_features, **options)
    if method == "sum":
        return SumFusion(in_features, **options)
    if method == "gated":
        return GatedFusion(in_features, **options)
    if method == "tensor":
        return TensorFusion(in_features, **options)
    if method == "lowrank":
        return LowRankFusion(in_features, **options)
    if method == "pooled_attention":
        from .fusion_attention import AttentionFusion

        return AttentionFusion(in_features, **options)
    if method == "late":
        return LateFusion(in_features, num_classes, **options)
    if method == "mult":
        from .fusion_sequence import MulTFusion

        return MulTFusion(in_features, **options)
    raise ValueError(f"make_fusion: method must be one of {FUSION_CHOICES}, got {method!r}")


def mlp_head(in_features: int, hidden: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Linear(hidden) + ReLU (+ Dropout) + Linear(num_classes): the seed's Dense layers.

    (B, in_features) -> (B, num_classes).

    >>> head = mlp_head(7, 16, 3, dropout=0.5)
    >>> head(tm.zeros(2, 7)).shape, len(head)
    ((2, 3), 4)
    """
    layers: list[nn.Module] = [nn.Linear(in_features, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, num_classes))
    return nn.Sequential(*layers)


# Small defaults: the whole model trains in seconds per epoch on 2 cores.
DEFAULTS = {
    "image_channels": (16, 32, 64), "embed_dim": 32, "text_hidden": 64, "text_layers": 1,
    "audio_channels": (32,), "audio_hidden": 64, "frame_channels": (8, 16),
    "frame_hidden": 64, "temporal": "gru", "head_hidden": 128, "dropout": 0.0,
    "image_activation": "leaky_relu",
}


def encoder_for(name: str, shape: tuple[int, ...], dtype: np.dtype, *, vocab_size: int | None,
                text_encoder: str = "lstm", **opts) -> nn.Module:
    """Pick an encoder from a modality's sample shape and dtype.

    int (L,) -> TextEncoder; float (C, H, W) -> ImageEncoder; float (C, T) -> AudioEncoder
    (a raw waveform (1, L) with L > 256 gets a learned filterbank front end);
    float (T, C, H, W) -> FrameEncoder; float (D,) -> Linear + ReLU.

    >>> type(encoder_for("text", (8,), np.int64, vocab_size=50)).__name__
    'TextEncoder'
    >>> enc = encoder_for("image", (1, 16, 16), np.float32, vocab_size=None)
    >>> type(enc).__name__, enc.out_features
    ('ImageEncoder', 256)
    """
    o = {**DEFAULTS, **opts}
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and len(shape) == 1:
        if vocab_size is None:
            raise ValueError(f"build_model: modality {name!r} holds token ids but the dataset "
                             "has no vocab_size")
        return TextEncoder(vocab_size, o["embed_dim"], o["text_hidden"], kind=text_encoder,
                           num_layers=o["text_layers"], max_len=max(64, shape[0]))
    if dtype.kind == "f" and len(shape) == 3:
        c, h, w = shape
        return ImageEncoder(c, o["image_channels"], (h, w), padding=1,
                            activation=o["image_activation"])
    if dtype.kind == "f" and len(shape) == 2:
        c, t = shape
        frontend = (16, 64) if c == 1 and t > 256 else None
        return AudioEncoder(c, o["audio_channels"], hidden_size=o["audio_hidden"],
                            frontend=frontend)
    if dtype.kind == "f" and len(shape) == 4:
        return FrameEncoder(shape[1:], o["frame_channels"], o["frame_hidden"],
                            temporal=o["temporal"], max_frames=max(64, shape[0]),
                            activation=o["image_activation"])
    if dtype.kind == "f" and len(shape) == 1:
        return VectorEncoder(shape[0], o["head_hidden"])
    raise ValueError(f"build_model: no encoder for modality {name!r} of shape {shape} and "
                     f"dtype {dtype}")


def build_model(dataset, fusion: str = "concat", text_encoder: str = "lstm", *,
                modality_dropout: float = 0.3, fusion_options: Mapping | None = None,
                modalities=None, **encoder_options) -> MultimodalClassifier:
    """A MultimodalClassifier whose encoders fit ``dataset``'s modalities and shapes.

    dataset: anything with ``modalities``, ``shapes``, ``dtypes`` (or arrays), ``num_classes``
    and ``vocab_size`` (the built-in datasets, or a Subset of one). fusion: one of
    ``FUSIONS`` (or an alias in ``FUSION_ALIASES``). text_encoder: "lstm", "gru", "rnn" or
    "transformer". Encoder sizes default to ``DEFAULTS`` (override by keyword, e.g.
    ``image_channels=(32, 64)``). modalities: use only these of the data set's modalities
    (kept in the data set's order; the others are never read), e.g. ``("image",)`` for a
    unimodal model; the batches' full-width masks still work (``mask_modalities``).

    >>> from tinymm.data import get_dataset                          # doctest: +SKIP
    >>> model = build_model(get_dataset("shapes_captions"), fusion="gated")  # doctest: +SKIP
    """
    if fusion not in FUSION_CHOICES:
        raise ValueError(f"build_model: fusion must be one of {FUSION_CHOICES}, got {fusion!r}")
    used = tuple(dataset.modalities)
    if modalities is not None:
        wanted = (modalities,) if isinstance(modalities, str) else tuple(modalities)
        unknown = [m for m in wanted if m not in used]
        if not wanted or unknown:
            raise ValueError(f"build_model: modalities must be a non-empty subset of "
                             f"{used}, got {wanted!r}")
        used = tuple(m for m in used if m in wanted)
    if text_encoder not in TEXT_KINDS:
        raise ValueError(f"build_model: text_encoder must be one of {TEXT_KINDS}, "
                         f"got {text_encoder!r}")
    unknown = set(encoder_options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"build_model: unknown options {sorted(unknown)}; options are "
                        f"{sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **encoder_options}
    _check_kind("build_model", "image_activation", opts["image_activation"], ACTIVATIONS)
    shapes = dataset.shapes
    dtypes = getattr(dataset, "dtypes", None) or {m: np.float32 for m in dataset.modalities}
    encoders = {m: encoder_for(m, tuple(shapes[m]), dtypes[m], vocab_size=dataset.vocab_size,
                               text_encoder=text_encoder, **opts)
                for m in used}
    size = "seq_features" if canonical_fusion(fusion) in SEQUENCE_FUSIONS else "out_features"
    sizes = {m: getattr(e, size) for m, e in encoders.items()}
    fused = make_fusion(fusion, sizes, dataset.num_classes, **dict(fusion_options or {}))
    head = None if fused.produces_logits else mlp_head(fused.out_features, opts["head_hidden"],
                                                       dataset.num_classes, opts["dropout"])
    return MultimodalClassifier(encoders, fused, head, modality_dropout=modality_dropout,
                                mask_modalities=tuple(dataset.modalities))


def seed_model(num_classes: int, image_size: int = 32, *, vocab_size: int = 10000,
               embed_dim: int = 128, lstm_units: int = 128, channels=(64, 128, 256),
               dense: int = 1024, in_channels: int = 3) -> MultimodalClassifier:
    """The seed's Keras model, corrected: the image features are flattened before the concat.

    image (B, 3, S, S) -> Conv2d(3, 64, 3) + ReLU -> MaxPool(2) -> Conv2d(64, 128, 3) + ReLU
    -> MaxPool(2) -> Conv2d(128, 256, 3) + ReLU -> MaxPool(2) -> Flatten;
    text (B, 20) -> Embedding(10000, 128) -> LSTM(128), last hidden state;
    concat -> Linear(1024) + ReLU -> Linear(num_classes) (softmax is in the loss).
    Convolutions are "valid" as in Keras' default: S=224 gives 256·26·26 = 173056 image
    features (a 177M-parameter Dense layer, as in the seed); S=32 gives 256·2·2 = 1024.
    Modalities are named "image" and "text".

    A small one (the seed's is ``seed_model(num_classes, 224)``):

    >>> _ = tm.manual_seed(0)
    >>> model = seed_model(5, image_size=16, vocab_size=50, embed_dim=8, lstm_units=8,
    ...                    channels=(4,), dense=16, in_channels=1)
    >>> batch = {"image": np.zeros((2, 1, 16, 16), np.float32),
    ...          "text": np.array([[3, 4, 5], [6, 7, 0]])}
    >>> model.modalities, model(batch).shape
    (('image', 'text'), (2, 5))
    """
    encoders = {
        "image": ImageEncoder(in_channels, channels, image_size, kernel_size=3, padding=0),
        "text": TextEncoder(vocab_size, embed_dim, lstm_units, kind="lstm"),
    }
    fusion = ConcatFusion({m: e.out_features for m, e in encoders.items()})
    return MultimodalClassifier(encoders, fusion, mlp_head(fusion.out_features, dense,
                                                           num_classes))
