"""The registry covers every public op and module, and every entry builds a valid call."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tinymm.functional as F
from registry import SIZES, SPECS
from registry.harness import call_tinymm, flatten, make_tinymm, tinymm_args
from tinymm import nn

# Exported Module subclasses without a forward of their own (nothing to call): the base
# class and the containers that only hold modules.
MODULE_EXEMPT = {"Module": "the base class", "ModuleList": "no forward (a list of modules)",
                 "ModuleDict": "no forward (a dict of modules)"}


def _public_functions() -> set[str]:
    names = set(getattr(F, "__all__", ()))
    names |= {n for n, v in vars(F).items()
              if not n.startswith("_") and inspect.isfunction(v) and v.__module__.startswith(
                  "tinymm.functional")}
    return names


def _public_modules() -> set[str]:
    return {n for n in dir(nn) if not n.startswith("_") and inspect.isclass(getattr(nn, n))
            and issubclass(getattr(nn, n), nn.Module)}


def test_every_functional_op_has_an_entry():
    covered = {s.target for s in SPECS}
    missing = sorted(n for n in _public_functions() if getattr(F, n) not in covered)
    assert not missing, f"tinymm.functional names without a registry entry: {missing}"


def test_every_module_has_an_entry():
    covered = {s.target for s in SPECS}
    missing = sorted(n for n in _public_modules()
                     if n not in MODULE_EXEMPT and getattr(nn, n) not in covered)
    assert not missing, f"tinymm.nn Modules without a registry entry: {missing}"


def test_exemptions_are_still_needed():
    stale = sorted(n for n in MODULE_EXEMPT if n not in _public_modules())
    assert not stale, f"exempt names no longer exported by tinymm.nn: {stale}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_entry_builds_a_valid_call(spec):
    """Every size the entry lists gives a call that tinymm accepts, deterministically."""
    for size in spec.sizes:
        if size == "bench":
            continue  # covered by the aliasing test; too slow to build here for every entry
        a = spec.build(np.random.default_rng(0), size)
        b = spec.build(np.random.default_rng(0), size)
        assert a.arrays.keys() == b.arrays.keys()
        for k in a.arrays:
            np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=f"{spec.name} {k}")
        assert set(spec.sizes) <= set(SIZES)
        out = flatten(call_tinymm(spec, a, tinymm_args(spec, a), make_tinymm(spec, a)))
        assert out, f"{spec.name} at {size} returned no tensor"
