"""``Module``: the base of every layer — parameters, submodules, state dicts, train/eval, hooks."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor
from . import hooks
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


class Module:
    """Base class of layers and models, with PyTorch's interface.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it::

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 2)

            def forward(self, x):
                return self.fc2(self.fc1(x).relu())

    Calling the module runs ``forward`` (and its hooks):

    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = nn.Linear(4, 8)
    ...         self.fc2 = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> model = TwoLayer()
    >>> model(tm.ones(3, 4)).shape, [name for name, _ in model.named_parameters()]
    ((3, 2), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'])
    >>> model.num_parameters(), model.eval().training
    (58, False)
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for name in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks",
                     "_backward_pre_hooks"):
            object.__setattr__(self, name, OrderedDict())
        for name in ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
                     "_forward_hooks_always_called"):
            object.__setattr__(self, name, set())

    # ------------------------------------------------------------------ registration
    def _registries(self):
        try:
            return self.__dict__["_parameters"], self.__dict__["_modules"], self.__dict__["_buffers"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning parameters or submodules") from None

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, Parameter):
            params, modules, buffers = self._registries()
            modules.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params, modules, buffers = self._registries()
            params.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} "
                                f"to parameter {name!r} (expected a Parameter or None)")
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            self._buffers[name] = None if value is None else _as_array(value)
        elif "_modules" in self.__dict__ and name in self._modules and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, {}):
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._registries()[0][name] = param
        self.__dict__.pop(name, None)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """A non-learnable array saved in the state dict (unless ``persistent=False``)."""
        self._registries()[2][name] = None if tensor is None else _as_array(tensor)
        self.__dict__.pop(name, None)
        if not persistent:
            self._non_persistent.add(name)

    def register_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"register_module: {name!r} must be a Module, got {type(module).__name__}")
        self._registries()[1][name] = module
        self.__dict__.pop(name, None)

    add_module = register_module

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d.get("_forward_pre_hooks") or d.get("_forward_hooks")
                or d.get("_backward_hooks") or d.get("_backward_pre_hooks")):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """``__call__`` when hooks are registered; the order is PyTorch's (see nn/hooks.py)."""
        result, called = None, set()
        always, with_kw = self._forward_hooks_always_called, self._forward_hooks_with_kwargs
        try:
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if not (isinstance(res, tuple) and len(res) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of "
                                               f"(new_args, new_kwargs), but got {res}.")
                        args, kwargs = res
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            state = None
            if self._backward_hooks or self._backward_pre_hooks:
                state = hooks.backward_hook_state(self, list(self._backward_hooks.values()),
                                                  list(self._backward_pre_hooks.values()))
                args = hooks.setup_input_hook(state, args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in always:
                    called.add(hook_id)
                if hook_id in with_kw:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res
            if state is not None:
                result = hooks.setup_output_hook(state, result)
            return result
        except Exception:
            hooks.run_always_called(self, self._forward_hooks, with_kw, always, called, args,
                                    kwargs, result)
            raise

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> hooks.RemovableHandle:
        """Run ``hook(module, args)`` before forward; it may return new args (a non-tuple is
        taken as the only argument). With ``with_kwargs=True``: ``hook(module, args, kwargs)``
        returning None or ``(new_args, new_kwargs)``. ``prepend`` runs it before the others."""
        handle = hooks.add_hook(self._forward_pre_hooks, hook, prepend,
                                self._forward_pre_hooks_with_kwargs)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> hooks.RemovableHandle:
        """Run ``hook(module, args, output)`` after forward; it may return a new output.
        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``. ``always_call=True``:
        run it even when forward raised. ``prepend`` runs it before the others.

        >>> import tinymm as tm
        >>> lin = tm.nn.Linear(2, 3)
        >>> seen = []
        >>> handle = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape))
        >>> _ = lin(tm.randn(4, 2)); handle.remove(); _ = lin(tm.randn(1, 2))
        >>> seen
        [(4, 3)]
        """
        handle = hooks.add_hook(self._forward_hooks, hook, prepend,
                                self._forward_hooks_with_kwargs, self._forward_hooks_always_called)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False) -> hooks.RemovableHandle:
        """Run ``hook(module, grad_input, grad_output)`` once the gradients with respect to the
        module's positional inputs are known; it may return a new ``grad_input`` (a tuple of
        the same length) that flows on instead. See nn/hooks.py for the tuples' contents."""
        return hooks.add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> hooks.RemovableHandle:
        """Run ``hook(module, grad_output)`` when the gradients reach the module's outputs;
        it may return a new ``grad_output`` (a tuple of the same length)."""
        return hooks.add_hook(self._backward_pre_hooks, hook, prepend)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, p in mod._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_prefix, mod in self.named_modules(prefix):
            for name, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many scalars the parameters hold (shared parameters counted once)."""
        return sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------ state
    def _state_entries(self) -> Iterator[tuple[str, Module, str, bool]]:
        """(key, owner, name, is_parameter) for every state entry; a submodule registered
        under two names is listed under both, as PyTorch's state_dict does."""
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:
            prefix, mod = stack.pop()
            dot = f"{prefix}." if prefix else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    yield dot + name, mod, name, True
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    yield dot + name, mod, name, False
            stack.extend((dot + n, m) for n, m in reversed(mod._modules.items()) if m is not None)

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameter and persistent buffer arrays by dotted name (sharing memory, as PyTorch)."""
        return OrderedDict(
            (key, mod._parameters[name].data if is_param else mod._buffers[name])
            for key, mod, name, is_param in self._state_entries()
        )

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (NumPy, tinymm or torch tensors) into the parameters and buffers.

        Values are cast to each parameter's dtype and copied in place, so optimizers keep
        working. With ``strict=True`` every missing or unexpected key is an error; a
        mis-shaped value is always one. All problems are listed in one ``ValueError``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: state_dict must be a mapping, got "
                            f"{type(state_dict).__name__}")
        targets = {key: (mod, name, is_param) for key, mod, name, is_param in self._state_entries()}
        given = {str(k): v for k, v in state_dict.items()}
        missing = [k for k in targets if k not in given]
        unexpected = [k for k in given if k not in targets]
        problems = []
        arrays = {}
        for key in targets.keys() & given.keys():
            mod, name, is_param = targets[key]
            current = mod._parameters[name].data if is_param else mod._buffers[name]
            value = _as_array(given[key])
            if value.shape != current.shape:
                problems.append(f"{key}: shape {tuple(value.shape)} in the state dict, "
                                f"{tuple(current.shape)} in the model")
            else:
                arrays[key] = value
        if strict:
            problems += [f"missing key {k!r}" for k in missing]
            problems += [f"unexpected key {k!r}" for k in unexpected]
        if problems:
            raise ValueError(f"load_state_dict: {len(problems)} problem(s) loading into "
                             f"{type(self).__name__}:\n  " + "\n  ".join(problems))
        for key, value in arrays.items():
            mod, name, is_param = targets[key]
            current = mod._parameters[name].data if is_param else mod._buffers[name]
            np.copyto(current, value, casting="unsafe")
            if is_param:  # an in-place write: a backward that saved the old values raises
                mod._parameters[name]._bump_version()
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and dtypes
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def to(self, dtype) -> Module:
        """Cast every floating parameter and buffer to ``dtype`` (in place, like PyTorch)."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"to: dtype must be a floating dtype, got {dt}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dt)
                    p.grad = None if p.grad is None else p.grad.astype(dt)
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[name] = b.astype(dt)
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def to_torch(self):
        """The PyTorch twin of this module with the same weights (``tinymm.interop``)."""
        from ..interop import to_torch

        return to_torch(self)

    def apply(self, fn) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
