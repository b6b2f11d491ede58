"""Writers: the markdown table, the JSON file, the PNG chart of ratios, and the targets."""

from __future__ import annotations

import json
from pathlib import Path

SHORT = {"tinymm-numba": "numba", "tinymm-numpy": "numpy", "torch": "torch"}

# (description, case, quantity, comparison, threshold)
TARGETS = [
    ("seed model Adam step, batch 32, 32x32: numba/torch <= 1.5", "seed_step_b32_32",
     "ratio_numba_torch", "<=", 1.5),
    ("conv2d 64->128 16x16 fwd+bwd: numba/torch <= 1.5", "conv2d_64x128_16_fb",
     "ratio_numba_torch", "<=", 1.5),
    ("LSTM 32x20 fwd+bwd: numba/torch <= 1.3", "lstm_32x20_fb", "ratio_numba_torch", "<=", 1.3),
    ("MHA seq 128 fwd+bwd: numba/torch <= 1.5", "mha_128_fb", "ratio_numba_torch", "<=", 1.5),
    ("max_pool2d fwd+bwd: numba/torch <= 0.5", "max_pool2d_fb", "ratio_numba_torch", "<=", 0.5),
    ("Adam step 6M params: numba/torch <= 1.0", "adam_6m", "ratio_numba_torch", "<=", 1.0),
    ("warm start to first step: numba <= torch", "startup_warm_seed_step_b32_32",
     "ratio_numba_torch", "<=", 1.0),
    ("seed model step: numba >= 3x faster than the numpy backend", "seed_step_b32_32",
     "speedup_numba_vs_numpy", ">=", 3.0),
    ("cold compile of every kernel < 60 s", "startup_cold_compile", "compile_s", "<", 60.0),
]


def _value(row: dict, quantity: str) -> float | None:
    if quantity == "compile_s":
        timing = row["frameworks"].get("tinymm-numba", {}).get("timing")
        return timing["median_ms"] / 1e3 if timing and timing.get("n") else None
    return row.get(quantity)


def evaluate_targets(rows: list[dict]) -> list[dict]:
    by_name = {r["name"]: r for r in rows}
    out = []
    for text, case, quantity, op, threshold in TARGETS:
        row = by_name.get(case)
        value = _value(row, quantity) if row else None
        if value is None:
            met = None
        else:
            met = {"<=": value <= threshold, ">=": value >= threshold,
                   "<": value < threshold}[op]
        out.append({"target": text, "case": case, "value": value, "met": met})
    return out


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


def markdown_table(rows: list[dict]) -> str:
    head = ("| case | torch ms [IQR] | tinymm numba ms [IQR] | **numba / torch** | "
            "tinymm numpy ms [IQR] | numpy / torch | numba speed-up vs numpy | "
            "GFLOP/s numba / torch | peak RSS MiB numba / numpy / torch | check |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        fws = r["frameworks"]
        g = [_fmt_num(fws.get(f, {}).get("gflops")) for f in ("tinymm-numba", "torch")]
        mem = [_fmt_num(fws.get(f, {}).get("peak_rss_mb")) for f in
               ("tinymm-numba", "tinymm-numpy", "torch")]
        checks = []
        for f in ("tinymm-numba", "tinymm-numpy"):
            c = fws.get(f, {}).get("check")
            if c:
                checks.append(f"{SHORT[f]}: {c}")
        mark = " †" if r.get("disturbed") else ""
        lines.append(
            f"| `{r['name']}`{mark} | {_fmt_ms(fws.get('torch'))} | {_fmt_ms(fws.get('tinymm-numba'))} "
            f"| **{_fmt_ratio(r.get('ratio_numba_torch'))}** | "
            f"{_fmt_ms(fws.get('tinymm-numpy'))} | {_fmt_ratio(r.get('ratio_numpy_torch'))} | "
            f"{_fmt_ratio(r.get('speedup_numba_vs_numpy'))} | "
            f"{' / '.join(g) if any(x != '—' for x in g) else '—'} | "
            f"{' / '.join(mem) if any(x != '—' for x in mem) else '—'} | "
            f"{'; '.join(checks) or '—'} |")
    return "\n".join(lines)


def targets_table(targets: list[dict]) -> str:
    lines = ["| target | value | met |", "|---|---|---|"]
    for t in targets:
        v = "—" if t["value"] is None else f"{t['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {v} | {met} |")
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
            fam = detail.get("families")
            if fam:
                parts.append("per family: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in fam.items() if k != "total"))
            lines.append(f"- `{r['name']}` {fw}: " + "; ".join(parts))
    return "\n".join(lines)


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
        f"Threads: {payload['settings']['threads']} per framework (torch.set_num_threads, "
        "NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL_NUM_THREADS, identical environment for all)  ",
        f"Matmul ceiling (NumPy float32 1024³): "
        f"{_fmt_num(ceiling.get('gflops_median'))} GFLOP/s median, "
        f"{_fmt_num(ceiling.get('gflops_best'))} best  ",
        f"Load average (1 min) at the start of each case: {_load_range(rows)}  ",
        f"Wall time of the run: {payload.get('elapsed_s', 0) / 60:.1f} min",
        "",
        "Times are medians with the interquartile range, in ms, over interleaved rounds "
        "(warm-up excluded). Ratios are median / median; **numba / torch** is the headline "
        "(< 1 means tinymm is faster). Every tinymm number passed the correctness guard "
        "against PyTorch unless marked FAILED-CHECK.",
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
