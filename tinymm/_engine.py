"""The backward pass: walk the recorded nodes from the outputs back to the leaves.

One pass (:func:`run_backward`) orders the nodes so that each runs after every node that
consumes its outputs, sums the gradients arriving at each tensor, undoes broadcasting
(:func:`sum_to_shape`), runs tensor hooks, and hands each leaf its whole gradient once:
``.grad`` for ``Tensor.backward``, a returned dict for ``tinymm.autograd.grad``.
"""

from __future__ import annotations

import numpy as np

from .autograd import Node, _grad_mode, check_saved_versions
from .kernels import workspace as _workspace
from .tensor import Tensor


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes along which ``shape`` was stretched."""
    if grad.shape == shape:
        return grad
    if grad.ndim < len(shape):
        raise RuntimeError(f"backward: gradient of shape {grad.shape} cannot be summed to {shape}")
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(f"backward: gradient of shape {grad.shape} cannot be summed to {shape}")
    return grad


def _topological_order(roots: list[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that consumes its outputs.

    Iterative depth-first post-order, so graphs of any depth work (no recursion limit).
    """
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for t in node.inputs or ():
            if t is not None and t._node is not None and id(t._node) not in visited:
                stack.append((t._node, False))
    order.reverse()
    return order


def _fresh(grad: np.ndarray, shared: set[int]) -> bool:
    """True if ``grad`` owns its memory, or is a whole-array reshape of an array that does and
    is not in ``shared`` (a kernel's result reshaped by its op). Views into anything else (a
    kernel's reused workspace, a slice, a broadcast) are not."""
    if not (grad.flags.writeable and grad.flags.c_contiguous):
        return False
    base = grad.base
    if base is None:
        return True
    return (isinstance(base, np.ndarray) and base.base is None and id(base) not in shared
            and base.dtype == grad.dtype and base.nbytes == grad.nbytes
            and base.flags.c_contiguous)


def _accumulate_leaf(t: Tensor, grad: np.ndarray) -> None:
    """``t.grad += grad`` (``grad`` is owned by the engine, so the first one is kept as is:
    copying a multi-MB parameter gradient costs as much as a small kernel)."""
    t.grad = grad if t.grad is None else t.grad + grad


def _apply_hooks(hooks: dict, grad: np.ndarray) -> tuple[np.ndarray, bool]:
    """Run ``register_hook`` functions in order; each may return a replacement gradient."""
    changed = False
    for fn in list(hooks.values()):
        out = fn(Tensor._wrap(grad))
        if out is not None:
            arr = np.asarray(out.data if isinstance(out, Tensor) else out)
            if arr.shape != grad.shape:
                raise ValueError(f"register_hook: hook {getattr(fn, '__name__', fn)} returned a "
                                 f"gradient of shape {arr.shape}, expected {grad.shape}")
            grad, changed = arr.astype(grad.dtype, copy=False), True
    return grad, changed


class _Pass:
    """The state of one backward pass (``wanted`` set only for :func:`grad`)."""

    def __init__(self, retain_graph: bool, wanted: dict | None):
        self.retain_graph = retain_graph
        self.wanted = wanted  # id(leaf) or (id(node), output index) -> positions in ``inputs``
        self.captured: dict[int, np.ndarray] = {}
        self.pending: dict[int, list] = {}  # id(node) -> gradient per output
        self.leaves: dict[int, list] = {}  # id(leaf) -> [leaf, summed gradient (engine-owned)]

    def add(self, t: Tensor, g: np.ndarray, owned: bool) -> None:
        """Sum ``g`` into the gradient waiting for ``t`` (copied unless the engine owns it)."""
        if t._node is None:
            entry = self.leaves.get(id(t))
            if entry is None:
                self.leaves[id(t)] = [t, g if owned else g.copy()]
            else:
                entry[1] = entry[1] + g
            return
        slot = self.pending.setdefault(id(t._node), [None] * len(t._node.out_meta))
        i = t._out_index
        slot[i] = g if slot[i] is None else slot[i] + g

    def capture(self, key, g: np.ndarray) -> None:
        for k in self.wanted.get(key, ()):
            self.captured[k] = g

    def deliver(self, t: Tensor, g: np.ndarray) -> None:
        """A leaf's gradient is complete: hooks, then ``.grad`` (or capture), then post hooks."""
        if self.wanted is not None and id(t) not in self.wanted:
            return  # autograd.grad: a leaf nobody asked for (its hooks do not run, as in PyTorch)
        if t._hooks:
            g, changed = _apply_hooks(t._hooks, g)
            if changed:
                g = np.array(g, copy=True)  # the hook's array may be held by its caller
        if self.wanted is not None:
            self.capture(id(t), g)
            return
        _accumulate_leaf(t, g)
        if t._post_hooks:
            for fn in list(t._post_hooks.values()):
                fn(t)

    def run_node(self, node: Node, grads: list) -> None:
        """Call ``node``'s backward and route its input gradients."""
        if node.freed:
            raise RuntimeError(
                f"backward: the graph through {node.name} was freed by an earlier "
                "backward; pass retain_graph=True to the first backward to go through it twice")
        check_saved_versions(node)
        grads = [np.zeros(s, d) if g is None else g for g, (s, d) in zip(grads, node.out_meta)]
        in_grads = node.fn.backward(node.ctx, *grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if _workspace.checking_enabled():  # TINYMM_CHECK_WORKSPACE=1: see kernels/workspace.py
            _workspace.check_no_escape(f"{node.fn.__name__}.backward", in_grads)
        if len(in_grads) != len(node.inputs):
            raise RuntimeError(f"{node.fn.__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(node.inputs)} forward arguments")
        # The engine may keep a returned array without a copy unless something else can hold
        # it: one of this node's incoming gradients or their memory (an identity backward
        # passes those through; the root's is the caller's array), an array already handed
        # out by this node (``a + b`` returns (g, g)), or a retained graph that may return
        # it again. See _fresh for which views count.
        shared = {id(g) for g in grads} | {id(g.base) for g in grads if g.base is not None}
        for t, g in zip(node.inputs, in_grads):
            if t is None or g is None:
                continue
            g = sum_to_shape(np.asarray(g), t.shape).astype(t.dtype, copy=False)
            owned = not self.retain_graph and id(g) not in shared and _fresh(g, shared)
            shared.add(id(g))
            self.add(t, g, owned)
        if not self.retain_graph:
            node.release()


def _run_output_hooks(node: Node, grads: list) -> None:
    """``register_hook`` functions, then ``retain_grad``, of a node's outputs."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        if node.hooks and node.hooks.get(i):
            grads[i], _ = _apply_hooks(node.hooks[i], g)
        ref = node.retained.get(i) if node.retained else None
        t = ref() if ref is not None else None
        if t is not None:
            t.grad = np.array(grads[i], copy=True) if t.grad is None else t.grad + grads[i]


def _needed_nodes(order: list[Node], wanted: dict) -> set[int]:
    """Nodes whose backward leads to a wanted tensor (freed ones too, so that they raise)."""
    needed: set[int] = set()
    for node in reversed(order):  # producers before consumers
        if node.freed:
            needed.add(id(node))
            continue
        for t in node.inputs:
            if t is None:
                continue
            if (id(t) in wanted if t._node is None else
                    (id(t._node), t._out_index) in wanted or id(t._node) in needed):
                needed.add(id(node))
                break
    return needed


def run_backward(roots, grads, retain_graph: bool = False, inputs=None):
    """Propagate ``grads[i]`` (d loss / d ``roots[i]``) back through the recorded graph.

    Without ``inputs``: accumulate into the ``.grad`` of every leaf that requires grad. A
    leaf's hooks run once, on its whole gradient, then its post-accumulate hooks. With
    ``inputs`` (:func:`grad`): return ``{position: gradient}`` of those tensors, running only
    the nodes that lead to them and touching no ``.grad``. Without ``retain_graph`` every node
    that ran is released (:meth:`Node.release`).
    """
    wanted = None
    if inputs is not None:
        wanted = {}
        for k, t in enumerate(inputs):
            key = id(t) if t._node is None else (id(t._node), t._out_index)
            wanted.setdefault(key, []).append(k)
    state = _Pass(retain_graph, wanted)
    for t, g in zip(roots, grads):
        state.add(t, g, owned=False)
    order = _topological_order([t._node for t in roots if t._node is not None])
    needed = _needed_nodes(order, wanted) if wanted is not None else None
    due: dict[int, list] = {}  # position in order -> leaves whose last producer sits there
    last: dict[int, tuple] = {}
    for pos, node in enumerate(order):
        for t in node.inputs or ():
            if t is not None and t._node is None:
                last[id(t)] = (pos, t)
    for pos, t in last.values():
        due.setdefault(pos, []).append(t)
    with _grad_mode(False):
        for pos, node in enumerate(order):
            node_grads = state.pending.pop(id(node), None)
            if node_grads is not None:
                if node.hooks or node.retained:
                    _run_output_hooks(node, node_grads)
                if wanted is not None:
                    for i, g in enumerate(node_grads):
                        if g is not None and (id(node), i) in wanted:
                            state.capture((id(node), i), np.array(g, copy=True))
                if needed is None or id(node) in needed:
                    state.run_node(node, node_grads)
            for t in due.get(pos, ()):
                entry = state.leaves.pop(id(t), None)
                if entry is not None:
                    state.deliver(*entry)
        for t, g in list(state.leaves.values()):  # leaves given as roots
            state.deliver(t, g)
    return state.captured
