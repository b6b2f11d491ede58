"""The input structures attribution methods accept, and one forward/backward pass through them.

Inputs may be (as Captum's, plus tinymm's batch dicts):

- one array or Tensor: ``forward_func(x, *additional_forward_args)``;
- a tuple of them: ``forward_func(*xs, *additional_forward_args)``;
- a dict (a DataLoader batch of a multimodal data set): ``forward_func(batch)``. Its
  floating-point arrays (images, spectrograms) are attributed; integer arrays (token ids),
  ``"label"`` and ``"mask"`` pass through. To attribute tokens, name the module whose output
  stands for them in ``layers`` (e.g. ``{"text": model.encoders["text"].embedding}``): the
  attribution is then with respect to that module's output (one vector per token).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..autograd import enable_grad
from ..nn import Module
from ..tensor import Tensor

PASS_THROUGH = ("label", "mask")


def as_array(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Inputs:
    """A normalised view: ``keys`` of the attributed entries and how to call the model."""

    def __init__(self, fn: str, inputs, layers: Mapping | None = None):
        self.fn = fn
        if isinstance(inputs, Mapping):
            self.kind = "dict"
            self.items = {k: as_array(v) for k, v in inputs.items()}
        elif isinstance(inputs, tuple):
            self.kind = "tuple"
            self.items = {i: as_array(v) for i, v in enumerate(inputs)}
        else:
            self.kind = "single"
            self.items = {0: as_array(inputs)}
        self.layers = dict(layers or {})
        for key, module in self.layers.items():
            if not isinstance(module, Module):
                raise TypeError(f"{fn}: layers[{key!r}] must be a tinymm nn.Module, got "
                                f"{type(module).__name__}")
        self.keys = [k for k, a in self.items.items()
                     if k in self.layers or (a.dtype.kind == "f" and k not in PASS_THROUGH)]
        if not self.keys:
            raise ValueError(f"{fn}: nothing to attribute: inputs hold no floating-point array "
                             "and no entry of layers=")
        for k in self.keys:
            if k not in self.layers and self.items[k].dtype not in (np.float32, np.float64):
                raise TypeError(f"{fn}: input {k!r} must be float32 or float64, got "
                                f"{self.items[k].dtype}")
        self.batch = int(np.shape(self.items[self.keys[0]])[0]) if np.ndim(
            self.items[self.keys[0]]) else 1

    def direct(self) -> list:
        """Keys attributed at the input itself (not through a layer)."""
        return [k for k in self.keys if k not in self.layers]

    def wrap(self, values: Mapping):
        """``values`` by key, in the structure the caller gave."""
        if self.kind == "dict":
            return {k: values[k] for k in self.keys}
        if self.kind == "tuple":
            return tuple(values.get(i) for i in range(len(self.items)))
        return values[0]

    def call(self, forward_func: Callable, replaced: Mapping, additional=()):
        """forward_func on the inputs with ``replaced[key]`` standing in for those entries."""
        values = {k: replaced.get(k, v) for k, v in self.items.items()}
        if self.kind == "dict":
            return forward_func({k: v if isinstance(v, Tensor) else Tensor(v) if
                                 np.asarray(v).dtype.kind in "fiu" and k not in PASS_THROUGH
                                 else v for k, v in values.items()}, *additional)
        args = [v if isinstance(v, Tensor) else Tensor(v) for v in values.values()]
        return forward_func(*args, *additional)


def resolve_target(fn: str, target, out: np.ndarray) -> np.ndarray:
    """(B,) class indices: ``target`` (an int or one per sample), or the predicted classes."""
    if out.ndim == 1:
        return np.zeros(out.shape[0], dtype=np.int64)
    if out.ndim != 2:
        raise ValueError(f"{fn}: the model must return (B, C) scores or (B,) values, got "
                         f"shape {out.shape}")
    if target is None:
        return out.argmax(axis=1)
    t = np.broadcast_to(np.asarray(as_array(target), dtype=np.int64), (out.shape[0],))
    if t.min() < 0 or t.max() >= out.shape[1]:
        raise IndexError(f"{fn}: target must be in [0, {out.shape[1]}), got {t.min()}..{t.max()}")
    return t


def selected(out: Tensor, target: np.ndarray) -> Tensor:
    """out[b, target[b]] for every b, as a (B,) Tensor (out (B,) is returned as is)."""
    if out.ndim == 1:
        return out
    return out[np.arange(out.shape[0]), target]


class _LayerSwap:
    """Forward hooks that replace a layer's output by a new leaf (optionally given values)."""

    def __init__(self, inputs: Inputs, values: Mapping | None = None):
        self.inputs, self.values, self.leaves, self.seen, self.handles = inputs, values or {}, {}, {}, []

    def __enter__(self):
        for key, module in self.inputs.layers.items():
            self.handles.append(module.register_forward_hook(self._hook(key)))
        return self

    def _hook(self, key):
        def hook(module, args, output):
            self.seen[key] = output.data
            data = self.values[key] if key in self.values else output.data
            leaf = Tensor(np.array(data, dtype=output.data.dtype), requires_grad=True)
            self.leaves[key] = leaf
            return leaf
        return hook

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return False


def layer_outputs(inputs: Inputs, forward_func, replaced: Mapping, additional=()) -> dict:
    """The outputs of ``inputs.layers`` in one forward pass (no gradient)."""
    swap = _LayerSwap(inputs)
    with swap:
        inputs.call(forward_func, replaced, additional)
    return {k: swap.seen[k] for k in inputs.layers}


def gradients(inputs: Inputs, forward_func, target, at: Mapping, layer_values: Mapping | None = None,
              additional=()) -> tuple[dict, np.ndarray, np.ndarray]:
    """One forward/backward: (d out[b, target[b]] / d entry, per key; the (B,) selected
    outputs; the target used). ``at``: values of the direct inputs; ``layer_values``: what
    the layers output instead of their own output."""
    leaves = {k: Tensor(np.array(at[k]), requires_grad=True) for k in inputs.direct()}
    swap = _LayerSwap(inputs, layer_values)
    with enable_grad(), swap:
        out = inputs.call(forward_func, leaves, additional)
        if not isinstance(out, Tensor):
            raise TypeError(f"{inputs.fn}: the model must return a Tensor, got {type(out).__name__}")
        tgt = resolve_target(inputs.fn, target, out.data)
        chosen = selected(out, tgt)
        if chosen.requires_grad:
            chosen.sum().backward()
    leaves.update(swap.leaves)
    grads = {k: (leaves[k].grad if leaves[k].grad is not None else np.zeros_like(leaves[k].data))
             for k in inputs.keys}
    return grads, np.asarray(chosen.data, dtype=np.float64), tgt
