"""What each Numba kernel costs to compile: a report for the benchmarks (cold-cache start-up).

Numba compiles a kernel on its first call for each new argument-type signature (no kernel
here declares eager signatures, so a float32 run compiles float32 code only) and stores the
machine code in ``__pycache__`` (``cache=True``); a later process loads it in milliseconds.
This module times the compiles themselves, by listening to Numba's ``numba:compile`` events
while each family's ``warmup()`` runs (tiny inputs, float32 and float64). A compile that
happens inside another (a jitted helper called by a kernel) is charged to the helper as its
own time and excluded from the caller's ``self_s``.

    python -m tinymm.kernels.compile_report            # cold: an empty cache in a temp dir
    python -m tinymm.kernels.compile_report --warm     # this process's cache as it is

or ``compile_report(cold=True)`` from Python (the cold run is a subprocess, so the caller's
already-compiled kernels and cache are left alone). ``kernels/`` never imports tinymm: this
module only imports the jit family modules.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["compile_report", "measure"]

_PACKAGE = "tinymm.kernels" if __name__ == "__main__" else __name__.rsplit(".", 1)[0]
_MODULE = f"{_PACKAGE}.compile_report"


def _families() -> tuple[str, ...]:
    return importlib.import_module(_PACKAGE).FAMILIES


class _CompileTimer:
    """A Numba event listener: (kernel, signature, self seconds, total seconds) per compile."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._local = threading.local()

    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def on_start(self, event) -> None:
        self._stack().append([time.perf_counter(), 0.0])

    def on_end(self, event) -> None:
        stack = self._stack()
        start, nested = stack.pop()
        total = time.perf_counter() - start
        if stack:
            stack[-1][1] += total
        fn = event.data["dispatcher"].py_func
        self.records.append({
            "kernel": f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}",
            "signature": ", ".join(str(a) for a in event.data["args"]),
            "self_s": round(total - nested, 4),
            "total_s": round(total, 4),
        })


def measure(families: tuple[str, ...] | None = None) -> dict:
    """Run each jit family's ``warmup()`` in this process and time every compile it causes.

    Returns ``{"families": {family: wall seconds of its warm-up}, "kernels": [records sorted
    by self time], "compile_s": sum of self times, "total_s": wall seconds}``. Kernels already
    compiled in this process, or loaded from the on-disk cache, cost no compile time.
    """
    from numba.core import event

    class Listener(event.Listener):  # forwards Numba's compile events to the timer
        def on_start(self, ev) -> None:
            timer.on_start(ev)

        def on_end(self, ev) -> None:
            timer.on_end(ev)

    timer = _CompileTimer()
    listener = Listener()
    walls: dict[str, float] = {}
    start_all = time.perf_counter()
    with event.install_listener("numba:compile", listener):
        for family in families or _families():
            module = importlib.import_module(f"{_PACKAGE}.jit.{family}")
            warm = getattr(module, "warmup", None)
            if warm is None:
                continue
            start = time.perf_counter()
            warm()
            walls[family] = round(time.perf_counter() - start, 4)
    records = sorted(timer.records, key=lambda r: -r["self_s"])
    return {"families": walls, "kernels": records,
            "compile_s": round(sum(r["self_s"] for r in records), 4),
            "total_s": round(time.perf_counter() - start_all, 4)}


def compile_report(cold: bool = True, families: tuple[str, ...] | None = None) -> dict:
    """:func:`measure` from a cold cache (``cold=True``: a fresh interpreter whose Numba
    cache is an empty temporary directory, so every kernel compiles) or in this process
    (``cold=False``). Same result layout as :func:`measure`."""
    if not cold:
        return measure(families)
    with tempfile.TemporaryDirectory(prefix="tinymm-numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cmd = [sys.executable, "-m", _MODULE, "--warm"]
        if families:
            cmd += ["--families", *families]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"compile_report: the cold run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm", action="store_true", help="measure in this process")
    parser.add_argument("--families", nargs="*", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    families = tuple(args.families) if args.families else None
    report = measure(families) if args.warm else compile_report(True, families)
    if args.json or args.warm:
        print(json.dumps(report))
        return
    print(f"compile {report['compile_s']:.2f} s of {report['total_s']:.2f} s wall "
          f"(cold cache, float32 + float64 warm-ups)")
    for family, s in report["families"].items():
        print(f"  {family:<14s} {s:7.2f} s")
    print("slowest kernels (self seconds, signature):")
    for r in report["kernels"][:25]:
        print(f"  {r['self_s']:7.3f}  {r['kernel']:<45s} ({r['signature'][:60]})")


if __name__ == "__main__":
    _main()
