"""Start-up probe: from a cold interpreter, import a framework and run one training step.

    python -m benchmarks.first_step --framework tinymm-numba [--case seed_step_b32_32]

Prints one JSON line with the in-process times (import, model set-up, first step). The
orchestrator also measures the wall time of the whole process, interpreter start included.
With ``--compile-report`` (tinymm-numba) it also records Numba's ``numba:compile`` events
during set-up and the first step: ``kernel_compile_s`` maps ``module.function(arg types)`` to
the seconds spent compiling that signature, its own time only (a kernel that calls another
jitted function does not count the callee's compilation twice), so the values add up to
``compile_total_s``. A kernel loaded from the cache raises no event.
"""

import time

T0 = time.perf_counter()  # before any other import

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", required=True)
    parser.add_argument("--case", default="seed_step_b32_32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile-report", action="store_true",
                        help="record each Numba kernel signature compiled and its time")
    parser.add_argument("--warmup-kernels", action="store_true",
                        help="compile every Numba kernel (tinymm.kernels.warmup()) and stop")
    args = parser.parse_args()
    out = {}
    if args.warmup_kernels:
        import tinymm

        out["import_s"] = time.perf_counter() - T0
        t = time.perf_counter()
        per_family = tinymm.kernels.warmup()
        out["compile_s"] = time.perf_counter() - t
        out["families"] = per_family
        print(json.dumps(out))
        return
    from . import frameworks

    fw = frameworks.make(args.framework, args.threads)
    out["import_s"] = time.perf_counter() - T0
    from . import registry

    recorder = None
    if args.compile_report and args.framework.startswith("tinymm"):
        from numba.core import event

        recorder = event.install_recorder("numba:compile")
        listener = recorder.__enter__()
    t = time.perf_counter()
    bench = registry.get(args.case).setup(fw, args.seed)
    out["setup_s"] = time.perf_counter() - t
    t = time.perf_counter()
    bench.step()
    out["first_step_s"] = time.perf_counter() - t
    out["total_s"] = time.perf_counter() - T0
    if recorder is not None:
        recorder.__exit__(None, None, None)
        out["kernel_compile_s"] = compile_times(listener.buffer)
        out["compile_total_s"] = sum(out["kernel_compile_s"].values())
    sys.stdout.flush()
    print(json.dumps(out))


def compile_times(buffer) -> dict[str, float]:
    """``(timestamp, Event)`` pairs of ``numba:compile`` -> own seconds per signature."""
    own: dict[str, float] = {}
    stack: list[list] = []          # [name, start, children's time]
    for ts, ev in buffer:
        if ev.is_start:
            disp = ev.data["dispatcher"]
            func = getattr(disp, "py_func", None)
            name = (f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"
                    f"({', '.join(str(a) for a in ev.data.get('args') or ())})")
            stack.append([name, ts, 0.0])
        elif stack:
            name, start, children = stack.pop()
            total = ts - start
            own[name] = own.get(name, 0.0) + max(0.0, total - children)
            if stack:
                stack[-1][2] += total
    return own


if __name__ == "__main__":
    main()
