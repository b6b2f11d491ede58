"""Every fusion method on every built-in data set over seeds: accuracy vs ceilings, robustness, cost.

    python benchmarks/fusion.py --seeds 5                 # the full sweep -> benchmarks/FUSION.md
    python benchmarks/fusion.py --quick --seeds 2 --datasets shapes_captions spoken_digits \\
        --out benchmarks/out/FUSION-quick.md
    python benchmarks/fusion.py --seeds 5 --datasets shapes_captions video_events \\
        --trainer-opt some_remedy=True --out benchmarks/out/FUSION-remedy.md --label remedy

Each run is ``tinymm train`` with ``--seed s`` (``tinymm.train.runs.fit_like_cli``: the CLI's
defaults and its best-epoch rule: the weights of the first epoch with the best validation
accuracy), for every method in ``tinymm.models.FUSIONS`` (and ``BASELINES`` when the models
package has them) x every built-in data set (``digits_captions`` only where scikit-learn is
installed) x seeds 0..N-1; the baseline "unimodal" runs once per modality of the data set
("unimodal:image", ...), each trained alone. Per run: test accuracy, the ceiling and the
additive ceiling (when the data set has ``additive_ceiling``), the modality ablation (best
single modality; each modality missing at test time), accuracy under Gaussian noise on each
modality (``tinymm.data.add_noise`` levels), parameters, training time, inference latency per
batch of 256 (median of 5) and the peak NumPy memory of one training step (tracemalloc).

A run **failed** (the rule of the fusion-collapse issue) when its accuracy is within 5 points
of its best single modality (⚠, multimodal models only) or more than 8 points under the
ceiling that applies (the additive ceiling for late fusion when the data set gives it, else
the full one). Baselines (early fusion, unimodal models) are judged and shown by the same rule
but not counted in the failure total: it is the fusion methods' record.

Resumable: every finished run is appended to ``--results`` (JSON lines, keyed by the
settings), and re-running skips runs already there; Ctrl-C loses at most the runs in flight.
``--report-only`` re-renders FUSION.md from the saved runs. ``--jobs J`` trains J runs in
parallel worker processes, each with ``--threads / J`` threads (at least 1).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAIL_SINGLE = 0.05   # within 5 points of the best single modality
FAIL_CEILING = 0.08  # more than 8 points under the applicable ceiling
NEAR = 0.02          # "within 2 points of its ceiling" in the summary
FAR = 0.03           # a method's mean more than 3 points under its applicable ceiling


# ----------------------------------------------------------------------------- the runs
def method_names() -> list[str]:
    """Fusion methods (and baselines, when tinymm.models has them), in their declared order."""
    import tinymm.models as models

    names = list(models.FUSIONS)
    names += [b for b in getattr(models, "BASELINES", ()) if b not in names]
    return names


def is_unimodal(method: str) -> bool:
    """True for a "unimodal:<modality>" run name."""
    return method.split(":", 1)[0] == "unimodal"


def is_baseline(method: str) -> bool:
    """True for the baselines (early fusion, "unimodal:<modality>"), not a fusion method."""
    return method == "early" or is_unimodal(method)


def expand_methods(dataset: str, methods: list[str]) -> list[str]:
    """The runs' method names on ``dataset``: "unimodal" becomes the data set's
    "unimodal:<modality>" names (``tinymm.models.model_names``); every other name stays."""
    if "unimodal" not in methods:
        return list(methods)
    from tinymm.data import get_dataset
    from tinymm.models import model_names

    unimodal = [n for n in model_names(get_dataset(dataset, size=4)) if is_unimodal(n)]
    return [n for m in methods for n in (unimodal if m == "unimodal" else [m])]


def default_datasets() -> list[str]:
    from tinymm.data import list_datasets

    return list(list_datasets())  # digits_captions only when scikit-learn is installed


def config_key(settings: dict) -> str:
    """A short hash of the settings that change a run's result."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _additive(dataset):
    value = getattr(dataset, "additive_ceiling", None)
    if value is None:
        return None
    if hasattr(value, "get") and not isinstance(value, (int, float)):
        value = value.get("+".join(sorted(dataset.modalities)))
    return None if value is None else float(value)


def _latency(model, dataset, batch_size: int = 256, repeats: int = 5) -> float:
    """Median seconds of one eval forward pass over a batch of ``batch_size`` test samples."""
    import numpy as np

    from tinymm.autograd import no_grad

    batch = dataset.get_batch(np.arange(min(batch_size, len(dataset))))
    model.eval()
    times = []
    with no_grad():
        model(batch)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _step_memory(model, dataset, batch_size: int, lr: float) -> int:
    """Peak bytes NumPy allocates (tracemalloc) during one training step on one batch."""
    import tracemalloc

    import numpy as np

    from tinymm import functional as F
    from tinymm import optim

    batch = dataset.get_batch(np.arange(min(batch_size, len(dataset))))
    opt = optim.Adam(list(model.parameters()), lr=lr)
    model.train()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        loss = F.cross_entropy(model(batch), batch["label"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return int(peak - base)


def run_one(dataset: str, fusion: str, seed: int, settings: dict) -> dict:
    """Train and measure one (data set, method, seed); returns the JSON-ready row."""
    from tinymm.cli_parser import TRAIN_DEFAULTS
    from tinymm.data import get_dataset
    from tinymm.train import ablation, robustness_curve
    from tinymm.train.runs import fit_like_cli

    data_seed = seed if settings["vary_data"] else 0
    train, val, test = (get_dataset(dataset, split=s, size=z, seed=data_seed) for s, z in
                        (("train", settings["train_size"]), ("val", settings["test_size"]),
                         ("test", settings["test_size"])))
    start = time.perf_counter()
    model, trainer = fit_like_cli(train, val, fusion=fusion, seed=seed, epochs=settings["epochs"],
                                  text_encoder=settings["text_encoder"],
                                  trainer_options=settings["trainer_options"],
                                  model_options=settings["model_options"])
    seconds = time.perf_counter() - start
    rows = ablation(model, test)
    full = rows[-1]
    mods = list(model.modalities)
    singles = [r for r in rows if "+" not in r["subset"]]
    best = max(singles, key=lambda r: r["accuracy"])
    by_subset = {r["subset"]: r["accuracy"] for r in rows}
    missing = {}
    if len(mods) > 1:
        for m in mods:
            missing[m] = by_subset["+".join(sorted(x for x in mods if x != m))]
    noise = {m: [r["accuracy"] for r in robustness_curve(model, test, m, settings["noise_levels"])]
             for m in mods}
    row = {"dataset": dataset, "fusion": fusion, "seed": seed,
           "accuracy": full["accuracy"], "macro_f1": full["macro_f1"],
           "ceiling": full["ceiling"], "additive_ceiling": _additive(test),
           "best_single": best["subset"], "best_single_accuracy": best["accuracy"],
           "best_single_ceiling": max((r["ceiling"] or 0.0) for r in singles),
           "modalities": mods, "ablation": by_subset, "missing": missing, "noise": noise,
           "best_epoch": trainer.best_epoch, "val_accuracy": trainer.best_accuracy,
           "epochs": len(trainer.history["epoch"]), "parameters": int(model.num_parameters()),
           "train_seconds": seconds, "latency_s": _latency(model, test),
           "train_size": len(train), "test_size": len(test)}
    batch = int((settings["trainer_options"] or {}).get("batch_size",
                                                         TRAIN_DEFAULTS["batch_size"]))
    row["step_memory_bytes"] = _step_memory(model, train, batch, TRAIN_DEFAULTS["lr"])
    row.update(judge(row))
    return row


def judge(row: dict) -> dict:
    """The failure rule: {"applicable_ceiling", "collapsed", "under_ceiling", "failed"}."""
    additive = row.get("additive_ceiling")
    applicable = additive if (row["fusion"] == "late" and additive is not None) else row["ceiling"]
    collapsed = (len(row.get("modalities", [])) > 1
                 and row["accuracy"] < row["best_single_accuracy"] + FAIL_SINGLE)
    under = applicable is not None and row["accuracy"] < applicable - FAIL_CEILING
    return {"applicable_ceiling": applicable, "collapsed": bool(collapsed),
            "under_ceiling": bool(under), "failed": bool(collapsed or under),
            "baseline": is_baseline(row["fusion"])}


# ----------------------------------------------------------------------------- storage
def read_runs(path: Path) -> list[dict]:
    """Rows saved in a JSON-lines file (a line cut short by an interruption is ignored)."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def append_run(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- aggregation
def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def aggregate(rows: list[dict]) -> list[dict]:
    """One entry per (data set, method): mean ± std over seeds and failure counts."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["fusion"]), []).append(r)
    out = []
    for (dataset, fusion), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        acc = [r["accuracy"] for r in rs]
        mean, std = _mean_std(acc)
        ceiling, additive = rs[0]["ceiling"], rs[0].get("additive_ceiling")
        entry = {"dataset": dataset, "fusion": fusion, "seeds": [r["seed"] for r in rs],
                 "accuracy_mean": mean, "accuracy_std": std, "accuracies": acc,
                 "ceiling": ceiling, "additive_ceiling": additive,
                 "applicable_ceiling": rs[0].get("applicable_ceiling", ceiling),
                 "gap": None if ceiling is None else ceiling - mean,
                 "additive_gap": None if additive is None else additive - mean,
                 "best_single_mean": _mean_std([r["best_single_accuracy"] for r in rs])[0],
                 "baseline": is_baseline(fusion),
                 "failures": sum(bool(r.get("failed")) for r in rs),
                 "collapsed": sum(bool(r.get("collapsed")) for r in rs),
                 "parameters": rs[0]["parameters"], "test_size": rs[0].get("test_size"),
                 "train_seconds": statistics.median(r["train_seconds"] for r in rs),
                 "latency_ms": 1e3 * statistics.median(r["latency_s"] for r in rs),
                 "step_memory_mb": statistics.median(r["step_memory_bytes"] for r in rs) / 2**20,
                 "missing": {m: _mean_std([r["missing"][m] for r in rs])[0]
                             for m in rs[0].get("missing", {})},
                 "noise": {m: [statistics.fmean(r["noise"][m][i] for r in rs)
                               for i in range(len(rs[0]["noise"][m]))]
                           for m in rs[0].get("noise", {})}}
        out.append(entry)
    return sorted(out, key=lambda e: (e["dataset"], e["fusion"]))


def near_ceiling(summary: list[dict], near: float = NEAR) -> dict[str, list[str]]:
    """Per data set, the methods whose mean accuracy is within ``near`` of the full ceiling
    (a unimodal baseline is left out: its ceiling is its own modality's, not the full one)."""
    out: dict[str, list[str]] = {}
    for e in summary:
        out.setdefault(e["dataset"], [])
        if is_unimodal(e["fusion"]):
            continue
        if e["ceiling"] is not None and e["accuracy_mean"] >= e["ceiling"] - near:
            out[e["dataset"]].append(e["fusion"])
    return out


# ----------------------------------------------------------------------------- output
def _f(x, digits: int = 3, sign: bool = False) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def markdown(summary: list[dict], settings: dict, command: str, figure: str | None) -> str:
    n_seeds = max((len(e["seeds"]) for e in summary), default=0)
    n_test = min((e["test_size"] for e in summary if e.get("test_size")), default=None)
    se = "" if not n_test else (f"with {n_test} test samples the binomial standard error of one "
                                f"accuracy near 0.9 is about {(0.09 / n_test) ** 0.5:.3f}, so ")
    levels = settings["noise_levels"]
    lines = ["# Fusion methods on the built-in data sets", "",
             f"Generated by `{command}` (Python {platform.python_version()}, "
             f"{platform.machine()}, {os.cpu_count()} CPUs); settings key "
             f"`{config_key(settings)}`" + (f", label **{settings['label']}**"
                                            if settings.get("label") else "") + ".", "",
             "## Summary: which method is within 2 points of its ceiling", "",
             f"Mean test accuracy over {n_seeds} seeds within {NEAR * 100:.0f} points of the data "
             "set's (full) ceiling:", ""]
    seeds = {(e["dataset"], e["fusion"]): len(e["seeds"]) for e in summary}
    for dataset, methods in near_ceiling(summary).items():
        most = max(n for (d, _), n in seeds.items() if d == dataset)
        named = [m if seeds[(dataset, m)] == most else f"{m} ({seeds[(dataset, m)]} seeds)"
                 for m in methods]
        lines.append(f"- **{dataset}** ({most} seeds): " + (", ".join(named) or "none"))
    fusions = [e for e in summary if not e.get("baseline")]
    total_fail = sum(e["failures"] for e in fusions)
    total_runs = sum(len(e["seeds"]) for e in fusions)
    lines += ["", f"Failed runs: **{total_fail} of {total_runs}** (rule below"
              + ("; fusion methods only, the baselines' own rows are in the table" if
                 len(fusions) < len(summary) else "") + ")."]
    far = [e for e in fusions if e.get("applicable_ceiling") is not None
           and e["accuracy_mean"] < e["applicable_ceiling"] - FAR]
    lines += ["", f"Fusion methods whose mean is more than {FAR * 100:.0f} points under the "
              "ceiling that applies (the additive one for late fusion): " + (", ".join(
                  f"{e['dataset']} {e['fusion']} ({_f(e['accuracy_mean'])} vs "
                  f"{_f(e['applicable_ceiling'])})" for e in far) or "**none**") + ".", "",
              "## Accuracy over seeds", "",
              "Test accuracy mean ± std over seeds (each run: `tinymm train --seed s`, the "
              "weights of its best validation epoch). gap = ceiling − mean; the additive "
              "ceiling is the best a model combining per-modality evidence additively (late "
              "fusion) can reach, where the data set states it. \"fail\" counts runs within 5 "
              "points of their best single modality (⚠) or more than 8 points under the "
              "applicable ceiling (the additive one for late fusion).", "",
              "| data set | method | accuracy | ceiling | gap | additive ceiling | gap to additive "
              "| best single | fail | parameters | train s | latency ms/256 | step MB |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in summary:
        flag = " ⚠" if e["collapsed"] else ""
        lines.append(
            f"| {e['dataset']} | {e['fusion']}{flag} | {_f(e['accuracy_mean'])} ± "
            f"{_f(e['accuracy_std'])} | {_f(e['ceiling'])} | {_f(e['gap'], sign=True)} | "
            f"{_f(e['additive_ceiling'])} | {_f(e['additive_gap'], sign=True)} | "
            f"{_f(e['best_single_mean'])} | {e['failures']}/{len(e['seeds'])} | "
            f"{e['parameters']:,} | {e['train_seconds']:.1f} | {e['latency_ms']:.1f} | "
            f"{e['step_memory_mb']:.1f} |")
    lines += ["", "## Robustness", "",
              "Mean accuracy over seeds with one modality missing at test time (masked), and "
              f"with Gaussian noise of {', '.join(f'{x:g}' for x in levels[1:])} × the "
              "modality's std added to it (token ids: that share of words replaced).", "",
              "| data set | method | modality | missing | " + " | ".join(
                  f"noise {x:g}" for x in levels[1:]) + " |",
              "|---|---|---|---|" + "---|" * (len(levels) - 1)]
    for e in summary:
        for m, curve in e["noise"].items():
            lines.append(f"| {e['dataset']} | {e['fusion']} | {m} | {_f(e['missing'].get(m))} | "
                         + " | ".join(_f(v) for v in curve[1:]) + " |")
    lines += ["", "Notes:", "",
              "- Training time, latency and memory were measured on a machine shared with "
              "other jobs: compare within a table, not across machines. Memory is the peak "
              "NumPy allocation (tracemalloc) of one training step on one batch.",
              f"- Accuracies are on one test split per data seed; {se}a mean slightly above its "
              "ceiling is sampling error.",
              "- Late fusion multiplies per-modality predictions; it cannot express an "
              "interaction such as sentiment_prosody's XOR of polarity and sarcasm, whence "
              "its additive ceiling."]
    if figure:
        lines += ["", f"![accuracy per method and data set]({figure})"]
    return "\n".join(lines) + "\n"


def plot(summary: list[dict], rows: list[dict], path: Path) -> bool:
    """Mean ± std per method with each seed as a dot and the ceilings as lines, one panel per
    data set. False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({e["dataset"] for e in summary})
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.8), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        es = [e for e in summary if e["dataset"] == name]
        xs = range(len(es))
        ax.bar(xs, [e["accuracy_mean"] for e in es],
               yerr=[0.0 if e["accuracy_std"] != e["accuracy_std"] else e["accuracy_std"]
                     for e in es],
               color=["tab:red" if e["failures"] else "tab:blue" for e in es], alpha=0.6,
               capsize=3)
        for i, e in enumerate(es):
            ax.plot([i] * len(e["accuracies"]), e["accuracies"], "k.", ms=4)
        if es[0]["ceiling"] is not None:
            ax.axhline(es[0]["ceiling"], color="k", ls="--", lw=1, label="ceiling")
        if es[0]["additive_ceiling"] is not None:
            ax.axhline(es[0]["additive_ceiling"], color="tab:orange", ls=":", lw=1.5,
                       label="additive ceiling")
        ax.set_xticks(list(xs), [e["fusion"] for e in es], rotation=45, ha="right")
        low = min(min(e["accuracies"]) for e in es)
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set(title=name, ylabel="test accuracy")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- driver
def _parse_opts(parser, items: list[str] | None, flag: str) -> dict:
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.isidentifier():
            parser.error(f"{flag}: expected key=value, got {item!r}")
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text  # a bare word, e.g. optimizer=sgd
    return out


def _worker(job):
    dataset, fusion, seed, settings, threads = job
    from tinymm.train.threads import set_num_threads

    set_num_threads(threads)
    return run_one(dataset, fusion, seed, settings)


def _bar(total: int, done: int):
    from tinymm.train.progress import Reporter

    bar = Reporter().bar(total, "fusion sweep", unit="run")
    bar.update(done)
    return bar


def sweep(jobs: list[tuple], settings: dict, results: Path, run=run_one, workers: int = 1,
          threads: int = 1, already: int = 0, total: int | None = None) -> int:
    """Run ``jobs`` [(dataset, method, seed)], appending each row to ``results``; returns the
    number of runs finished. ``run(dataset, method, seed, settings)`` does one run."""
    key = config_key(settings)
    bar = _bar(total or len(jobs) + already, already)
    finished = 0

    def record(row: dict) -> None:
        nonlocal finished
        row = {**row, **judge(row), "key": key, "settings": settings}
        append_run(results, row)
        finished += 1
        bar.update(1)
        print(f"{row['dataset']:<18} {row['fusion']:<10} seed {row['seed']}  acc "
              f"{row['accuracy']:.3f} (ceiling {_f(row['ceiling'])}) best single "
              f"{row['best_single_accuracy']:.3f}{'  FAILED' if row.get('failed') else ''}  "
              f"{row['train_seconds']:.1f} s", flush=True)

    try:
        if workers <= 1 or len(jobs) <= 1:
            from tinymm.train.threads import set_num_threads

            # in this process: the thread budget a worker would get (Numba and OpenBLAS would
            # otherwise take every core, oversubscribing a machine that runs anything else)
            previous = set_num_threads(threads)
            try:
                for dataset, fusion, seed in jobs:
                    record(run(dataset, fusion, seed, settings))
            finally:
                set_num_threads(previous)
        else:
            import multiprocessing as mp

            per = max(1, threads // workers)
            with mp.get_context("spawn").Pool(workers) as pool:
                try:
                    for row in pool.imap_unordered(
                            _worker, [(d, f, s, settings, per) for d, f, s in jobs]):
                        record(row)
                except BaseException:
                    pool.terminate()
                    raise
    finally:
        bar.close()
    return finished


def build_settings(args) -> dict:
    """The settings that decide a run's result: saved runs are reused only under the same
    ones, so a changed default of ``tinymm train`` (``train_defaults``) or of the fusion models
    it records (``model_defaults``) starts a new set."""
    from tinymm.cli_parser import DEFAULT_TEXT_ENCODER, MODEL_NOW, TRAIN_DEFAULTS
    from tinymm.train import NOISE_LEVELS

    return {"quick": args.quick, "epochs": args.epochs or (8 if args.quick else None),
            "train_size": args.train_size or (1000 if args.quick else None),
            "test_size": args.test_size or (500 if args.quick else None),
            "text_encoder": args.text_encoder or DEFAULT_TEXT_ENCODER,
            "vary_data": args.vary_data, "noise_levels": list(NOISE_LEVELS),
            "trainer_options": args.trainer_opts, "model_options": args.model_opts,
            "label": args.label, "train_defaults": dict(TRAIN_DEFAULTS),
            "model_defaults": dict(MODEL_NOW)}


def main(argv: list[str] | None = None, run=run_one) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    methods, datasets_all = method_names(), default_datasets()
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per cell (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="1000 training / 500 validation and test samples, 8 epochs per run")
    parser.add_argument("--datasets", nargs="+", default=None, choices=datasets_all)
    parser.add_argument("--fusions", nargs="+", default=None, choices=methods)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train-size", type=int, default=None,
                        help="training samples (default: the data set's own; 1000 with --quick)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="validation and test samples (default: the data set's; 500 --quick)")
    parser.add_argument("--text-encoder", default=None)
    parser.add_argument("--vary-data", action="store_true",
                        help="seed s also draws the data with seed s (default: seed 0 data, as "
                        "tinymm train)")
    parser.add_argument("--trainer-opt", action="append", default=None, metavar="KEY=VALUE",
                        help="extra Trainer option (repeatable), e.g. a collapse remedy")
    parser.add_argument("--model-opt", action="append", default=None, metavar="KEY=VALUE",
                        help="extra build_model option (repeatable)")
    parser.add_argument("--label", default=None, help="a name for these settings in the report")
    parser.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads in all, split between the jobs (default 1)")
    parser.add_argument("--results", default=str(HERE / "out" / "fusion_runs.jsonl"),
                        help="JSON-lines file of finished runs (resumed from)")
    parser.add_argument("--out", default=str(HERE / "FUSION.md"))
    parser.add_argument("--figure", default=None,
                        help="PNG path (default: next to --out, <out stem>.png)")
    parser.add_argument("--json", default=None, help="also write runs and summary as JSON")
    parser.add_argument("--report-only", action="store_true",
                        help="only render the report from the saved runs")
    parser.add_argument("--from-json", default=None, metavar="PATH",
                        help="only re-render the report from a file written with --json")
    args = parser.parse_args(argv)
    for name in ("seeds", "jobs", "threads"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    for name in ("epochs", "train_size", "test_size"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    args.trainer_opts = _parse_opts(parser, args.trainer_opt, "--trainer-opt")
    args.model_opts = _parse_opts(parser, args.model_opt, "--model-opt")
    if args.trainer_opts:
        from tinymm.train.runs import split_options

        try:
            split_options({}, args.trainer_opts)
        except ValueError as exc:
            parser.error(f"--trainer-opt: {exc}")
    out = Path(args.out)
    figure = Path(args.figure) if args.figure else out.with_suffix(".png")
    command = "python benchmarks/fusion.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        summary, rows, settings = saved["summary"], saved["rows"], saved["settings"]
    else:
        settings = build_settings(args)
        key = config_key(settings)
        datasets = args.datasets or datasets_all
        fusions = args.fusions or methods
        seeds = list(range(args.seeds))
        results = Path(args.results)
        per_dataset = {d: expand_methods(d, fusions) for d in datasets}
        cells = {(d, f, s) for d in datasets for f in per_dataset[d] for s in seeds}
        saved = [r for r in read_runs(results) if r.get("key") == key
                 and (r["dataset"], r["fusion"], r["seed"]) in cells]
        done = {(r["dataset"], r["fusion"], r["seed"]) for r in saved}
        todo = [(d, f, s) for s in seeds for d in datasets for f in per_dataset[d]
                if (d, f, s) not in done]
        if not args.report_only and todo:
            print(f"{len(done)} of {len(cells)} runs already in {results}; {len(todo)} to go",
                  flush=True)
            try:
                sweep(todo, settings, results, run=run, workers=args.jobs, threads=args.threads,
                      already=len(done), total=len(cells))
            except KeyboardInterrupt:
                print(f"\ninterrupted: finished runs are in {results}; re-run the same command "
                      "to continue", file=sys.stderr)
                return 130
        rows = [r for r in read_runs(results) if r.get("key") == key
                and (r["dataset"], r["fusion"], r["seed"]) in cells]
        # one row per cell (the first saved, should a run have been recorded twice)
        unique = {}
        for r in rows:
            unique.setdefault((r["dataset"], r["fusion"], r["seed"]), r)
        rows = list(unique.values())
        summary = aggregate(rows)
    if not summary:
        print("no finished runs to report", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    drawn = plot(summary, rows, figure)
    rel = os.path.relpath(figure, out.parent) if drawn else None
    text = markdown(summary, settings, command.strip(), rel)
    out.write_text(text)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "rows": rows,
                                               "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
