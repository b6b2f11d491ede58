"""Writers: the markdown table, the JSON file, the PNG chart of ratios, and the targets."""

from __future__ import annotations

import json
from pathlib import Path

SHORT = {"tinymm-numba": "numba", "tinymm-numpy": "numpy", "torch": "torch",
         "torch-compile": "torch.compile", "mygrad": "mygrad", "tinygrad": "tinygrad"}
ALTERNATIVES = ("torch-compile", "mygrad", "tinygrad")

# Issue 16's targets, in its words. (description, case, quantity, comparison, threshold);
# quantity "ratio_numba_torch" is median tinymm-Numba / median PyTorch of that case.
TARGETS = [
    ("seed-model Adam step <= 0.9", "seed_step_b32_32", "ratio_numba_torch", "<=", 0.9),
    ("the seed model at 224² (batch 8) <= 1.0", "seed_step_b8_224", "ratio_numba_torch", "<=",
     1.0),
    ("conv2d 64->128 at 16² <= 1.2", "conv2d_64x128_16_fb", "ratio_numba_torch", "<=", 1.2),
    ("the first layer 3->64 at 32² <= 1.3", "conv2d_3x64_32_fb", "ratio_numba_torch", "<=", 1.3),
    ("max_pool2d <= 0.8 (fwd+bwd)", "max_pool2d_fb", "ratio_numba_torch", "<=", 0.8),
    ("max_pool2d <= 0.8 (forward under no_grad)", "max_pool2d_fwd", "ratio_numba_torch", "<=",
     0.8),
    ("avg_pool2d <= 0.8 (fwd+bwd)", "avg_pool2d_fb", "ratio_numba_torch", "<=", 0.8),
    ("avg_pool2d <= 0.8 (forward under no_grad)", "avg_pool2d_fwd", "ratio_numba_torch", "<=",
     0.8),
    ("softmax <= 1.0", "softmax_fb", "ratio_numba_torch", "<=", 1.0),
    ("log_softmax <= 1.0", "log_softmax_fb", "ratio_numba_torch", "<=", 1.0),
    ("cross-entropy <= 1.0", "cross_entropy_fb", "ratio_numba_torch", "<=", 1.0),
    ("layer_norm <= 1.2", "layer_norm_fb", "ratio_numba_torch", "<=", 1.2),
    ("SDPA <= 1.2", "sdpa_128_fb", "ratio_numba_torch", "<=", 1.2),
    ("Adam <= 1.0 against fused=True", "adam_6m_fused", "ratio_numba_torch", "<=", 1.0),
    ("AdamW <= 1.0 against fused=True", "adamw_6m_fused", "ratio_numba_torch", "<=", 1.0),
    ("cold cache: the first training step of the seed model <= 2x PyTorch's first step "
     "(process wall time, empty Numba cache)", "startup_cold_seed_step_b32_32",
     "ratio_numba_torch", "<=", 2.0),
    ("the first `tinymm train` <= 1.2x a warm one", "startup_train", "cold_over_warm", "<=",
     1.2),
    ("peak memory above the process's baseline <= PyTorch's on every model case "
     "(value: the worst tinymm / PyTorch increment; baseline after each framework's runtime "
     "start-up, which the memory table shows apart)", "*model", "mem_increment_ratio", "<=",
     1.0),
]


def mem_increment(fw: dict | None) -> float | None:
    inc = (fw or {}).get("mem_increment") or {}
    return inc.get("increment_mb")


def _mem_ratio(row: dict) -> float | None:
    a = mem_increment(row["frameworks"].get("tinymm-numba"))
    b = mem_increment(row["frameworks"].get("torch"))
    if a is None or b is None:
        return None
    return a / max(b, 1.0)   # a floor of 1 MiB: page-level noise of tiny increments


def _value(row: dict, quantity: str) -> float | None:
    if quantity == "compile_s":
        timing = row["frameworks"].get("tinymm-numba", {}).get("timing")
        return timing["median_ms"] / 1e3 if timing and timing.get("n") else None
    if quantity == "mem_increment_ratio":
        return _mem_ratio(row)
    return row.get(quantity)


def evaluate_targets(rows: list[dict]) -> list[dict]:
    """One dict per target: target, case, value, met (None: not measured)."""
    by_name = {r["name"]: r for r in rows}
    out = []
    for text, case, quantity, op, threshold in TARGETS:
        if case == "*model":       # every model case
            models = [r for r in rows if r.get("group") == "model"]
            vals = [(r["name"], _value(r, quantity)) for r in models]
            measured = [(n, v) for n, v in vals if v is not None]
            if not measured:
                out.append({"target": text, "case": "model cases", "value": None, "met": None,
                            "quantity": quantity})
                continue
            worst_name, worst = max(measured, key=lambda nv: nv[1])
            missing = [n for n, v in vals if v is None]
            met = worst <= threshold if not missing else (False if worst > threshold else None)
            out.append({"target": text, "case": worst_name, "value": worst, "met": met,
                        "quantity": quantity,
                        "note": (f"{len(measured)} of {len(models)} model cases measured"
                                 + (f"; not measured: {', '.join(missing)}" if missing else ""))})
            continue
        row = by_name.get(case)
        value = _value(row, quantity) if row else None
        if value is None:
            met = None
        else:
            met = {"<=": value <= threshold, ">=": value >= threshold,
                   "<": value < threshold}[op]
        out.append({"target": text, "case": case, "value": value, "met": met,
                    "quantity": quantity})
    return out


def guard_counts(rows: list[dict]) -> dict:
    """How many timed non-reference results the guard checked, failed or skipped.

    Counts (framework, case) pairs of the timed cases (start-up rows have no outputs to
    check): ``passed``, ``failed`` (FAILED-CHECK, not timed), ``skipped`` (timed without a
    check: --no-check, no PyTorch reference, or the check could not run), and ``other`` (the
    framework errored or was unavailable before the guard). ``skipped_cases`` names them.
    """
    out = {"passed": 0, "failed": 0, "skipped": 0, "other": 0, "skipped_cases": [],
           "failed_cases": [], "calls": set()}
    for r in rows:
        if r.get("group") == "startup":
            continue
        for fw, d in r["frameworks"].items():
            if fw == "torch":
                continue
            status = d.get("check_status")
            if status is None and d.get("check"):        # results.json of an older harness
                status = ("passed" if str(d["check"]).startswith("ok") else
                          "FAILED" if d.get("status") == "FAILED-CHECK" else "skipped: unknown")
            if status == "passed":
                out["passed"] += 1
                out["calls"].update(d.get("check_calls") or [1])
            elif status == "FAILED" or d.get("status") == "FAILED-CHECK":
                out["failed"] += 1
                out["failed_cases"].append(f"{r['name']} ({fw})")
            elif d.get("status") == "ok":
                out["skipped"] += 1
                out["skipped_cases"].append(f"{r['name']} ({fw}): "
                                            f"{(status or 'skipped: no check recorded')[9:]}")
            else:
                out["other"] += 1
    out["calls"] = sorted(out["calls"])
    return out


def guard_sentence(rows: list[dict]) -> str:
    """The summary of the correctness guard, never claiming more than was checked."""
    c = guard_counts(rows)
    total = c["passed"] + c["failed"] + c["skipped"]
    if total == 0:
        return "Correctness guard: no tinymm result was checked in this run."
    calls = " and ".join(map(str, c["calls"])) or "1"
    text = (f"Correctness guard: {c['passed']} of {total} timed results (tinymm or alternative "
            f"framework x case) were checked against PyTorch on call{'s' if len(c['calls']) > 1 else ''} "
            f"{calls} and passed")
    if c["failed"]:
        text += f"; {c['failed']} FAILED the check and were not timed"
    if c["skipped"]:
        shown = "; ".join(c["skipped_cases"][:6]) + (" ..." if len(c["skipped_cases"]) > 6 else "")
        text += f"; {c['skipped']} were timed WITHOUT a check ({shown})"
    if c["other"]:
        text += f"; {c['other']} did not run (error or unavailable)"
    if c["passed"] == total:
        text += " (all timed results were checked)"
    return text + "."


def _fmt_ms(fw: dict | None) -> str:
    if not fw:
        return "—"
    status = fw.get("status")
    if status == "unavailable":
        return "not available yet"
    if status == "FAILED-CHECK":
        return "FAILED-CHECK"
    if status == "skipped":
        return "—"
    if status != "ok":
        return "error"
    t = fw.get("timing")
    if not t or not t.get("n"):
        return "—"
    med, q1, q3 = t["median_ms"], t["q1_ms"], t["q3_ms"]
    if med >= 1000:
        return f"{med / 1e3:.2f} s [{q1 / 1e3:.2f}–{q3 / 1e3:.2f}]"
    digits = 3 if med < 1 else 2 if med < 10 else 1
    return f"{med:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def _fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _fmt_num(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _alternatives_in(rows: list[dict]) -> list[str]:
    return [f for f in ALTERNATIVES if any(f in r["frameworks"] for r in rows)]


def markdown_table(rows: list[dict]) -> str:
    alts = _alternatives_in(rows)
    head = ("| case | torch ms [IQR] | tinymm numba ms [IQR] | **numba / torch** | "
            "tinymm numpy ms [IQR] | numpy / torch | numba speed-up vs numpy | "
            + "".join(f"{SHORT[a]} ms [IQR] | {SHORT[a]} / torch | " for a in alts)
            + "GFLOP/s numba / torch | peak RSS MiB numba / numpy / torch | check |")
    lines = [head, "|" + "---|" * (10 + 2 * len(alts))]
    for r in rows:
        fws = r["frameworks"]
        g = [_fmt_num(fws.get(f, {}).get("gflops")) for f in ("tinymm-numba", "torch")]
        mem = [_fmt_num(fws.get(f, {}).get("peak_rss_mb")) for f in
               ("tinymm-numba", "tinymm-numpy", "torch")]
        checks = []
        for f in ("tinymm-numba", "tinymm-numpy") + tuple(alts):
            c = fws.get(f, {}).get("check")
            if c:
                checks.append(f"{SHORT[f]}: {c}")
        alt_cells = "".join(
            f"{_fmt_alt(fws.get(a))} | {_fmt_ratio((r.get('ratio_vs_torch') or {}).get(a))} | "
            for a in alts)
        mark = " †" if r.get("disturbed") else ""
        lines.append(
            f"| `{r['name']}`{mark} | {_fmt_ms(fws.get('torch'))} | {_fmt_ms(fws.get('tinymm-numba'))} "
            f"| **{_fmt_ratio(r.get('ratio_numba_torch'))}** | "
            f"{_fmt_ms(fws.get('tinymm-numpy'))} | {_fmt_ratio(r.get('ratio_numpy_torch'))} | "
            f"{_fmt_ratio(r.get('speedup_numba_vs_numpy'))} | {alt_cells}"
            f"{' / '.join(g) if any(x != '—' for x in g) else '—'} | "
            f"{' / '.join(mem) if any(x != '—' for x in mem) else '—'} | "
            f"{'; '.join(checks) or '—'} |")
    return "\n".join(lines)


def _fmt_alt(fw: dict | None) -> str:
    """An alternative framework's cell: the time, or why there is none (short)."""
    if fw and fw.get("status") in ("unavailable", "error"):
        reason = (fw.get("error") or "").splitlines()[0] if fw.get("error") else ""
        for prefix in ("ImportError: ", "ModuleNotFoundError: ", "NotImplementedError: ",
                       "AttributeError: "):
            reason = reason.removeprefix(prefix)
        reason = reason[:70]
        return f"{'unavailable' if fw['status'] == 'unavailable' else 'error'}: {reason}"
    return _fmt_ms(fw)


def memory_table(rows: list[dict]) -> str:
    """Peak memory increment above the baseline, per model case (see memory.py)."""
    models = [r for r in rows if any("mem_increment" in d for d in r["frameworks"].values())]
    if not models:
        return ""
    fws = [f for f in ("tinymm-numba", "tinymm-numpy", "torch", *ALTERNATIVES)
           if any(f in r["frameworks"] for r in models)]
    lines = ["| case | " + " | ".join(f"{SHORT[f]} increment MiB (baseline)" for f in fws)
             + " | numba / torch | runtime start-up MiB numba / torch "
             "| kept after call 1, MiB numba / torch | steady step MiB numba / torch |",
             "|---|" + "---|" * (len(fws) + 4)]
    for r in models:
        cells = []
        for f in fws:
            inc = r["frameworks"].get(f, {}).get("mem_increment") or {}
            if inc.get("increment_mb") is None:
                cells.append(inc.get("error", "—")[:40] if inc else "—")
            else:
                cells.append(f"{inc['increment_mb']:.0f} ({inc['baseline_mb']:.0f})"
                             + ("" if inc.get("exact") else " upper bound"))
        steady = [(r["frameworks"].get(f, {}).get("mem_increment") or {}).get("steady_step_mb")
                  for f in ("tinymm-numba", "torch")]
        kept = [(r["frameworks"].get(f, {}).get("mem_increment") or {}).get("after_first_mb")
                for f in ("tinymm-numba", "torch")]
        runtime = [(r["frameworks"].get(f, {}).get("mem_increment") or {}).get("runtime_mb")
                   for f in ("tinymm-numba", "torch")]
        lines.append(f"| `{r['name']}` | " + " | ".join(cells)
                     + f" | {_fmt_ratio(_mem_ratio(r))} | "
                     + " / ".join(_fmt_num(x) for x in runtime) + " | "
                     + " / ".join(_fmt_num(x) for x in kept) + " | "
                     + " / ".join(_fmt_num(x) for x in steady) + " |")
    return "\n".join(lines)


def _allocator_line(allocator: str | None) -> str:
    if allocator == "same":
        return ("Allocator: the same fixed glibc thresholds for every framework (`--allocator "
                "same`, the default): MALLOC_MMAP_THRESHOLD_ = 32 MiB, MALLOC_TRIM_THRESHOLD_ = "
                "512 MiB, so a time does not depend on what ran before in a worker  ")
    if allocator == "glibc-default":
        return ("Allocator: glibc's dynamic thresholds for every framework (`--allocator "
                "glibc-default`): they rise after a large block is freed (the correctness "
                "guard frees some), so times depend on what ran before in a worker  ")
    return "Allocator: not recorded  "


def targets_table(targets: list[dict]) -> str:
    lines = ["| target | case | value | met |", "|---|---|---|---|"]
    for t in targets:
        v = "—" if t["value"] is None else f"{t['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t.get("note") else ""
        lines.append(f"| {t['target']} | `{t['case']}`{note} | {v} | {met} |")
    return "\n".join(lines)


def errors_section(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        for fw, d in r["frameworks"].items():
            if d.get("status") in ("error", "unavailable", "FAILED-CHECK"):
                msg = d.get("error") or d.get("check") or ""
                first = msg.splitlines()[0][:200] if msg else ""
                lines.append(f"- `{r['name']}` {fw}: {d['status']}: {first}")
    return "\n".join(lines)


def startup_details(rows: list[dict]) -> str:
    """In-process breakdown of the start-up rows (import, set-up, first step, compile)."""
    lines = []
    for r in rows:
        if r.get("group") != "startup":
            continue
        for fw, d in r["frameworks"].items():
            detail = d.get("detail")
            if not detail:
                continue
            parts = []
            for key in ("import_s", "setup_s", "first_step_s", "compile_s", "total_s"):
                if key in detail:
                    parts.append(f"{key[:-2]} {detail[key]:.2f} s")
            kernels = detail.get("kernel_compile_s")
            if kernels:
                top = sorted(kernels.items(), key=lambda kv: -kv[1])[:8]
                parts.append(f"{len(kernels)} kernel signatures compiled, "
                             f"{sum(kernels.values()):.1f} s in all; slowest: "
                             + ", ".join(f"{_short_kernel(k)} {v:.1f}" for k, v in top))
            for key in ("cold_s", "warm_s"):
                if key in detail:
                    parts.append(f"{key[:-2]} {', '.join(f'{x:.1f}' for x in detail[key])} s")
            fam = detail.get("families")
            if fam:
                parts.append("per family: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in fam.items() if k != "total"))
            lines.append(f"- `{r['name']}` {fw}: " + "; ".join(parts))
    return "\n".join(lines)


def _short_kernel(signature: str) -> str:
    """``tinymm.kernels.jit.conv._im2col(array(float32, 4d, C), ...)`` -> ``conv._im2col``."""
    name = signature.split("(", 1)[0]
    for prefix in ("tinymm.kernels.jit.", "kernels.jit."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name.rsplit(".", 1)[-1] if name.startswith("numba.") else name


def top_lines(profile_text: str, n: int) -> str:
    """The header and the first ``n`` rows of the first (by own time) table of a profile."""
    lines = profile_text.split("--- by cumulative time ---")[0].strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), None)
    if start is None:
        return "\n".join(lines[: n + 5])
    head = [line for line in lines[:start] if "function calls" in line]
    return "\n".join(head + lines[start: start + 1 + n])


def titles(rows: list[dict]) -> str:
    return "\n".join(f"- `{r['name']}`: {r['title']}" for r in rows)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))


def write_png(path: Path, rows: list[dict]) -> str | None:
    """A horizontal bar chart of tinymm/PyTorch per case (log scale). None if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no PNG chart"
    named = [r for r in rows if r.get("ratio_numba_torch") or r.get("ratio_numpy_torch")]
    if not named:
        return "no ratios to plot"
    names = [r["name"] for r in named]
    numba = [r.get("ratio_numba_torch") or 0 for r in named]
    numpy_ = [r.get("ratio_numpy_torch") or 0 for r in named]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(names) + 1.5))
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], numba, height=0.4, label="tinymm numba / torch")
    ax.barh([y - 0.2 for y in ys], numpy_, height=0.4, label="tinymm numpy / torch", alpha=0.6)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time ratio vs PyTorch (lower is better, < 1 = faster than PyTorch)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _load_range(rows: list[dict]) -> str:
    loads = [r["load_avg_1m"] for r in rows if r.get("load_avg_1m") is not None]
    busy = [r["cpu_busy_elsewhere"] for r in rows if r.get("cpu_busy_elsewhere") is not None]
    if not loads:
        return "not recorded"
    text = f"{min(loads):.1f}–{max(loads):.1f}"
    if busy:
        text += (f"; CPU used by other processes just before each case: median "
                 f"{sorted(busy)[len(busy) // 2]:.0%}, max {max(busy):.0%}")
    foreign = [r["cpu_foreign"] for r in rows if r.get("cpu_foreign") is not None]
    if foreign:
        text += (f"; during each case: median {sorted(foreign)[len(foreign) // 2]:.0%}, "
                 f"max {max(foreign):.0%}")
    retried = [r["name"] for r in rows if r.get("attempts", 1) > 1]
    if retried:
        text += f"; re-run because disturbed: {', '.join(retried)}"
    return text


def provenance_lines(prov: dict | None) -> list[str]:
    from .provenance import summary_lines

    return summary_lines(prov)


def results_markdown(payload: dict) -> str:
    m = payload["machine"]
    v = m["versions"]
    ceiling = payload.get("matmul_ceiling", {})
    rows = payload["results"]
    parts = [
        "# Benchmark results: tinymm against PyTorch",
        "",
        f"Command: `{payload['command']}`  ",
        f"Date: {payload['date']}  ",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['platform']}  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "  ",
        *provenance_lines(m.get("provenance")),
        f"Threads: {payload['settings']['threads']} per framework (torch.set_num_threads, "
        "NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL_NUM_THREADS, identical environment for all)  ",
        _allocator_line(payload["settings"].get("allocator")),
        f"Matmul ceiling (NumPy float32 1024³): "
        f"{_fmt_num(ceiling.get('gflops_median'))} GFLOP/s median, "
        f"{_fmt_num(ceiling.get('gflops_best'))} best  ",
        f"Load average (1 min) at the start of each case: {_load_range(rows)}  ",
        f"Wall time of the run: {payload.get('elapsed_s', 0) / 60:.1f} min",
        "",
        "Times are medians with the interquartile range, in ms, over interleaved rounds "
        "(warm-up excluded). Ratios are median / median; **numba / torch** is the headline "
        "(< 1 means tinymm is faster).",
        "",
        guard_sentence(rows),
        "",
        "## Targets",
        "",
        targets_table(payload["targets"]),
        "",
        "## All cases",
        "",
        markdown_table(rows),
        "",
    ]
    if any(r.get("disturbed") for r in rows):
        parts += ["† other processes used more than 15 % of the CPUs during this case even "
                  "after re-runs (share per case: `cpu_foreign` in the JSON); treat its numbers "
                  "with care.", ""]
    mem = memory_table(rows)
    if mem:
        parts += ["## Peak memory above the baseline (model cases)", "",
                  "A fresh worker per framework: after imports, model and data (`setup`) "
                  "one tiny operation starts the framework's runtime (*runtime start-up*: "
                  "for Numba, the first call of any compiled function builds its CPU target "
                  "context; for PyTorch, a 4×4 GEMM and its backward); then the resident set "
                  "is the baseline and the high-water mark is reset "
                  "(`/proc/self/clear_refs`); the increment is the peak over three training "
                  "steps minus the baseline (optimizer state, activations, gradients and "
                  "first-call costs such as loading the model's kernels included; *steady "
                  "step*: the transient of the last step alone). Increment plus runtime "
                  "start-up is the increment above the post-set-up baseline. See "
                  "`benchmarks/memory.py`.", "", mem, ""]
    scaling = payload.get("scaling")
    if scaling:
        from .cases_scaling import series_table

        g = ((scaling.get("machine") or {}).get("provenance") or {}).get("git") or {}
        parts += ["## How cost grows (scaling)", "",
                  f"From `{scaling.get('command')}` ({scaling.get('date')}, commit "
                  f"`{(g.get('commit') or 'unknown')[:10]}`). Median ms per step.", "",
                  "(scaling figure)", "", series_table(scaling["results"]), ""]
    errs = errors_section(rows)
    if errs:
        parts += ["## Not measured", "", errs, ""]
    details = startup_details(rows)
    if details:
        parts += ["## Start-up breakdown (in-process, last run)", "", details, ""]
    profiles = payload.get("profiles") or {}
    if profiles:
        parts += ["## Where the time goes (cases that miss a target)", "",
                  "cProfile of the tinymm (Numba) worker after warm-up, top functions by own "
                  "time (full text, with cumulative times, in `benchmarks/out/results.json`). "
                  "NumPy ufuncs, `np.matmul` included, are invisible to cProfile: a kernel "
                  "function's own time includes the BLAS calls it makes.",
                  ""]
        for case, text in profiles.items():
            parts += [f"### `{case}`", "", "```", top_lines(text, 18), "```", ""]
    parts += ["## Cases", "", titles(rows), ""]
    if payload.get("png_note"):
        parts += [f"Chart: {payload['png_note']}", ""]
    elif payload.get("png"):
        parts += [f"Chart of the ratios: `{payload['png']}` (not committed).", ""]
    return "\n".join(parts)
