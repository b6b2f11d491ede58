"""Structured pruning made real: remove pruned channels and units, so the model gets smaller
and faster, with the same outputs as the masked model.

After :func:`prune_channels` (or :func:`~tinymm.compress.prune.ln_structured` on a weight
*and* its bias), a pruned output channel of a convolution (or unit of a Linear layer) has all
its weights and its bias at 0, so it outputs exactly 0 everywhere; an activation that maps 0
to 0 (ReLU, Tanh, GELU, pooling, dropout, …) keeps it at 0, and the next layer multiplies it
by its weights: it contributes nothing. :func:`shrink` therefore deletes that channel from the
layer's weight and bias **and** the matching input channel from the next layer's weight, in
every ``nn.Sequential`` chain ``Conv → (zero-preserving layers) → Conv`` or
``Linear → … → Linear``. The result computes the same function with smaller matrices.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import Module, Parameter
from . import prune

__all__ = ["prune_channels", "shrink", "ZERO_PRESERVING"]

ZERO_PRESERVING = tuple(getattr(nn, name) for name in (
    "ReLU", "Tanh", "GELU", "Dropout", "Identity", "MaxPool1d", "MaxPool2d", "AvgPool2d",
    "LeakyReLU", "SiLU", "ELU", "Mish", "Hardtanh", "Dropout1d", "Dropout2d") if hasattr(nn, name))
_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


def prune_channels(module: Module, amount, n=2) -> Module:
    """Prune whole output channels (Conv) or units (Linear) of ``module`` by the L``n`` norm of
    their weights, bias included, so that a pruned channel outputs exactly 0.

    >>> from tinymm.compress import prune_channels
    >>> layer = nn.Linear(4, 8)
    >>> _ = prune_channels(layer, 0.5)
    >>> int((np.abs(layer.weight.data).sum(axis=1) == 0).sum())     # 4 of 8 units now output 0
    4
    """
    fn = "prune_channels"
    if not isinstance(module, _LAYERS):
        raise TypeError(f"{fn}: module must be a Conv1d, Conv2d or Linear, got "
                        f"{type(module).__name__}")
    prune.ln_structured(module, "weight", amount, n=n, dim=0)
    if module._parameters.get("bias") is not None or "bias_orig" in module._parameters:
        mask = module._buffers["weight_mask"]
        keep = mask.reshape(mask.shape[0], -1).any(axis=1).astype(mask.dtype)
        prune.custom_from_mask(module, "bias", keep)
    return module


def _dead_outputs(layer: Module) -> np.ndarray:
    """Bool (out,) mask of output channels whose weights and bias are all 0."""
    w = layer.weight.data.reshape(layer.weight.shape[0], -1)
    dead = ~w.any(axis=1)
    if layer.bias is not None:
        dead &= layer.bias.data == 0
    return dead


def _make_permanent(module: Module) -> None:
    for m in module.modules():
        for name in [n[:-5] for n in m._parameters if n.endswith("_orig")]:
            prune.remove(m, name)


def _next_layer(layers: list, i: int):
    """The next Conv/Linear after ``layers[i]`` if only zero-preserving layers lie between."""
    for j in range(i + 1, len(layers)):
        if isinstance(layers[j], _LAYERS):
            return layers[j]
        if not isinstance(layers[j], ZERO_PRESERVING):
            return None
    return None


def _compatible(a: Module, b: Module) -> bool:
    if isinstance(a, nn.Linear):
        return isinstance(b, nn.Linear)
    return type(a) is type(b) and getattr(b, "groups", 1) == 1


def shrink(model: Module) -> dict[str, tuple[int, int]]:
    """Remove dead output channels/units (see the module docstring) in every ``nn.Sequential``
    of ``model``, in place; pruning re-parametrisations are made permanent first.

    Returns ``{layer name: (channels before, channels after)}`` for every layer it shrank.

    >>> from tinymm.compress import prune_channels, shrink
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> _ = prune_channels(net[0], 0.5)
    >>> shrink(net), net[0].weight.shape, net[2].weight.shape
    ({'0': (8, 4)}, (4, 4), (2, 4))
    """
    if not isinstance(model, Module):
        raise TypeError(f"shrink: model must be a tinymm nn.Module, got {type(model).__name__}")
    _make_permanent(model)
    changed: dict[str, tuple[int, int]] = {}
    for seq_name, seq in model.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        layers = [seq._modules[k] for k in seq._modules]
        names = list(seq._modules)
        for i, layer in enumerate(layers):
            if not isinstance(layer, _LAYERS):
                continue
            nxt = _next_layer(layers, i)
            if nxt is None or not _compatible(layer, nxt):
                continue
            dead = _dead_outputs(layer)
            if not dead.any() or dead.all():
                continue
            keep = ~dead
            before = int(dead.size)
            layer.weight = Parameter(np.ascontiguousarray(layer.weight.data[keep]))
            if layer.bias is not None:
                layer.bias = Parameter(np.ascontiguousarray(layer.bias.data[keep]))
            nxt.weight = Parameter(np.ascontiguousarray(nxt.weight.data[:, keep]))
            if isinstance(layer, nn.Linear):
                layer.out_features = nxt.in_features = int(keep.sum())
            else:
                layer.out_channels = nxt.in_channels = int(keep.sum())
            key = f"{seq_name}.{names[i]}" if seq_name else names[i]
            changed[key] = (before, int(keep.sum()))
    return changed

