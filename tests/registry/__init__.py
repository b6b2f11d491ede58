"""The op/module registry: every public ``tinymm.functional`` op and ``tinymm.nn`` layer,
with how to call it validly, how to attack it and how to call it in PyTorch.

``SPECS`` gathers the module-level ``SPECS`` lists of every module in this package, so an
area adds its ops in its own file (``tests/registry/<area>.py``) without touching the
others. See :mod:`tests.registry.spec` for the entry format.
"""

from __future__ import annotations

import importlib
import pkgutil

from .spec import DEGENERATE, DIMS, SIZES, Dims, Invalid, Sample, Spec

__all__ = ["SPECS", "by_name", "Spec", "Sample", "Invalid", "Dims", "DIMS", "SIZES",
           "DEGENERATE"]


def _collect() -> list[Spec]:
    specs: list[Spec] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("test"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        specs.extend(getattr(module, "SPECS", ()))
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"tests/registry: duplicate spec names {duplicates}")
    return specs


SPECS: list[Spec] = _collect()


def by_name(name: str) -> Spec:
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(f"no registry entry named {name!r}")
