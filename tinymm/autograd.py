"""Define-by-run autograd: a ``Function`` records a node; ``backward`` walks the nodes in reverse.

An op is a pair of array functions side by side::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):          # ndarrays in (Tensor arguments are unwrapped)
            ctx.save_for_backward(a, b)
            return a * b                 # ndarray out (or a tuple of them)

        @staticmethod
        def backward(ctx, grad):         # d(loss)/d(output), one per output
            a, b = ctx.saved_tensors
            return grad * b, grad * a    # d(loss)/d(input), one per forward argument

The engine, not each op, sums a gradient of a broadcast shape back to its input's shape
and accumulates into leaves' ``.grad``. Only first-order gradients are supported: a
backward pass is not itself recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from .kernels import workspace as _workspace

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


class no_grad(contextlib.ContextDecorator):
    """``with tm.no_grad():`` (or ``@tm.no_grad()``): ops inside record no graph.

    Re-entrant: one decorator instance may be entered again by a recursive call.
    """

    _enabled = False

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self._enabled
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    _enabled = True


class Context:
    """What a Function's forward leaves for its backward."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *values) -> None:
        self.saved_tensors = values


class Node:
    """One recorded call of a Function: its context, inputs and output metadata."""

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "freed")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # one entry per forward argument: the Tensor if it needs grad, else None
        self.out_meta = out_meta  # [(shape, dtype)] per output
        self.freed = False

    @property
    def name(self) -> str:
        return self.fn.__name__


class Function:
    """Base class of differentiable ops; subclasses define ``forward`` and ``backward``."""

    @staticmethod
    def forward(ctx: Context, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        ctx = Context(needs)
        out = cls.forward(ctx, *raw)
        multiple = isinstance(out, tuple)
        outs = out if multiple else (out,)
        if _workspace.checking_enabled():  # TINYMM_CHECK_WORKSPACE=1: see kernels/workspace.py
            _workspace.check_no_escape(f"{cls.__name__}.forward", (*outs, *ctx.saved_tensors))
        record = _grad_enabled and any(needs)
        tensors = tuple(Tensor._wrap(o, record and o.dtype.kind == "f") for o in outs)
        if record:
            inputs = tuple(a if n else None for a, n in zip(args, needs))
            node = Node(cls, ctx, inputs, [(o.shape, o.dtype) for o in outs])
            for i, t in enumerate(tensors):
                if t.requires_grad:
                    t._node, t._out_index = node, i
        return tensors if multiple else tensors[0]


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


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after every node that consumes its outputs.

    Iterative depth-first post-order, so graphs of any depth work (no recursion limit).
    """
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
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


def _accumulate_leaf(t: Tensor, grad: np.ndarray, owned: bool = False) -> None:
    """``t.grad += grad``; the first gradient is stored as is if ``owned`` says nothing else
    holds it (copying a multi-MB parameter gradient costs as much as a small kernel)."""
    grad = np.asarray(grad, dtype=t.dtype)
    if t.grad is not None:
        t.grad = t.grad + grad
    else:
        t.grad = grad if owned else grad.copy()


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad`` (d loss / d root) to every leaf that requires grad."""
    if root._node is None:
        _accumulate_leaf(root, grad)
        return
    pending: dict[int, list] = {id(root._node): [None] * len(root._node.out_meta)}
    pending[id(root._node)][root._out_index] = grad
    with _grad_mode(False):
        for node in _topological_order(root._node):
            grads = pending.pop(id(node), None)
            if grads is None:
                continue
            if node.freed:
                raise RuntimeError(
                    f"backward: the graph through {node.name} was freed by an earlier "
                    "backward; pass retain_graph=True to the first backward to go through it twice"
                )
            grads = [np.zeros(s, d) if g is None else g for g, (s, d) in zip(grads, node.out_meta)]
            in_grads = node.fn.backward(node.ctx, *grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if _workspace.checking_enabled():
                _workspace.check_no_escape(f"{node.name}.backward", in_grads)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(f"{node.name}.backward returned {len(in_grads)} gradients "
                                   f"for {len(node.inputs)} forward arguments")
            # A leaf may keep a returned array without a copy unless something else can hold
            # it: one of this node's incoming gradients or their memory (an identity backward
            # passes those through; the root's is the caller's array), an array already handed
            # out by this node (``a + b`` returns (g, g)), or a retained graph that may return
            # it again. See _fresh for which views count.
            shared = {id(g) for g in grads} | {id(g.base) for g in grads if g.base is not None}
            for t, g in zip(node.inputs, in_grads):
                if t is None or g is None:
                    continue
                g = sum_to_shape(np.asarray(g), t.shape).astype(t.dtype, copy=False)
                owned = not retain_graph and id(g) not in shared and _fresh(g, shared)
                shared.add(id(g))
                if t._node is None:
                    _accumulate_leaf(t, g, owned)
                else:
                    slot = pending.setdefault(id(t._node), [None] * len(t._node.out_meta))
                    i = t._out_index
                    slot[i] = g if slot[i] is None else slot[i] + g
            if not retain_graph:
                node.ctx = None
                node.freed = True


from .tensor import Tensor  # noqa: E402  (Tensor's methods are built on Function)
