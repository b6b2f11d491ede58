"""Tiny hidden cases that test the harness itself (names start with ``_``; not in the suite).

``_selftest_matmul``: y = x @ w in every framework (must pass the guard).
``_selftest_wrong``: tinymm deliberately computes 1.1 * (x @ w) (must be FAILED-CHECK).
``_selftest_stale``: tinymm is right on call 1 and wrong from call 2 on, as a kernel that
reuses a stale buffer would be (must be FAILED-CHECK by the later-call check).
"""

from __future__ import annotations

from functools import partial

from .case import Bench, Case, data, op_bench
from .frameworks import Framework


def _matmul(fw: Framework, seed: int, mode: str, wrong: bool = False,
            stale: bool = False) -> Bench:
    w = fw.tensor(data(seed, "w", (16, 8)), requires_grad=True)
    scale = 1.1 if (wrong and fw.name != "torch") else 1.0
    calls = [0]

    def fn(x):
        calls[0] += 1
        if stale and fw.name != "torch" and calls[0] > 2:   # call 1 (and the shape probe)
            return (x @ w) * 1.1
        return (x @ w) * scale

    return op_bench(fw, seed, fn, {"x": (data(seed, "x", (4, 16)), True)}, mode)


def cases() -> list[Case]:
    return [
        Case(name="_selftest_matmul", group="selftest", title="4x16 @ 16x8, fwd+bwd",
             setup=partial(_matmul, mode="fb"), flops=3 * 2 * 4 * 16 * 8),
        Case(name="_selftest_wrong", group="selftest", title="a deliberately wrong tinymm",
             setup=partial(_matmul, mode="fb", wrong=True)),
        Case(name="_selftest_stale", group="selftest", title="tinymm wrong from call 2 on",
             setup=partial(_matmul, mode="fb", stale=True)),
    ]
