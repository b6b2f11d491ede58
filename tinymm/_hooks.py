"""Tensor autograd hooks: ``register_hook``, ``retain_grad``, ``register_post_accumulate_grad_hook``.

Where each hook lives, so that the backward pass (``tinymm._engine``) finds it:

- a leaf's gradient hooks and post-accumulate hooks sit on the leaf (``_hooks``,
  ``_post_hooks``); the engine runs them once per backward, on the leaf's whole gradient;
- a non-leaf's gradient hooks and its ``retain_grad`` sit on the node that produced it,
  under the tensor's output index (a node does not otherwise hold its outputs);
  ``retain_grad`` holds the tensor weakly and always runs after the tensor's other hooks.

A gradient hook is called as ``fn(grad)`` with ``grad`` a Tensor; it may return a Tensor or
array of the same shape that replaces the gradient from then on.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from .autograd import RemovableHandle


def _check(t, fn: str, hook) -> None:
    if not callable(hook):
        raise TypeError(f"{fn}: hook must be callable, got {type(hook).__name__}")
    if not t.requires_grad:
        raise RuntimeError(f"{fn}: cannot register a hook on a tensor that does not require grad")


def register_hook(t, hook: Callable) -> RemovableHandle:
    """``hook(grad)`` runs when the gradient of ``t`` has been computed (see module doc)."""
    _check(t, "register_hook", hook)
    if t._node is None:
        if t._hooks is None:
            t._hooks = {}
        hooks = t._hooks
    else:
        node = t._node
        if node.hooks is None:
            node.hooks = {}
        hooks = node.hooks.setdefault(t._out_index, {})
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(t, hook: Callable) -> RemovableHandle:
    """``hook(t)`` runs after a backward has accumulated into the leaf ``t``'s ``.grad``."""
    _check(t, "register_post_accumulate_grad_hook", hook)
    if t._node is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors have their "
                           f"gradient accumulated; this one was computed by {t._node.name}")
    if t._post_hooks is None:
        t._post_hooks = {}
    handle = RemovableHandle(t._post_hooks)
    t._post_hooks[handle.id] = hook
    return handle


def retain_grad(t) -> None:
    """Keep the gradient of non-leaf ``t`` in ``t.grad`` after backward (a leaf's is kept
    anyway); gradients of later backwards accumulate, as for leaves."""
    if not t.requires_grad:
        raise RuntimeError("retain_grad: cannot retain the gradient of a tensor that does not "
                           "require grad")
    if t._node is None:
        return
    node = t._node
    if node.retained is None:
        node.retained = {}
    node.retained[t._out_index] = weakref.ref(t)


def retains_grad(t) -> bool:
    node = t._node
    if node is None or not node.retained:
        return False
    ref = node.retained.get(t._out_index)
    return ref is not None and ref() is t
