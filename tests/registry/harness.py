"""Run a registry entry in tinymm or PyTorch: arrays -> framework tensors, module
construction (PyTorch gets a copy of the tinymm module's parameters), output flattening."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinymm as tm
import tinymm.functional as F

from .spec import Sample, Spec


def tinymm_args(spec: Spec, sample: Sample, requires_grad: bool = True) -> dict[str, Any]:
    """Tensors for ``sample.arrays`` (fresh copies; differentiable ones require grad)."""
    out = {}
    for name, arr in sample.arrays.items():
        if arr is None:
            out[name] = None
            continue
        grad = requires_grad and spec.differentiable and name in sample.grad \
            and arr.dtype.kind == "f"
        out[name] = tm.Tensor(arr.copy(), requires_grad=grad)
    return out


def torch_args(spec: Spec, sample: Sample, requires_grad: bool = True) -> dict[str, Any]:
    import torch

    out = {}
    for name, arr in sample.arrays.items():
        if arr is None:
            out[name] = None
            continue
        t = torch.from_numpy(np.array(arr, copy=True))
        if requires_grad and spec.differentiable and name in sample.grad and arr.dtype.kind == "f" \
                and arr.dtype != np.float16:
            t.requires_grad_(True)
        out[name] = t
    return out


def float_dtype(sample: Sample) -> np.dtype:
    """The sample's float dtype (float32 if it has no float array)."""
    for arr in sample.arrays.values():
        if arr is not None and arr.dtype.kind == "f":
            return arr.dtype
    return np.dtype(np.float32)


def make_tinymm(spec: Spec, sample: Sample):
    """The tinymm module for a module entry (in ``sample``'s float dtype), else None."""
    if not spec.is_module:
        return None
    m = spec.make(tm.nn, dict(sample.init))
    if float_dtype(sample) == np.float64:
        m.double()
    return m


def make_torch(spec: Spec, sample: Sample, tinymm_module):
    """The torch module for a module entry with ``tinymm_module``'s parameters, else None."""
    import torch

    if not spec.is_module:
        return None
    m = spec.make(torch.nn, dict(sample.init))
    if float_dtype(sample) == np.float64:
        m.double()
    state = {k: torch.from_numpy(np.array(v, copy=True))
             for k, v in tinymm_module.state_dict().items()}
    m.load_state_dict(state)
    m.train(tinymm_module.training)
    return m


def call_tinymm(spec: Spec, sample: Sample, args: dict, module=None):
    """Run the entry in tinymm (``module``: the module instance for module entries)."""
    target = module if spec.is_module else F
    return spec.call(target, args, dict(sample.options))


def call_torch(spec: Spec, sample: Sample, args: dict, module=None):
    import torch

    target = module if spec.is_module else torch.nn.functional
    return spec.torch_call(target, args, dict(sample.options))


def flatten(result) -> list:
    """The tensors of a (nested) result, in order, without Nones."""
    if result is None:
        return []
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flatten(r)]
    return [result]


def as_numpy(t) -> np.ndarray:
    """A tinymm or torch tensor as an ndarray (a copy)."""
    if isinstance(t, tm.Tensor):
        return np.array(t.data, copy=True)
    return t.detach().numpy().copy()


def parameters(module) -> list:
    return [] if module is None else list(module.parameters())
