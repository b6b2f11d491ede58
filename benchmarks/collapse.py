"""Modality collapse: how many runs fail, per fragile case, with and without each remedy.

    python benchmarks/collapse.py                              # every case x seeds 0..4 x remedy
    python benchmarks/collapse.py --remedies none ogm --seeds 0 1
    python benchmarks/collapse.py --table-only                 # re-render from the JSONL

A run *fails* (issue 17's rule, the ⚠ rule of benchmarks/fusion.py plus the ceiling) when its
fused test accuracy is within 5 points of its best single modality (the same model with the
other modalities masked) or more than 8 points under the data set's ceiling. Each run uses
`tinymm train`'s defaults (data, epochs, optimizer, schedule, modality dropout, best epoch
on validation) with one remedy switched on and every other one off:

- ``none``: the baseline (no remedy, the fusion modules' plain initialisation);
- ``ogm``: OGM-GE gradient modulation (Peng et al., CVPR 2022);
- ``blend``: per-modality auxiliary heads with blended losses (Wang et al., CVPR 2020);
- ``warmup``: a modality-dropout warm-up schedule (high dropout first, then the default);
- ``init``: the balanced initialisation of the tensor, low-rank and attention fusions.

Every finished run is appended to a JSONL file (``--jsonl``), so an interrupted sweep
continues where it stopped; a progress bar on stderr shows the runs done. The Markdown table
(failures out of the seeds, mean fused accuracy) goes to stdout and ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ("shapes_captions:lowrank", "shapes_captions:attention", "shapes_captions:tensor",
         "video_events:tensor", "sentiment_prosody:attention")
REMEDIES = ("none", "ogm", "blend", "warmup", "init")
SINGLE_MARGIN, CEILING_MARGIN = 0.05, 0.08


def remedy_options(remedy: str) -> tuple[dict, bool]:
    """(Trainer keyword options, balanced initialisation?) of one remedy, the others off."""
    from tinymm.train.balance import OFF_OPTIONS

    options = dict(OFF_OPTIONS)
    if remedy == "ogm":
        options["modulation"] = "ogm"
    elif remedy == "blend":
        options["aux_weight"] = 1.0
    elif remedy == "warmup":
        options["warmup_epochs"] = 4
    elif remedy not in ("none", "init"):
        raise ValueError(f"collapse: remedy must be one of {REMEDIES}, got {remedy!r}")
    return options, remedy == "init"


def failed(row: dict) -> bool:
    """Issue 17's rule: near the best single modality, or far under the ceiling."""
    return (row["accuracy"] < row["best_single_accuracy"] + SINGLE_MARGIN
            or row["accuracy"] < row["ceiling"] - CEILING_MARGIN)


def run_one(dataset: str, fusion: str, seed: int, remedy: str) -> dict:
    import tinymm as tm
    from tinymm.cli import DEFAULT_TEXT_ENCODER, TRAIN_DEFAULTS
    from tinymm.data import get_dataset
    from tinymm.models import build_model
    from tinymm.train import Reporter, Trainer, ablation
    from tinymm.train.balance import balanced_init

    options, init = remedy_options(remedy)
    tm.manual_seed(seed)
    train, val, test = (get_dataset(dataset, split=s, seed=0) for s in ("train", "val", "test"))
    model = build_model(train, fusion, DEFAULT_TEXT_ENCODER,
                        modality_dropout=TRAIN_DEFAULTS["modality_dropout"])
    if init:
        balanced_init(model)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:  # best.npz: the best-epoch rule of tinymm train
        trainer = Trainer(model, train, val, epochs=TRAIN_DEFAULTS["epochs"],
                          batch_size=TRAIN_DEFAULTS["batch_size"], lr=TRAIN_DEFAULTS["lr"],
                          optimizer=TRAIN_DEFAULTS["optimizer"],
                          scheduler=TRAIN_DEFAULTS["scheduler"], out_dir=out,
                          reporter=Reporter(quiet=True), **options)
        trainer.fit()
    seconds = time.perf_counter() - start
    rows = ablation(model, test)
    full = rows[-1]
    singles = [r for r in rows if "+" not in r["subset"]]
    best = max(singles, key=lambda r: r["accuracy"])
    row = {"dataset": dataset, "fusion": fusion, "seed": seed, "remedy": remedy,
           "accuracy": full["accuracy"], "ceiling": full["ceiling"],
           "best_single": best["subset"], "best_single_accuracy": best["accuracy"],
           "singles": {r["subset"]: r["accuracy"] for r in singles},
           "best_epoch": trainer.best_epoch, "train_seconds": seconds}
    row["failed"] = failed(row)
    return row


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by an interruption
                continue
    return rows


def markdown(rows: list[dict], remedies, cases) -> str:
    """Failures / runs and mean fused accuracy per case (rows) and remedy (columns)."""
    lines = ["| case | ceiling | " + " | ".join(remedies) + " |",
             "|---|---|" + "---|" * len(remedies)]
    totals = {r: [0, 0] for r in remedies}
    for case in cases:
        dataset, fusion = case.split(":")
        mine = [r for r in rows if r["dataset"] == dataset and r["fusion"] == fusion]
        ceiling = next((r["ceiling"] for r in mine), float("nan"))
        cells = []
        for remedy in remedies:
            runs = [r for r in mine if r["remedy"] == remedy]
            if not runs:
                cells.append("–")
                continue
            fails = sum(failed(r) for r in runs)
            totals[remedy][0] += fails
            totals[remedy][1] += len(runs)
            mean = sum(r["accuracy"] for r in runs) / len(runs)
            seeds = ",".join(str(r["seed"]) for r in sorted(runs, key=lambda r: r["seed"])
                             if failed(r))
            cells.append(f"{fails}/{len(runs)} ({mean:.3f})" + (f" s{seeds}" if seeds else ""))
        lines.append(f"| {dataset} {fusion} | {ceiling:.3f} | " + " | ".join(cells) + " |")
    lines.append("| **total failed** | | " + " | ".join(
        f"**{f}/{n}**" for f, n in totals.values()) + " |")
    return "\n".join(lines) + "\n"


def paired(rows: list[dict], remedies) -> str:
    """Each remedy against the baseline on the same (case, seed) runs only: failures of both
    and the mean change of fused accuracy (the per-case table mixes seed sets)."""
    base = {(r["dataset"], r["fusion"], r["seed"]): r for r in rows if r["remedy"] == "none"}
    lines = ["| remedy | paired runs | failed without | failed with | mean accuracy change |",
             "|---|---|---|---|---|"]
    for remedy in remedies:
        if remedy == "none":
            continue
        pairs = [(base[key], r) for r in rows if r["remedy"] == remedy
                 and (key := (r["dataset"], r["fusion"], r["seed"])) in base]
        if not pairs:
            continue
        delta = sum(r["accuracy"] - b["accuracy"] for b, r in pairs) / len(pairs)
        lines.append(f"| {remedy} | {len(pairs)} | {sum(failed(b) for b, _ in pairs)} | "
                     f"{sum(failed(r) for _, r in pairs)} | {delta:+.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), metavar="DATASET:FUSION")
    parser.add_argument("--remedies", nargs="+", default=list(REMEDIES), choices=REMEDIES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jsonl", default=str(HERE / "collapse.jsonl"),
                        help="finished runs (appended; read back to resume)")
    parser.add_argument("--out", default=None, help="also write the Markdown table here")
    parser.add_argument("--table-only", action="store_true",
                        help="only render the table from the JSONL")
    args = parser.parse_args(argv)
    for case in args.cases:
        if case.count(":") != 1:
            parser.error(f"--cases: expected DATASET:FUSION, got {case!r}")
    path = Path(args.jsonl)
    if not args.table_only:
        from tinymm.train.progress import TextBar
        from tinymm.train.threads import set_num_threads

        set_num_threads(args.threads)
        done = {(r["dataset"], r["fusion"], r["seed"], r["remedy"]) for r in read_rows(path)}
        # seed by seed, so an interrupted sweep has compared every remedy on the same seeds
        todo = [(c, s, r) for s in args.seeds for c in args.cases for r in args.remedies
                if (*c.split(":"), s, r) not in done]
        bar = TextBar(len(todo), "collapse runs")
        for case, seed, remedy in todo:
            dataset, fusion = case.split(":")
            row = run_one(dataset, fusion, seed, remedy)
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            bar.set_postfix_str(f"{dataset} {fusion} s{seed} {remedy}: {row['accuracy']:.3f}")
            bar.update(1)
            print(f"{dataset:<18} {fusion:<10} seed {seed} {remedy:<7} acc {row['accuracy']:.3f} "
                  f"best single {row['best_single_accuracy']:.3f} ceiling {row['ceiling']:.3f}"
                  f"{'  FAILED' if row['failed'] else ''} ({row['train_seconds']:.0f} s)",
                  flush=True)
        bar.close()
    text = (f"Generated by `python benchmarks/collapse.py` (Python {platform.python_version()}, "
            f"{platform.machine()}); cells: failed runs / runs (mean fused test accuracy) and "
            f"the failing seeds.\n\n" + markdown(read_rows(path), args.remedies, args.cases)
            + "\nEach remedy against the baseline on the same runs:\n\n"
            + paired(read_rows(path), args.remedies))
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
