"""Module hooks with PyTorch's semantics: handles, and the machinery of full backward hooks.

``Module.__call__`` runs, in this order (as ``torch.nn.Module._call_impl``)::

    forward pre-hooks   hook(module, args) -> None | new args          (a non-tuple is wrapped)
                        hook(module, args, kwargs) -> None | (new args, new kwargs)   with_kwargs
    [backward hooks: the positional Tensor args pass through an identity node]
    output = forward(*args, **kwargs)
    forward hooks       hook(module, args, output) -> None | new output
                        hook(module, args, kwargs, output) -> ...                      with_kwargs
    [backward hooks: the output Tensors pass through an identity node]

A forward hook registered with ``always_call=True`` also runs when forward (or a hook)
raised; its own exception is then turned into a warning and the original one propagates.

Full backward hooks: when backward reaches the module's outputs, the backward pre-hooks
``hook(module, grad_output) -> None | new grad_output`` run; when it has computed the
gradients with respect to the module's positional inputs, the backward hooks
``hook(module, grad_input, grad_output) -> None | new grad_input`` run, and what they return
flows on. ``grad_input`` has one entry per positional argument (None for a non-Tensor or a
Tensor that needs no gradient), ``grad_output`` one per output (a Tensor or each entry of a
tuple; None for a non-Tensor). One difference from PyTorch: an output that received no
gradient has a zero Tensor in ``grad_output`` (the engine materialises missing gradients),
where PyTorch passes None. When no input needs a gradient, the backward hooks run at the
outputs with ``grad_input`` all None and must return None.
"""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

_ids = itertools.count()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook.

    Also a context manager (the hook is removed when the block ends), as PyTorch's.
    """

    def __init__(self, hooks: OrderedDict, *extra: set) -> None:
        self.id = next(_ids)
        self._hooks, self._extra = hooks, extra

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for s in self._extra:
            s.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(hooks: OrderedDict, hook, prepend: bool, *flag_sets: set) -> RemovableHandle:
    """Register ``hook`` in ``hooks`` (first if ``prepend``); the handle also clears its id
    from ``flag_sets`` (the with_kwargs / always_call sets) on remove. The caller adds the id
    to the sets that apply."""
    if not callable(hook):
        raise TypeError(f"register hook: hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, *flag_sets)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _as_grad(value, name: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(f"{name} must return Tensors (or None) as gradients, got {type(value).__name__}")


class _BackwardHookState:
    """Per call: the module, its hooks, and grad_output between the two identity nodes."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs = 0
        self.input_index: list[int] | None = None  # positions of hooked input Tensors
        self.n_outputs = 0
        self.output_index: list[int] = []
        self.grad_outputs: tuple | None = None


class _BackwardHookInputs(Function):
    """Identity on the module's inputs; its backward runs the full backward hooks."""

    @staticmethod
    def forward(ctx, state, *arrays):
        ctx.state = state
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        if state.grad_outputs is None:  # the gradient did not come through the outputs
            return (None, *grads)
        grad_input = [None] * state.n_inputs
        for i, g in zip(state.input_index, grads):
            grad_input[i] = Tensor._wrap(g)
        grad_input = tuple(grad_input)
        for hook in state.hooks:
            out = hook(state.module, grad_input, state.grad_outputs)
            if out is None:
                continue
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if len(out) != len(grad_input):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(grad_input)}")
            grad_input = out
        state.grad_outputs = None
        return (None, *(_as_grad(grad_input[i], "backward hook") for i in state.input_index))


class _BackwardHookOutputs(Function):
    """Identity on the module's outputs; its backward records grad_output (pre-hooks run)."""

    @staticmethod
    def forward(ctx, state, *arrays):
        ctx.state = state
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        grad_output = [None] * state.n_outputs
        for i, g in zip(state.output_index, grads):
            grad_output[i] = Tensor._wrap(g)
        grad_output = tuple(grad_output)
        for hook in state.pre_hooks:
            out = hook(state.module, grad_output)
            if out is None:
                continue
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if len(out) != len(grad_output):
                raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(out)}, but expected {len(grad_output)}")
            grad_output = out
        state.grad_outputs = grad_output
        if state.input_index is None:  # no input needs a gradient: the hooks fire here
            none = (None,) * state.n_inputs
            for hook in state.hooks:
                res = hook(state.module, none, grad_output)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient "
                                       "should always return None or None for all gradients.")
            state.grad_outputs = None
        return (None, *(_as_grad(grad_output[i], "backward pre hook") for i in state.output_index))


def _through_identity(fn, state, values: tuple) -> tuple[tuple, list[int] | None]:
    """Pass the Tensors of ``values`` that need a gradient through ``fn``; the others stay."""
    index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not index or not is_grad_enabled():
        return values, None
    wrapped = fn.apply(state, *(values[i] for i in index))
    out = list(values)
    for i, t in zip(index, wrapped):
        out[i] = t
    return tuple(out), index


def setup_input_hook(state: _BackwardHookState, args: tuple) -> tuple:
    state.n_inputs = len(args)
    args, state.input_index = _through_identity(_BackwardHookInputs, state, args)
    return args


def setup_output_hook(state: _BackwardHookState, result):
    single = not isinstance(result, tuple)
    values = (result,) if single else result
    state.n_outputs = len(values)
    values, index = _through_identity(_BackwardHookOutputs, state, values)
    state.output_index = index or []
    return values[0] if single else values


def backward_hook_state(module, hooks: list, pre_hooks: list) -> _BackwardHookState:
    return _BackwardHookState(module, hooks, pre_hooks)


def run_always_called(module, hooks: OrderedDict, with_kwargs: set, always: set, called: set,
                      args: tuple, kwargs: dict, result) -> None:
    """After an exception: the ``always_call`` forward hooks that have not run yet; their own
    exceptions become warnings (the original exception is re-raised by the caller)."""
    for hook_id, hook in list(hooks.items()):
        if hook_id not in always or hook_id in called:
            continue
        try:
            if hook_id in with_kwargs:
                hook(module, args, kwargs, result)
            else:
                hook(module, args, result)
        except Exception as e:  # noqa: BLE001  (PyTorch silences it the same way)
            warnings.warn("module forward hook with ``always_call=True`` raised an exception "
                          f"that was silenced as another error was raised in forward: {e}",
                          stacklevel=3)
