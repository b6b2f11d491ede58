"""Start-up probe: from a cold interpreter, import a framework and run one training step.

    python -m benchmarks.first_step --framework tinymm-numba [--case seed_step_b32_32]

Prints one JSON line with the in-process times (import, model set-up, first step). The
orchestrator also measures the wall time of the whole process, interpreter start included.
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

    t = time.perf_counter()
    bench = registry.get(args.case).setup(fw, args.seed)
    out["setup_s"] = time.perf_counter() - t
    t = time.perf_counter()
    bench.step()
    out["first_step_s"] = time.perf_counter() - t
    out["total_s"] = time.perf_counter() - T0
    sys.stdout.flush()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
