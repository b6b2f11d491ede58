"""Every benchmark case by name, the --quick subset and the --scaling series."""

from __future__ import annotations

from .case import Case


def all_cases() -> list[Case]:
    from . import cases_models, cases_ops, cases_round2, cases_scaling, cases_selftest

    cases = cases_ops.cases() + cases_models.cases()
    cases += cases_round2.cases({c.name for c in cases})
    cases += cases_selftest.cases() + cases_scaling.cases()
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuntimeError(f"all_cases: duplicate case names {dupes}")
    return cases


def get(name: str) -> Case:
    for case in all_cases():
        if case.name == name:
            return case
    raise KeyError(f"registry.get: no case named {name!r}")


def select(patterns: list[str] | None = None, quick: bool = False,
           scaling: bool = False) -> list[Case]:
    """Cases whose name contains any of ``patterns`` (all when None), the quick subset if asked.

    Hidden cases (names starting with ``_``: harness self-tests) are selected only by a
    pattern that itself starts with ``_``. Scaling cases (group ``scaling``) are selected
    only with ``scaling=True``, and then only they.
    """
    cases = [c for c in all_cases() if (c.group == "scaling") == scaling]
    hidden = [c for c in cases if c.name.startswith("_")]
    cases = [c for c in cases if not c.name.startswith("_")]
    if patterns and any(p.startswith("_") for p in patterns):
        cases += [c for c in hidden if any(p in c.name for p in patterns if p.startswith("_"))]
    if quick and not scaling:      # --scaling --quick: every series point, shorter timing
        cases = [c for c in cases if c.quick]
    if patterns:
        cases = [c for c in cases if any(p in c.name for p in patterns)]
    return cases
