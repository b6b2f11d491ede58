"""``tinymm.models``: encoders per modality, fusion methods, the multimodal classifier.

    from tinymm.models import build_model, seed_model, MultimodalClassifier
    model = build_model(dataset, fusion="gated", text_encoder="gru")

Fusion methods share one interface (per-modality features + presence mask -> fused vector):
``ConcatFusion`` (the seed's), ``SumFusion`` (the seed's prose), ``GatedFusion`` (GMU),
``TensorFusion``, ``LowRankFusion``, ``AttentionFusion`` (``PooledAttentionFusion``,
fusion name "pooled_attention", alias "attention": a Transformer over one pooled token per
modality), ``LateFusion`` (a product of per-modality predictions) and ``MulTFusion``
("mult": a cross-modal Transformer between the modalities' token / frame sequences, which
reads each encoder's ``sequence``). ``FUSIONS`` names each once.

Baselines (``BASELINES``): ``build_unimodal`` (one modality's encoder and head, trained
alone) and ``build_early`` (raw inputs concatenated before one shared MLP).
"""

from .baselines import (
    BASELINES,
    build_baseline,
    build_early,
    build_named,
    build_unimodal,
    model_names,
)
from .classifier import MultimodalClassifier, modality_dropout_mask
from .encoders import AudioEncoder, FrameEncoder, ImageEncoder, TextEncoder, VectorEncoder
from .factory import (
    FUSION_ALIASES,
    FUSION_CHOICES,
    FUSIONS,
    SEQUENCE_FUSIONS,
    build_model,
    canonical_fusion,
    encoder_for,
    make_fusion,
    mlp_head,
    seed_model,
)
from .fusion import ConcatFusion, Fusion, GatedFusion, LateFusion, MissingEmbedding, SumFusion
from .fusion_tensor import LowRankFusion, TensorFusion


def __getattr__(name: str):
    # the attention fusions need the attention layer family; import them on first use
    if name in ("AttentionFusion", "PooledAttentionFusion"):
        from .fusion_attention import AttentionFusion

        return AttentionFusion
    if name in ("MulTFusion", "SequenceFusion", "CrossModalBlock"):
        from . import fusion_sequence

        return getattr(fusion_sequence, name)
    raise AttributeError(f"module 'tinymm.models' has no attribute {name!r}")


__all__ = [
    "MultimodalClassifier", "modality_dropout_mask", "ImageEncoder", "TextEncoder",
    "AudioEncoder", "FrameEncoder", "Fusion", "MissingEmbedding", "ConcatFusion", "SumFusion",
    "GatedFusion", "TensorFusion", "LowRankFusion", "AttentionFusion", "LateFusion",
    "FUSIONS", "build_model", "seed_model", "make_fusion", "encoder_for", "mlp_head",
    "PooledAttentionFusion", "MulTFusion", "SequenceFusion", "CrossModalBlock", "VectorEncoder",
    "FUSION_ALIASES", "FUSION_CHOICES", "SEQUENCE_FUSIONS", "canonical_fusion",
    "BASELINES", "build_baseline", "build_unimodal", "build_early", "model_names", "build_named",
]
