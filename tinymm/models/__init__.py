"""``tinymm.models``: encoders per modality, fusion methods, the multimodal classifier.

    from tinymm.models import build_model, seed_model, MultimodalClassifier
    model = build_model(dataset, fusion="gated", text_encoder="gru")

Fusion methods share one interface (per-modality features + presence mask -> fused vector):
``ConcatFusion`` (the seed's), ``SumFusion`` (the seed's prose), ``GatedFusion`` (GMU),
``TensorFusion``, ``LowRankFusion``, ``AttentionFusion`` (a Transformer over modality
tokens) and ``LateFusion`` (a product of per-modality predictions).
"""

from .classifier import MultimodalClassifier, modality_dropout_mask
from .encoders import AudioEncoder, FrameEncoder, ImageEncoder, TextEncoder
from .factory import FUSIONS, build_model, encoder_for, make_fusion, mlp_head, seed_model
from .fusion import ConcatFusion, Fusion, GatedFusion, LateFusion, MissingEmbedding, SumFusion
from .fusion_tensor import LowRankFusion, TensorFusion


def __getattr__(name: str):
    # AttentionFusion needs the attention layer family; import it on first use
    if name == "AttentionFusion":
        from .fusion_attention import AttentionFusion

        return AttentionFusion
    raise AttributeError(f"module 'tinymm.models' has no attribute {name!r}")


__all__ = [
    "MultimodalClassifier", "modality_dropout_mask", "ImageEncoder", "TextEncoder",
    "AudioEncoder", "FrameEncoder", "Fusion", "MissingEmbedding", "ConcatFusion", "SumFusion",
    "GatedFusion", "TensorFusion", "LowRankFusion", "AttentionFusion", "LateFusion",
    "FUSIONS", "build_model", "seed_model", "make_fusion", "encoder_for", "mlp_head",
]
