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
import itertools
from collections.abc import Iterator

import numpy as np

from .kernels import workspace as _workspace

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph now (False inside :class:`no_grad`).

    >>> with tm.no_grad():
    ...     inside = tm.is_grad_enabled()
    >>> tm.is_grad_enabled(), inside
    (True, False)
    """
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

    >>> w = tm.ones(2, requires_grad=True)
    >>> with tm.no_grad():
    ...     y = w * 2
    >>> y.requires_grad, (w * 2).requires_grad
    (False, True)
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
    """Turn recording back on inside a ``no_grad`` block.

    >>> w = tm.ones(2, requires_grad=True)
    >>> with tm.no_grad():
    ...     with tm.enable_grad():
    ...         y = w * 2
    >>> y.requires_grad
    True
    """

    _enabled = True


class Context:
    """What a Function's forward leaves for its backward."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *values) -> None:
        self.saved_tensors = values


class Node:
    """One recorded call of a Function: its context, inputs and output metadata.

    ``saved_versions`` holds, for each Tensor whose array the forward saved, its version
    counter and the version it had then (see :func:`check_saved_versions`). ``hooks`` and
    ``retained`` hold the ``register_hook`` / ``retain_grad`` of the node's outputs, by
    output index. A backward without ``retain_graph`` drops ``ctx``, ``inputs`` and
    ``saved_versions``, so a kept output (a loss) holds no activation arrays.
    """

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "freed", "saved_versions", "hooks",
                 "retained")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # one entry per forward argument: the Tensor if it needs grad, else None
        self.out_meta = out_meta  # [(shape, dtype)] per output
        self.freed = False
        self.saved_versions: tuple = ()
        self.hooks: dict[int, dict] | None = None
        self.retained: dict[int, object] | None = None

    @property
    def name(self) -> str:
        """The backward of the op, named as PyTorch names its grad_fns (``MulBackward``, not
        the ``Mul`` op itself nor an ``nn`` Module of the same name)."""
        return f"{self.fn.__name__}Backward"
    def __repr__(self) -> str:
        return f"<{self.name}>"

    def release(self) -> None:
        """Free what only backward needed (the graph cannot be walked through it again)."""
        self.ctx = self.inputs = None
        self.saved_versions = ()
        self.freed = True


class Function:
    """Base class of differentiable ops; subclasses define ``forward`` and ``backward``.

    ``forward(ctx, *arrays)`` computes on NumPy arrays and may ``ctx.save_for_backward(...)``;
    ``backward(ctx, grad)`` returns one gradient per input (None for a non-tensor one).
    ``Function.apply(*tensors)`` runs it and records it in the graph.

    >>> class Square(tm.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * grad
    >>> x = tm.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).sum().backward()
    >>> x.grad.tolist()
    [6.0]
    """

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
        for o in outs:
            if o.base is not None:  # a view (maybe of an input's memory)
                _share_view_counters(_owners(args), tensors)
                break
        if record:
            inputs = tuple(a if n else None for a, n in zip(args, needs))
            node = Node(cls, ctx, inputs, [(o.shape, o.dtype) for o in outs])
            if ctx.saved_tensors:
                node.saved_versions = _saved_versions(ctx.saved_tensors, args, raw, tensors)
            for i, t in enumerate(tensors):
                if t.requires_grad:
                    t._node, t._out_index = node, i
        return tensors if multiple else tensors[0]


# ----------------------------------------------------------------------------- versions
def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself unless ``a`` is a view)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _owners(args) -> dict[int, tuple]:
    """id(memory owner) -> (the Tensor argument whose array lives there, None)."""
    owners: dict[int, tuple] = {}
    for a in args:
        if isinstance(a, Tensor):
            owners.setdefault(id(_root(a.data)), (a, None))
    return owners


def _share_view_counters(owners: dict, outputs) -> None:
    """An output that is a view of an input shares its version counter, as PyTorch's views do:
    writing either in place changes both."""
    for t in outputs:
        if t.data.base is not None:
            src = owners.get(id(_root(t.data)))
            if src is not None:
                t._vc = src[0]._version_counter()


def _saved_versions(saved, args, raw, outputs) -> tuple:
    """(counter, version now, shape, dtype, output index or None) of every input or output
    Tensor whose memory a saved array lives in: the array itself (the common case, found
    by identity) or a view of the same memory."""
    found: dict[int, tuple] = {}
    owners = None
    for v in saved:
        if not isinstance(v, np.ndarray):
            continue
        hit = None
        for i, r in enumerate(raw):
            if r is v and isinstance(args[i], Tensor):
                hit = (args[i], None)
                break
        else:
            for i, t in enumerate(outputs):
                if t.data is v:
                    hit = (t, i)
                    break
        if hit is None and v.base is not None:
            if owners is None:
                owners = _owners(args)
                for i, t in enumerate(outputs):
                    owners.setdefault(id(_root(t.data)), (t, i))
            hit = owners.get(id(_root(v)))
        if hit is not None and id(hit[0]) not in found:
            t, index = hit
            vc = t._version_counter()
            found[id(t)] = (vc, vc[0], t.shape, t.dtype, index)
    return tuple(found.values())


def check_saved_versions(node: Node) -> None:
    """Raise PyTorch's error if an array ``node`` saved was written in place since its forward."""
    for vc, expected, shape, dtype, index in node.saved_versions:
        if vc[0] != expected:
            what = f"which is output {index} of {node.name}" if index is not None \
                else f"which {node.name} saved for backward"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{dtype} tensor of shape {list(shape)}], {what}, is at "
                f"version {vc[0]}; expected version {expected} instead. Hint: an optimizer "
                "step, load_state_dict, __setitem__ or an in-place method (add_, mul_, ...) "
                "wrote to it between the forward and this backward; call backward first or "
                "clone() the tensor before writing to it.")


# ----------------------------------------------------------------------------- public API
class RemovableHandle:
    """Returned by ``register_hook`` and friends: ``handle.remove()`` unregisters the hook
    (also usable as ``with handle: ...``)."""

    _next_id = itertools.count()

    def __init__(self, hooks: dict):
        self.id = next(RemovableHandle._next_id)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _as_tensors(fn: str, name: str, values) -> tuple:
    values = (values,) if isinstance(values, Tensor) else tuple(values)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
    if not values:
        raise ValueError(f"{fn}: {name} is empty")
    return values


def _root_gradient(fn: str, t: Tensor, i: int, gradient) -> np.ndarray:
    """d loss / d ``t`` for a backward starting at ``t``: ``gradient``, or 1 for one element."""
    if not t.requires_grad:
        raise RuntimeError(f"{fn}: element {i} of tensors does not require grad and has no "
                           "graph (was it computed under no_grad, or from tensors without "
                           "requires_grad=True?)")
    if gradient is None:
        if t.data.size != 1:
            raise ValueError(f"{fn}: gradient can be omitted only for a one-element tensor; "
                             f"{'this one' if i == 0 else f'tensors[{i}]'} has shape {t.shape}")
        return np.ones_like(t.data)
    grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient)
    if grad.shape != t.shape:
        raise ValueError(f"{fn}: gradient has shape {grad.shape}, expected the tensor's shape "
                         f"{t.shape}")
    return grad.astype(t.dtype, copy=False)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None) -> None:
    """Accumulate d(tensors)/d(leaf) · grad_tensors into every leaf's ``.grad``
    (``torch.autograd.backward``; ``Tensor.backward`` is the one-tensor case)."""
    tensors = _as_tensors("backward", "tensors", tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    grads = [_root_gradient("backward", t, i, g)
             for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    run_backward(tensors, grads, retain_graph=bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """d(outputs)/d(inputs) · grad_outputs as Tensors, leaving every ``.grad`` untouched.

    As ``torch.autograd.grad`` (first order only): ``outputs`` and ``inputs`` are Tensors or
    sequences of them; ``grad_outputs`` may be omitted for one-element outputs; an input the
    outputs do not depend on raises unless ``allow_unused=True`` (its gradient is then None).

    >>> import tinymm as tm
    >>> x = tm.tensor([1.0, 2.0], requires_grad=True)
    >>> tm.autograd.grad((x * x).sum(), x)[0]
    tensor([2., 4.])
    """
    if create_graph:
        raise ValueError("autograd.grad: create_graph=True is not supported (tinymm computes "
                         "first-order gradients only)")
    outputs = _as_tensors("autograd.grad", "outputs", outputs)
    inputs = _as_tensors("autograd.grad", "inputs", inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"autograd.grad: inputs[{i}] does not require grad")
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"autograd.grad: got {len(grad_outputs)} grad_outputs for "
                         f"{len(outputs)} outputs")
    grads = [_root_gradient("autograd.grad", t, i, g)
             for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    captured = run_backward(outputs, grads, retain_graph=bool(retain_graph), inputs=inputs)
    result = []
    for i in range(len(inputs)):
        g = captured.get(i)
        if g is None and not allow_unused:
            raise RuntimeError(f"autograd.grad: inputs[{i}] was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        result.append(None if g is None else Tensor._wrap(g))
    return tuple(result)


from ._engine import _fresh, run_backward, sum_to_shape  # noqa: E402, F401
from .tensor import Tensor  # noqa: E402  (Tensor's methods are built on Function)
