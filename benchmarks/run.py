"""Run the tinymm-vs-PyTorch benchmark suite and print a table.

    python benchmarks/run.py              # the full suite (tens of minutes)
    python benchmarks/run.py --quick      # a one-minute subset
    python benchmarks/run.py --cases lstm conv2d_64 --rounds 7
    python benchmarks/run.py --profile seed_step_b32_32   # cProfile of the tinymm worker
    python benchmarks/run.py --scaling    # the scaling curves only (out/scaling.*)
    python benchmarks/run.py --compare OLD.json [NEW.json]  # per-case change
    python benchmarks/run.py --alternatives  # add torch.compile, MyGrad, tinygrad columns

Writes benchmarks/out/results.json, results.md and ratios.png; a full run (no --quick, no
--cases) also rewrites benchmarks/RESULTS.md. See benchmarks/README.md for the method.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import compare, machine, provenance, registry, report, runner, startup  # noqa: E402
from benchmarks.frameworks import ALL_FRAMEWORKS, ALTERNATIVES, FRAMEWORKS  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tinymm vs PyTorch benchmarks")
    p.add_argument("--quick", action="store_true", help="a one-minute subset")
    p.add_argument("--cases", nargs="*", help="only cases whose name contains one of these")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--threads", type=int, default=2, help="threads per framework (default 2)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 3)")
    p.add_argument("--round-s", type=float, help="seconds per framework per round")
    p.add_argument("--budget-s", type=float, help="timed seconds per framework per case, at most")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frameworks", nargs="*", default=None, choices=ALL_FRAMEWORKS,
                   help=f"default {' '.join(FRAMEWORKS)}")
    p.add_argument("--alternatives", action="store_true",
                   help=f"also run {', '.join(ALTERNATIVES)} (optional; a missing one is "
                        "reported unavailable)")
    p.add_argument("--scaling", action="store_true",
                   help="run the scaling series only (batch, sequence length, channels): "
                        "out/scaling.json, scaling.md, scaling.png; a later full run puts them "
                        "into RESULTS.md")
    p.add_argument("--compare", nargs="+", metavar="JSON",
                   help="OLD.json: run, then print the change per case against it; "
                        "OLD.json NEW.json: only compare two saved runs")
    p.add_argument("--later-call", type=int, default=3,
                   help="the guard also checks this call (default 3: buffers are reused from "
                        "call 2); 0 checks call 1 only")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory increment of model cases (fresh processes)")
    p.add_argument("--quiet", type=float, metavar="FRACTION",
                   help="before each case wait (see --quiet-wait-s) until other processes use less "
                        "than this fraction of the CPUs, e.g. 0.2")
    p.add_argument("--quiet-wait-s", type=float, default=60.0,
                   help="with --quiet: wait at most this long per case (default 60)")
    p.add_argument("--disturbed", type=float, default=0.15, metavar="FRACTION",
                   help="a case during which other processes used more than this share of the "
                        "CPUs is disturbed: it is re-run (default 0.15)")
    p.add_argument("--retries", type=int, default=None,
                   help="re-runs of a disturbed case, at most (default 2, 0 with --quick); the "
                        "least disturbed run is kept")
    p.add_argument("--allocator", choices=runner.ALLOCATORS, default="same",
                   help="same (default): every framework runs with the same fixed glibc "
                        "thresholds (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_); "
                        "glibc-default: glibc's dynamic thresholds, with which a time depends "
                        "on what ran before in the worker")
    p.add_argument("--no-check", action="store_true", help="skip the correctness guard")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up cases")
    p.add_argument("--profile", metavar="CASE", help="print a cProfile of one case and exit")
    p.add_argument("--profile-framework", default="tinymm-numba", choices=ALL_FRAMEWORKS)
    p.add_argument("--profile-misses", action=argparse.BooleanOptionalAction, default=None,
                   help="profile the tinymm worker of cases that miss a target (default: only "
                        "after a full run)")
    p.add_argument("--out", type=Path, default=OUT, help="output directory")
    p.add_argument("--results-md", type=Path, default=None,
                   help="also write this RESULTS.md (default: benchmarks/RESULTS.md after a "
                        "full run)")
    return p.parse_args(argv)


def make_settings(args: argparse.Namespace) -> runner.Settings:
    frameworks = list(args.frameworks or FRAMEWORKS)
    if args.alternatives:
        frameworks += [f for f in ALTERNATIVES if f not in frameworks]
    s = runner.Settings(threads=args.threads, seed=args.seed, frameworks=tuple(frameworks),
                        check=not args.no_check, quiet=args.quiet,
                        quiet_wait_s=args.quiet_wait_s, later_call=args.later_call,
                        memory=not args.no_memory, allocator=args.allocator)
    if args.quick:
        s.rounds, s.round_s, s.budget_s, s.warmup_reps, s.warmup_s, s.gap_s = \
            3, 0.12, 4.0, 2, 0.1, 0.1
    if args.rounds:
        s.rounds = args.rounds
    if args.round_s:
        s.round_s = args.round_s
    if args.budget_s:
        s.budget_s = args.budget_s
    return s


def _line(row: dict) -> str:
    def ms(fw: str) -> str:
        d = row["frameworks"].get(fw, {})
        t = d.get("timing")
        if d.get("status") != "ok" or not t or not t.get("n"):
            return f"{d.get('status', '-'):>12s}"
        return f"{t['median_ms']:10.2f}ms"

    r = row.get("ratio_numba_torch")
    alt = "".join(f"  {SHORT_ALT[f]} {ms(f)}" for f in ALTERNATIVES if f in row["frameworks"])
    return (f"{row['name']:<34s} torch {ms('torch')}  numba {ms('tinymm-numba')}  "
            f"numpy {ms('tinymm-numpy')}{alt}  numba/torch {'-' if r is None else f'{r:.2f}'}")


SHORT_ALT = {"torch-compile": "compile", "mygrad": "mygrad", "tinygrad": "tinygrad"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = make_settings(args)
    if args.compare and len(args.compare) > 2:
        print("--compare takes OLD.json or OLD.json NEW.json", file=sys.stderr)
        return 2
    if args.compare and len(args.compare) == 2:
        print(compare.format_comparison(compare.load(args.compare[0]),
                                        compare.load(args.compare[1])))
        return 0
    old = compare.load(args.compare[0]) if args.compare else None  # fail before a long run
    if args.list:
        for c in registry.select(args.cases, args.quick, args.scaling):
            print(f"{c.name:<34s} {'quick ' if c.quick else '      '}{c.title}")
        return 0
    if args.profile:
        case = registry.get(args.profile)
        print(runner.profile_case(case, settings, args.profile_framework))
        return 0

    start = time.perf_counter()
    command = "python benchmarks/run.py" + ("" if argv is None and len(sys.argv) < 2 else
                                            " " + shlex.join(argv if argv is not None
                                                             else sys.argv[1:]))
    env = settings.env()
    info = machine.info()
    info["provenance"] = provenance.collect(env, settings.threads)
    for line in provenance.summary_lines(info["provenance"]):
        print(line.rstrip(), flush=True)
    ceiling = machine.matmul_ceiling(env)
    print(f"{info['cpu']}, {info['logical_cpus']} CPUs; {settings.threads} threads per framework;"
          f" matmul ceiling {ceiling.get('gflops_median', float('nan')):.0f} GFLOP/s (float32 "
          f"1024^3, numpy)", flush=True)
    rows: list[dict] = []
    cases = registry.select(args.cases, args.quick, args.scaling)
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case.name}: {case.title} (load {os.getloadavg()[0]:.1f})",
              flush=True)
        retries = args.retries if args.retries is not None else (0 if args.quick else 2)
        row = run_with_retries(case, settings, env, retries, args.disturbed)
        rows.append(row)
        print("   " + _line(row), flush=True)
    if not args.no_startup and not args.cases and not args.scaling:
        reps = 2 if args.quick else 5
        print("[startup] import", flush=True)
        rows.append(startup.import_case(settings, reps))
        print("   " + _line(rows[-1]), flush=True)
        if not args.quick:
            print("[startup] cold compile", flush=True)
            rows.append(_guarded(lambda: startup.cold_compile_case(settings, 1),
                                 "startup_cold_compile"))
            print("[startup] first training step", flush=True)
            rows += _guarded(lambda: startup.first_step_cases(settings, 3),
                             "startup_first_step", many=True)
            print("[startup] first `tinymm train`, cold and warm cache", flush=True)
            rows.append(_guarded(lambda: startup.train_cold_warm_case(settings, 2),
                                 "startup_train"))
    payload = {
        "command": command,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": info,
        "matmul_ceiling": ceiling,
        "settings": {k: v for k, v in vars(settings).items() if k != "log_dir"},
        "log_dir": settings.log_dir,
        "results": rows,
        "targets": report.evaluate_targets(rows),
    }
    if args.scaling:
        return finish_scaling(payload, args, start, old)
    full = not args.quick and not args.cases
    if args.profile_misses or (args.profile_misses is None and full):
        payload["profiles"] = profile_misses(payload["targets"], settings)
    args.out.mkdir(parents=True, exist_ok=True)
    payload["scaling"] = load_scaling(args.out)
    png = args.out / "ratios.png"
    payload["png_note"] = report.write_png(png, rows)
    payload["png"] = None if payload["png_note"] else _display_path(png)
    payload["elapsed_s"] = time.perf_counter() - start
    report.write_json(args.out / "results.json", payload)
    md = report.results_markdown(payload)
    (args.out / "results.md").write_text(
        md.replace("(scaling figure)", f"Figure: `{_display_path(args.out / 'scaling.png')}`"))
    target = args.results_md or (RESULTS_MD if full else None)
    if target is not None:
        if payload["scaling"]:
            # the figure beside RESULTS.md, so that the committed page shows it
            from benchmarks import cases_scaling

            fig = target.parent / "scaling.png"
            note = cases_scaling.write_png(fig, payload["scaling"]["results"])
            md = md.replace("(scaling figure)", f"![scaling]({fig.name})" if not note else note)
        target.write_text(md)
    print()
    print(report.markdown_table(rows))
    print()
    print(report.targets_table(payload["targets"]))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'results.md'}"
          + (f", {png}" if not payload["png_note"] else f" ({payload['png_note']})")
          + (f", {target}" if target else "")
          + f"; worker logs in {settings.log_dir}")
    print("\n" + report.guard_sentence(rows))
    if old is not None:
        print("\n" + compare.format_comparison(old, payload))
    return 0


def finish_scaling(payload: dict, args: argparse.Namespace, start: float,
                   old: dict | None) -> int:
    """Write out/scaling.json, scaling.md, scaling.png (a full run embeds them later)."""
    from benchmarks import cases_scaling

    args.out.mkdir(parents=True, exist_ok=True)
    payload["elapsed_s"] = time.perf_counter() - start
    report.write_json(args.out / "scaling.json", payload)
    note = cases_scaling.write_png(args.out / "scaling.png", payload["results"])
    table = cases_scaling.series_table(payload["results"])
    (args.out / "scaling.md").write_text(table)
    print()
    print(table)
    print(report.guard_sentence(payload["results"]))
    print(f"wrote {args.out / 'scaling.json'}, {args.out / 'scaling.md'}"
          + (f" ({note})" if note else f", {args.out / 'scaling.png'}"))
    if old is not None:
        print("\n" + compare.format_comparison(old, payload))
    return 0


def load_scaling(out: Path) -> dict | None:
    """The last ``--scaling`` run (out/scaling.json), or None."""
    path = out / "scaling.json"
    if not path.exists():
        return None
    try:
        return compare.load(path)
    except (ValueError, OSError):
        return None


def run_with_retries(case, settings: runner.Settings, env: dict[str, str], retries: int,
                     disturbed: float) -> dict:
    """Run a case; while other processes disturbed it, wait for quiet and run it again."""
    def say(msg: str) -> None:
        if msg.startswith("  waiting"):
            print(msg, flush=True)

    best = None
    for attempt in range(retries + 1):
        if attempt:
            print(f"   disturbed ({best['cpu_foreign']:.0%} of the CPUs used elsewhere): "
                  f"re-running", flush=True)
            machine.wait_quiet(0.1, settings.quiet_wait_s, say)
        row = runner.run_case(case, settings, env, progress=say)
        row["attempts"] = attempt + 1
        foreign = row.get("cpu_foreign")
        if best is None or (foreign or 0.0) < (best.get("cpu_foreign") or 0.0):
            best = row
        if foreign is None or foreign <= disturbed:
            break
    best["attempts"] = row["attempts"]
    best["disturbed"] = (best.get("cpu_foreign") or 0.0) > disturbed
    return best


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(OUT.parent.parent))
    except ValueError:
        return str(path)


def profile_misses(targets: list[dict], settings: runner.Settings) -> dict[str, str]:
    """cProfile text of the tinymm worker for every timed case that misses a target."""
    out: dict[str, str] = {}
    names = {c.name for c in registry.all_cases()}
    for t in targets:
        case = t["case"]
        timed = t.get("quantity", "ratio_numba_torch") == "ratio_numba_torch"
        if t["met"] is False and timed and case in names and case not in out:
            print(f"[profile] {case} (missed: {t['target']})", flush=True)
            try:
                out[case] = runner.profile_case(registry.get(case), settings)
            except Exception as exc:  # noqa: BLE001
                out[case] = f"profile failed: {exc}"
    return out


def _guarded(fn, name: str, many: bool = False):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001  (a start-up failure is a row, not a crash)
        row = {"name": name, "group": "startup", "title": name, "flops": None,
               "frameworks": {"tinymm-numba": {"status": "error", "error": str(exc)}},
               "ratio_numba_torch": None, "ratio_numpy_torch": None,
               "speedup_numba_vs_numpy": None}
        return [row] if many else row


if __name__ == "__main__":
    sys.exit(main())
