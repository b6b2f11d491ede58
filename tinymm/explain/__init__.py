"""Explaining predictions: gradient attributions with Captum's API, modality Shapley values
and attention maps.

    from tinymm.explain import IntegratedGradients, ModalityShapley, attention_maps
    ig = IntegratedGradients(model)
    attr, delta = ig.attribute(batch, target=labels, return_convergence_delta=True,
                               layers={"text": model.encoders["text"].embedding})
    contrib = ModalityShapley(model).attribute(batch)      # (B, M) exact Shapley values
    maps = attention_maps(model, batch)                    # {layer: (B, heads, L, S)}
"""

from .attention import attention_maps, attention_rollout
from .attribution import InputXGradient, IntegratedGradients, Occlusion, Saliency
from .modality import ModalityShapley, interaction_from_values, shapley_from_values

__all__ = ["Saliency", "InputXGradient", "IntegratedGradients", "Occlusion", "ModalityShapley",
           "shapley_from_values", "interaction_from_values", "attention_maps", "attention_rollout"]
