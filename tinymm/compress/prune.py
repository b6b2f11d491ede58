"""Magnitude pruning with masks, as ``torch.nn.utils.prune``.

Pruning a parameter ``name`` of a module re-parametrises it, exactly as PyTorch does:

- the original values move to a new parameter ``name + "_orig"`` (what the optimizer updates);
- a buffer ``name + "_mask"`` (1 = kept, 0 = pruned) joins the state dict;
- before every forward pass a pre-hook recomputes ``module.name = name_orig * name_mask``, so
  pruned weights are exactly 0 in the forward pass and receive exactly 0 gradient: they **stay
  pruned through fine-tuning**;
- pruning the same parameter again combines the masks: the new amount is taken from the
  entries still unpruned (PyTorch's ``PruningContainer``);
- :func:`remove` makes it permanent: ``name`` becomes a plain parameter holding
  ``orig * mask`` again, and the mask and hook go away.

``amount`` is, as in PyTorch, a fraction in [0, 1] of the entries (or channels) still
unpruned, or an int: how many to prune.

Functions: :func:`l1_unstructured`, :func:`random_unstructured`, :func:`ln_structured`,
:func:`global_unstructured`, :func:`custom_from_mask`, :func:`identity`, :func:`remove`,
:func:`is_pruned`, and :func:`sparsity` to measure the result.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from ..nn import Module, Parameter
from ..tensor import Tensor

__all__ = ["l1_unstructured", "random_unstructured", "ln_structured", "global_unstructured",
           "custom_from_mask", "identity", "remove", "is_pruned", "sparsity", "L1Unstructured",
           "RandomUnstructured"]


class _PruneHook:
    """Forward pre-hook: ``module.<name> = module.<name>_orig * module.<name>_mask``."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, module, args) -> None:
        _recompute(module, self.name)


def _recompute(module: Module, name: str) -> None:
    orig = module._parameters[name + "_orig"]
    mask = module._buffers[name + "_mask"]
    object.__setattr__(module, name, orig * Tensor(mask))


def _check_target(fn: str, module, name: str) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{fn}: module must be a tinymm nn.Module, got {type(module).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"{fn}: name must be a str, got {type(name).__name__}")
    if name not in module._parameters and name + "_orig" not in module._parameters:
        raise ValueError(f"{fn}: {type(module).__name__} has no parameter {name!r} "
                         f"(parameters: {sorted(module._parameters)})")
    if module._parameters.get(name, 0) is None:
        raise ValueError(f"{fn}: parameter {name!r} of {type(module).__name__} is None")


def _count(fn: str, amount, n: int) -> int:
    """How many of ``n`` entries ``amount`` asks to prune (PyTorch's rules)."""
    if isinstance(amount, bool) or not isinstance(amount, (numbers.Integral, numbers.Real)):
        raise TypeError(f"{fn}: amount must be an int or a float, got {type(amount).__name__}")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"{fn}: amount must be >= 0, got {amount}")
        if amount > n:
            raise ValueError(f"{fn}: amount={amount} is more than the {n} entries left to prune")
        return int(amount)
    if not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"{fn}: a float amount must be in [0, 1], got {amount}")
    return int(round(float(amount) * n))


def _current(module: Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(the values the forward uses now, the current mask: ones if not pruned yet)."""
    if name + "_orig" in module._parameters:
        mask = module._buffers[name + "_mask"]
        return module._parameters[name + "_orig"].data * mask, mask
    w = module._parameters[name].data
    return w, np.ones_like(w)


def custom_from_mask(module: Module, name: str, mask) -> Module:
    """Prune ``module.<name>`` with a given 0/1 ``mask`` (combined with any earlier mask)."""
    fn = "custom_from_mask"
    _check_target(fn, module, name)
    _, old = _current(module, name)
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.shape != old.shape:
        raise ValueError(f"{fn}: mask has shape {mask.shape}, parameter {name!r} has {old.shape}")
    if not np.isin(mask, (0, 1)).all():
        raise ValueError(f"{fn}: mask must hold only 0 and 1")
    combined = (old * mask).astype(old.dtype)
    if name + "_orig" not in module._parameters:
        param = module._parameters.pop(name)
        module.register_parameter(name + "_orig", param)
        module.register_buffer(name + "_mask", combined)
        handles = module.__dict__.setdefault("_prune_handles", {})
        handles[name] = module.register_forward_pre_hook(_PruneHook(name))
    else:
        module._buffers[name + "_mask"] = combined
    _recompute(module, name)
    return module


def identity(module: Module, name: str) -> Module:
    """Re-parametrise ``module.<name>`` with an all-ones mask (prunes nothing)."""
    _check_target("identity", module, name)
    return custom_from_mask(module, name, np.ones_like(_current(module, name)[0]))


def _smallest_mask(scores: np.ndarray, alive: np.ndarray, k: int) -> np.ndarray:
    """0 at the ``k`` alive entries of smallest score (ties: lower flat index first)."""
    mask = alive.astype(bool).copy()
    if k:
        flat_alive = np.flatnonzero(alive)
        order = np.argsort(scores.reshape(-1)[flat_alive], kind="stable")[:k]
        mask.reshape(-1)[flat_alive[order]] = False
    return mask


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest |value|."""
    fn = "l1_unstructured"
    _check_target(fn, module, name)
    w, mask = _current(module, name)
    scores = np.abs(w if importance_scores is None else np.asarray(importance_scores))
    k = _count(fn, amount, int(mask.sum()))
    return custom_from_mask(module, name, _smallest_mask(scores, mask, k).astype(mask.dtype))


def random_unstructured(module: Module, name: str, amount, seed: int | None = None) -> Module:
    """Prune ``amount`` entries of ``module.<name>`` chosen at random (among the unpruned)."""
    fn = "random_unstructured"
    _check_target(fn, module, name)
    w, mask = _current(module, name)
    k = _count(fn, amount, int(mask.sum()))
    from ..random import generator

    rng = generator() if seed is None else np.random.default_rng(seed)
    return custom_from_mask(module, name, _smallest_mask(rng.random(w.shape), mask, k)
                            .astype(mask.dtype))


def ln_structured(module: Module, name: str, amount, n=2, dim: int = -1,
                  importance_scores=None) -> Module:
    """Prune whole slices along ``dim`` (e.g. ``dim=0``: output channels / units) with the
    smallest L``n`` norm; ``amount`` counts the slices not pruned yet."""
    fn = "ln_structured"
    _check_target(fn, module, name)
    w, mask = _current(module, name)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -w.ndim <= dim < w.ndim:
        raise ValueError(f"{fn}: dim must be in [{-w.ndim}, {w.ndim}), got {dim!r}")
    dim = dim % w.ndim
    if not (n in ("fro", "nuc") or (isinstance(n, numbers.Real) and not isinstance(n, bool))):
        raise ValueError(f"{fn}: n must be a number, 'fro' or 'nuc', got {n!r}")
    scores_full = np.abs(w if importance_scores is None else np.asarray(importance_scores))
    other = tuple(d for d in range(w.ndim) if d != dim)
    order = 2 if n == "fro" else n
    if order == np.inf:
        norms = scores_full.max(axis=other)
    elif order == 0:
        norms = (scores_full != 0).sum(axis=other).astype(float)
    else:
        norms = (scores_full ** order).sum(axis=other) ** (1.0 / order)
    alive = mask.any(axis=other)  # slices with at least one unpruned entry
    k = _count(fn, amount, int(alive.sum()))
    keep = _smallest_mask(norms, alive, k)
    shape = [1] * w.ndim
    shape[dim] = -1
    return custom_from_mask(module, name, np.broadcast_to(keep.reshape(shape), w.shape)
                            .astype(mask.dtype))


class L1Unstructured:
    """The pruning method of :func:`l1_unstructured`, for :func:`global_unstructured`."""

    @staticmethod
    def scores(values: np.ndarray, seed=None) -> np.ndarray:
        return np.abs(values)


class RandomUnstructured:
    """The pruning method of :func:`random_unstructured`, for :func:`global_unstructured`."""

    @staticmethod
    def scores(values: np.ndarray, seed=None) -> np.ndarray:
        return np.random.default_rng(seed).random(values.shape)


def global_unstructured(parameters: Iterable, pruning_method=L1Unstructured,
                        importance_scores: dict | None = None, amount=0.0, seed=None) -> None:
    """Prune ``amount`` of all the entries of several parameters together: the globally
    smallest ones, wherever they are (``parameters``: ``(module, name)`` pairs)."""
    fn = "global_unstructured"
    pairs = list(parameters)
    if not pairs:
        raise ValueError(f"{fn}: parameters must name at least one (module, name) pair")
    if pruning_method not in (L1Unstructured, RandomUnstructured):
        raise ValueError(f"{fn}: pruning_method must be L1Unstructured or RandomUnstructured")
    values, masks = [], []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"{fn}: each entry must be a (module, name) pair, got {pair!r}")
        module, name = pair
        _check_target(fn, module, name)
        w, mask = _current(module, name)
        if importance_scores is not None and (module, name) in importance_scores:
            w = np.asarray(importance_scores[(module, name)])
        values.append(w.reshape(-1))
        masks.append(mask.reshape(-1))
    flat_scores = pruning_method.scores(np.concatenate(values).astype(np.float64), seed)
    flat_mask = np.concatenate(masks)
    keep = _smallest_mask(flat_scores, flat_mask, _count(fn, amount, int(flat_mask.sum())))
    start = 0
    for (module, name), mask in zip(pairs, masks):
        part = keep[start:start + mask.size]
        start += mask.size
        custom_from_mask(module, name, part.reshape(_current(module, name)[1].shape)
                         .astype(mask.dtype))


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.<name>`` permanent: ``name`` becomes a plain parameter
    holding ``orig * mask``; the ``_orig`` parameter, the mask and the hook are removed."""
    fn = "remove"
    if not isinstance(module, Module):
        raise TypeError(f"{fn}: module must be a tinymm nn.Module, got {type(module).__name__}")
    if name + "_orig" not in module._parameters:
        raise ValueError(f"{fn}: parameter {name!r} of {type(module).__name__} is not pruned")
    orig = module._parameters.pop(name + "_orig")
    mask = module._buffers.pop(name + "_mask")
    module.__dict__.pop(name, None)
    module.__dict__["_prune_handles"].pop(name).remove()
    module.register_parameter(name, Parameter((orig.data * mask).astype(orig.data.dtype),
                                              requires_grad=orig.requires_grad))
    return module


def is_pruned(module: Module) -> bool:
    """True if any submodule of ``module`` has a pruned (re-parametrised) parameter."""
    return any(n.endswith("_orig") and n[:-5] + "_mask" in m._buffers
               for m in module.modules() for n in m._parameters)


def sparsity(module: Module) -> float:
    """Share of zero entries over the weights the forward pass uses (pruned or not),
    counting every parameter named ``weight`` (or pruned ``weight``) once."""
    zeros = total = 0
    for m in module.modules():
        for n in list(m._parameters):
            base = n[:-5] if n.endswith("_orig") else n
            if base != "weight" or (n == base and base + "_orig" in m._parameters):
                continue
            w, _ = _current(m, base)
            zeros += int((w == 0).sum())
            total += w.size
    return zeros / total if total else 0.0
