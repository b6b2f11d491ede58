"""Run one hostile call of a registry entry and classify what happened.

Outcomes: ``"result"`` (an answer, checked against PyTorch's shape and dtype where PyTorch
accepts the call, and against the valid call for views), ``"named error"`` (an allowed
exception type whose message names the op) and anything else, which fails the test with a
description. Every outcome is counted in :data:`COUNTS` for the session summary.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
from registry import Sample, Spec
from registry.harness import as_numpy, flatten, make_torch, parameters

import tinymm as tm
import tinymm.functional as F

from .attacks import AsList

# kind -> count; "other" must stay 0. Filled by classify(), reported by conftest.py.
COUNTS: collections.Counter = collections.Counter()
BY_ATTACK: collections.Counter = collections.Counter()  # (attack, kind) -> count

# A result is "garbage" when it is O(1) away from PyTorch's: this is not an accuracy test
# (the tolerance tests bound rounding from the op's conditioning); rounding differences of
# float32 sums over the registry's small sizes are below 1e-4 relative.
GARBAGE_RTOL = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-8}


class FuzzFailure(AssertionError):
    pass


def _tinymm_args(spec: Spec, sample: Sample) -> dict[str, Any]:
    out = {}
    for name, arr in sample.arrays.items():
        if arr is None:
            out[name] = None
        elif isinstance(arr, AsList):
            out[name] = arr.array.tolist()
        else:
            grad = (spec.differentiable and name in sample.grad
                    and arr.dtype in (np.float32, np.float64))
            out[name] = tm.Tensor(arr, requires_grad=grad)
    return out


def _torch_args(sample: Sample) -> dict[str, Any]:
    import torch

    out = {}
    for name, arr in sample.arrays.items():
        if arr is None:
            out[name] = None
        elif isinstance(arr, AsList):
            out[name] = arr.array.tolist()
        else:
            out[name] = torch.from_numpy(np.array(arr, copy=True))
    return out


def _is_named_error(spec: Spec, exc: BaseException, allowed) -> bool:
    if type(exc).__module__.startswith("numba") or isinstance(exc, MemoryError):
        return False
    if not isinstance(exc, tuple(allowed)):
        return False
    message = str(exc).lower()
    return any(n.lower() in message for n in (spec.error_name, *spec.also_named))


def run_tinymm(spec: Spec, sample: Sample, backward: bool = True):
    """(outputs as arrays, grads as arrays) of the call, or raises what tinymm raised."""
    args = _tinymm_args(spec, sample)
    module = None
    tm.manual_seed(0)  # the same parameters (and dropout masks) on every run
    if spec.is_module:
        module = spec.make(tm.nn, dict(sample.init))
        floats = [a for a in sample.arrays.values()
                  if isinstance(a, np.ndarray) and a.dtype == np.float64]
        if floats:
            module.double()
    result = spec.call(module if spec.is_module else F, args, dict(sample.options))
    outs = flatten(result)
    for o in outs:
        if not isinstance(o, tm.Tensor):
            raise FuzzFailure(f"{spec.name}: returned a {type(o).__name__}, not a Tensor")
    grads = []
    if backward and spec.differentiable:
        live = [o for o in outs if o.requires_grad and o.dtype.kind == "f"]
        if live:
            total = live[0].sum()
            for o in live[1:]:
                total = total + o.sum()
            total.backward()
            leaves = [t for t in args.values() if isinstance(t, tm.Tensor) and t.requires_grad]
            for t in leaves + parameters(module):
                if t.grad is not None:
                    if t.grad.shape != t.shape or t.grad.dtype != t.dtype:
                        raise FuzzFailure(f"{spec.name}: gradient of shape {t.grad.shape} "
                                          f"{t.grad.dtype} for a {t.shape} {t.dtype} input")
                    grads.append(np.array(t.grad, copy=True))
    return [as_numpy(o) for o in outs], grads, module


def run_torch(spec: Spec, sample: Sample, module) -> list[np.ndarray] | None:
    """PyTorch's outputs for the same call, or None if PyTorch refuses it (or has no twin)."""
    if spec.torch_call is None:
        return None
    import torch

    try:
        args = _torch_args(sample)
        if spec.is_module:
            tmod = make_torch(spec, sample, module)
            target = tmod
        else:
            target = torch.nn.functional
        if spec.random:
            torch.manual_seed(0)
        with torch.no_grad():
            result = spec.torch_call(target, args, dict(sample.options))
        return [o.detach().numpy().copy() for o in flatten(result)]
    except Exception:  # noqa: BLE001 - any refusal by PyTorch
        return None


def _garbage(spec: Spec, ours: np.ndarray, theirs: np.ndarray) -> str | None:
    """Why ``ours`` is garbage next to PyTorch's ``theirs`` (None if it is not)."""
    if ours.dtype.kind != "f" or ours.size == 0:
        return None if np.array_equal(ours, theirs) or ours.size == 0 else \
            "integer values differ"
    fin_a, fin_b = np.isfinite(ours), np.isfinite(theirs)
    if not np.array_equal(fin_a, fin_b):
        return (f"{int((fin_a != fin_b).sum())} elements finite in one result and not in the "
                "other")
    if not np.array_equal(np.isnan(ours), np.isnan(theirs)):
        return "NaN in different places"
    inf = ~fin_a & ~np.isnan(ours)
    if not np.array_equal(ours[inf], theirs[inf]):
        return "infinities of different sign"
    a, b = ours[fin_a].astype(np.float64), theirs[fin_b].astype(np.float64)
    if a.size == 0:
        return None
    scale = max(1.0, float(np.abs(b).max()))
    err = float(np.abs(a - b).max())
    if err > GARBAGE_RTOL.get(ours.dtype, 1e-3) * scale:
        return f"max |difference| {err:.3g} at scale {scale:.3g}"
    return None


def classify(spec: Spec, attack: str, expect: str, sample: Sample, errors,
             reference: list[np.ndarray] | None = None, values: bool = True,
             known_bug: bool = False) -> str:
    """Run the hostile call; return the outcome kind or raise FuzzFailure (counted; failures
    of an entry with a known, strictly xfailed bug are counted apart as "known bug")."""
    try:
        kind = _classify(spec, expect, sample, errors, reference, values)
    except FuzzFailure:
        kind = "known bug" if known_bug else "other"
        COUNTS[kind] += 1
        BY_ATTACK[(attack, kind)] += 1
        raise
    COUNTS[kind] += 1
    BY_ATTACK[(attack, kind)] += 1
    return kind


def _classify(spec, expect, sample, errors, reference, values) -> str:
    allowed = tuple(errors)
    try:
        outs, _grads, module = run_tinymm(spec, sample)
    except FuzzFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        if _is_named_error(spec, exc, allowed):
            return "named error"
        raise FuzzFailure(f"{spec.name}: {type(exc).__module__}.{type(exc).__name__}: "
                          f"{exc}  (allowed: {[e.__name__ for e in allowed]} naming "
                          f"{spec.error_name!r})") from exc
    if expect == "refuse":
        raise FuzzFailure(f"{spec.name}: accepted a call it must refuse with "
                          f"{[e.__name__ for e in allowed]}")
    if expect == "same" and reference is not None:
        if len(outs) != len(reference):
            raise FuzzFailure(f"{spec.name}: {len(outs)} outputs for a view, "
                              f"{len(reference)} for the contiguous call")
        for i, (a, b) in enumerate(zip(outs, reference)):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise FuzzFailure(f"{spec.name}: output {i} is {a.shape} {a.dtype} for views, "
                                  f"{b.shape} {b.dtype} for contiguous arrays")
            why = None if spec.random else _garbage(spec, a, b)
            if why:
                raise FuzzFailure(f"{spec.name}: output {i} differs between views and "
                                  f"contiguous arrays of the same values: {why}")
    theirs = run_torch(spec, sample, module)
    if theirs is not None:
        if len(outs) != len(theirs):
            raise FuzzFailure(f"{spec.name}: {len(outs)} outputs, PyTorch gives {len(theirs)}")
        for i, (a, b) in enumerate(zip(outs, theirs)):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise FuzzFailure(f"{spec.name}: output {i} is {a.shape} {a.dtype}, PyTorch "
                                  f"gives {b.shape} {b.dtype}")
            why = None if spec.random or not values else _garbage(spec, a, b)
            if why:
                raise FuzzFailure(f"{spec.name}: output {i} is not PyTorch's: {why}")
    return "result"
