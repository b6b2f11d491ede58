"""``Optimizer``: parameter groups, per-parameter state and PyTorch-format state dicts.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the group's
hyper-parameters, which a scheduler or the user may change between steps) and ``state``
(a dict from each Parameter to its buffers, e.g. ``{"step": 3, "exp_avg": ndarray}``).
Subclasses implement ``step()`` with one fused kernel call per parameter.

``state_dict()`` uses PyTorch's layout, so ``tm.save`` / ``tm.load`` round-trip it::

    {"state": {0: {"step": 3, "exp_avg": ..., "exp_avg_sq": ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Parameters are numbered 0, 1, 2, ... in the order the groups list them.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..autograd import enable_grad
from ..nn.module import _as_array
from ..tensor import Tensor


def check_real(fn: str, name: str, value: object, minimum: float = 0.0,
               below: float | None = None) -> float:
    """``value`` as a float with ``minimum <= value`` (and ``value < below`` if given)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not minimum <= value or (below is not None and not value < below):
        upper = f" and < {below}" if below is not None else ""
        raise ValueError(f"{fn}: {name} must be >= {minimum}{upper}, got {value}")
    return value


def check_flag(fn: str, name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _c_array(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` itself when C-contiguous of ``dtype``, else a C-contiguous copy (0-d stays 0-d)."""
    if a.dtype == dtype and a.flags.c_contiguous:
        return a
    return np.array(a, dtype=dtype, order="C")


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad`` and state dicts (PyTorch semantics).

    ``params`` is an iterable of Parameters (or leaf Tensors), or of dicts each holding
    ``"params"`` and per-group options overriding ``defaults``::

        optim.SGD([{"params": model.body.parameters()},
                   {"params": model.head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)

    A training step clears the gradients, runs backward, then steps:

    >>> w = nn.Parameter(tm.tensor([3.0]))
    >>> opt = tm.optim.SGD([w], lr=0.25)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()      # d/dw w² = 2w
    ...     opt.step()
    >>> w.tolist(), len(opt.param_groups), opt.param_groups[0]["lr"]
    ([0.75], 1, 0.25)
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._check_group(self.defaults, name)
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, (Tensor, Mapping)):
            raise TypeError(f"{name}: params must be an iterable of Parameters or of dicts "
                            f"(param groups), got a single {type(params).__name__}; wrap it "
                            "in a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (list, tuple, "
                            "generator), not a set: its order changes between runs")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Parameters or of dicts, "
                            f"got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{name}: params is empty; the optimizer got no parameters")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self._add_group(group, name)

    # ------------------------------------------------------------------ groups
    def _check_group(self, group: dict, where: str) -> None:
        """Validate (and normalise in place) a group's hyper-parameters; subclasses extend."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (missing ones from ``defaults``)."""
        self._add_group(param_group, f"{type(self).__name__}.add_param_group")

    def _add_group(self, param_group: dict, fn: str) -> None:
        name = type(self).__name__
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{fn}: a param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{fn}: a param group must have a 'params' entry; got keys "
                             f"{sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{fn}: params must be an ordered collection, not a set")
        else:
            try:
                params = list(params)
            except TypeError:
                raise TypeError(f"{fn}: a param group's 'params' must be an iterable of "
                                f"Parameters, got {type(params).__name__}") from None
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                hint = " (pass model.parameters(), not named_parameters())" \
                    if isinstance(p, tuple) else ""
                raise TypeError(f"{fn}: params[{i}] must be a Parameter, got "
                                f"{type(p).__name__}{hint}")
            if not p.is_leaf:
                raise ValueError(f"{fn}: params[{i}] is not a leaf tensor (it was computed "
                                 "from others); only leaves can be optimized")
            if p.dtype.kind != "f":
                raise TypeError(f"{fn}: params[{i}] must have a floating dtype, got {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{fn}: a param group lists the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{fn}: some parameters appear in more than one param group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        where = f"{name} (param group {len(self.param_groups)})" if self.param_groups else name
        self._check_group(group, where)
        group["params"] = params
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (``set_to_none=True``) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def _run_closure(self, closure: Callable | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _kernel_arrays(self, p: Tensor, where: str) -> tuple[np.ndarray, np.ndarray]:
        """The parameter's array and its gradient, C-contiguous and of one dtype.

        A kernel trusts its inputs, so the shapes are checked here. A non-contiguous
        parameter array is updated through a contiguous copy (see :meth:`_write_back`).
        """
        grad = np.asarray(p.grad)
        if grad.shape != p.shape:
            raise ValueError(f"{where}: a parameter of shape {p.shape} has a gradient of "
                             f"shape {grad.shape}")
        return _c_array(p.data, p.dtype), _c_array(grad, p.dtype)

    @staticmethod
    def _write_back(p: Tensor, work: np.ndarray) -> None:
        """Finish an in-place update of ``p``: copy a contiguous working copy back, and bump
        ``p._version`` (a backward through a graph that saved the old ``p`` then raises)."""
        if work is not p.data:
            p.data[...] = work
        p._bump_version()

    def _buffer(self, state: dict, key: str, p: Tensor) -> np.ndarray:
        """``state[key]`` matching ``p``: created as zeros, or re-cast after ``model.to(dtype)``."""
        buf = state.get(key)
        if buf is None:
            buf = state[key] = np.zeros(p.shape, p.dtype)
        elif buf.shape != p.shape:  # the kernel would read out of bounds
            raise ValueError(f"{type(self).__name__}.step: state {key!r} has shape {buf.shape} "
                             f"but its parameter has shape {p.shape} (was the parameter's data "
                             "replaced?)")
        elif buf.dtype != p.dtype or not buf.flags.c_contiguous:
            buf = state[key] = _c_array(buf, p.dtype)
        return buf

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered across groups in order. The arrays are copies, so the
        dict is a snapshot that later steps do not change.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {k: v.copy() if isinstance(v, np.ndarray) else v
                                       for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore what :meth:`state_dict` returned (from this tinymm or from PyTorch).

        Groups and their sizes must match this optimizer's; buffers are copied and cast to
        each parameter's dtype; the group options (lr, betas, ...) come from the dict.
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{fn}: expected a dict with 'state' and 'param_groups', got "
                             f"{type(state_dict).__name__}"
                             + (f" with keys {sorted(map(str, state_dict))}"
                                if isinstance(state_dict, Mapping) else ""))
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{fn}: the state dict has {len(saved_groups)} param groups, "
                             f"the optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = list(saved["params"])
            if len(ids) != len(group["params"]):
                raise ValueError(f"{fn}: param group {i} has {len(ids)} parameters in the "
                                 f"state dict but {len(group['params'])} in the optimizer")
            by_index.update(zip((int(k) for k in ids), group["params"]))
        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"{fn}: the state dict has state for parameter {key}, which "
                                 "no param group lists")
            state[p] = {k: self._load_value(fn, key, k, v, p) for k, v in values.items()}
        groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            new = {k: v for k, v in saved.items() if k != "params"}
            for k, v in self.defaults.items():
                new.setdefault(k, v)
            self._check_group(new, f"{fn} (param group {i})")
            new["params"] = group["params"]
            groups.append(new)
        self.state, self.param_groups = state, groups

    @staticmethod
    def _load_value(fn: str, index, key: str, value, p: Tensor):
        if key == "step":  # PyTorch keeps it as a 0-d float tensor; tinymm as an int
            return int(float(np.asarray(_as_array(value))))
        if isinstance(value, (np.ndarray, Tensor)) or hasattr(value, "numpy"):
            arr = _as_array(value)
            if arr.shape != p.shape:
                raise ValueError(f"{fn}: state[{index}][{key!r}] has shape {arr.shape} but "
                                 f"parameter {index} has shape {p.shape}")
            return np.array(arr, dtype=p.dtype, order="C", copy=True)
        return value

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])
