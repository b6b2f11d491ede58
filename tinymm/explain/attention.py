"""Attention maps read from a model through forward hooks, without editing its code.

:func:`attention_maps` registers, on every ``nn.MultiheadAttention`` inside a model, a
``with_kwargs=True`` forward pre-hook that asks the layer for its weights per head
(``need_weights=True, average_attn_weights=False``, as a PyTorch user would) and a forward
hook that keeps them; the model runs once; the hooks are removed. Layers inside a
``TransformerEncoderLayer`` (which calls its attention with ``need_weights=False``), the
cross-modal attention fusion and user modules are all reached the same way.

:func:`attention_rollout` (Abnar & Zuidema, 2020) follows attention through a stack of layers
with residual connections: each layer's head-averaged map is mixed with the identity,
``Â = ½ (A + I)``, rows renormalised, and the maps are multiplied from the first layer up:
how much each output position draws on each input position after all the layers.
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..nn import Module, MultiheadAttention

__all__ = ["attention_maps", "attention_rollout"]


def attention_maps(model: Module, *args, **kwargs) -> dict[str, np.ndarray]:
    """Run ``model(*args, **kwargs)`` once and return every attention layer's weights:
    ``{layer name: (B, heads, L, S)}``, in the order the layers ran.

    >>> from tinymm.explain import attention_maps
    >>> mha = nn.MultiheadAttention(8, 2)
    >>> q = tm.randn(5, 1, 8)                                   # (L, B, E)
    >>> {name: m.shape for name, m in attention_maps(mha, q, q, q).items()}
    {'MultiheadAttention': (1, 2, 5, 5)}
    """
    if not isinstance(model, Module):
        raise TypeError(f"attention_maps: model must be a tinymm nn.Module, got {type(model).__name__}")
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, MultiheadAttention)]
    if not layers:
        raise ValueError(f"attention_maps: {type(model).__name__} has no MultiheadAttention layer")
    maps: dict[str, np.ndarray] = {}
    handles = []

    def ask_for_weights(module, a, kw):
        kw = dict(kw)
        kw["need_weights"] = True
        kw["average_attn_weights"] = False
        return a, kw

    def keep(name):
        def hook(module, a, output):
            weights = output[1]
            if weights is not None:
                w = weights.data
                maps[name] = w[None] if w.ndim == 3 else w  # unbatched (H, L, S) -> (1, H, L, S)
        return hook

    try:
        for name, layer in layers:
            handles.append(layer.register_forward_pre_hook(ask_for_weights, with_kwargs=True))
            handles.append(layer.register_forward_hook(keep(name or type(model).__name__)))
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                model(*args, **kwargs)
        finally:
            model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return maps


def attention_rollout(maps, residual: float = 0.5) -> np.ndarray:
    """(B, L, L) rollout of a list (or dict, in order) of (B, H, L, L) self-attention maps.

    Each row of the rollout is a distribution over the tokens:

    >>> from tinymm.explain import attention_rollout
    >>> r = attention_rollout([np.full((1, 2, 3, 3), 1 / 3)])
    >>> r.shape, np.round(r.sum(axis=-1), 6).tolist()
    ((1, 3, 3), [[1.0, 1.0, 1.0]])
    """
    stack = list(maps.values()) if isinstance(maps, dict) else list(maps)
    if not stack:
        raise ValueError("attention_rollout: needs at least one attention map")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"attention_rollout: residual must be in [0, 1], got {residual}")
    result = None
    for w in stack:
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
            raise ValueError(f"attention_rollout: maps must be (B, H, L, L) self-attention, got {w.shape}")
        a = (1 - residual) * w.mean(axis=1) + residual * np.eye(w.shape[-1])
        a /= a.sum(axis=-1, keepdims=True)
        result = a if result is None else a @ result
    return result
