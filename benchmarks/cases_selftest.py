"""Tiny hidden cases that test the harness itself (names start with ``_``; not in the suite).

``_selftest_matmul``: y = x @ w in every framework (must pass the guard).
``_selftest_wrong``: tinymm deliberately computes 1.1 * (x @ w) (must be FAILED-CHECK).
"""

from __future__ import annotations

from functools import partial

from .case import Bench, Case, data, op_bench
from .frameworks import Framework


def _matmul(fw: Framework, seed: int, mode: str, wrong: bool = False) -> Bench:
    w = fw.tensor(data(seed, "w", (16, 8)), requires_grad=True)
    scale = 1.1 if (wrong and fw.name != "torch") else 1.0

    def fn(x):
        return (x @ w) * scale

    return op_bench(fw, seed, fn, {"x": (data(seed, "x", (4, 16)), True)}, mode)


def cases() -> list[Case]:
    return [
        Case(name="_selftest_matmul", group="selftest", title="4x16 @ 16x8, fwd+bwd",
             setup=partial(_matmul, mode="fb"), flops=3 * 2 * 4 * 16 * 8),
        Case(name="_selftest_wrong", group="selftest", title="a deliberately wrong tinymm",
             setup=partial(_matmul, mode="fb", wrong=True)),
    ]
