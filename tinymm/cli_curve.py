"""``tinymm curve``: learning curves (test accuracy against labelled training samples).

    tinymm curve --dataset shapes_captions --fusions concat late --sizes 32 64 128 256 full
    tinymm curve --dataset spoken_digits --sizes 32 128 --pretrain none contrastive --seeds 3

Each point is a ``tinymm train``-style run on a stratified subset of the training split
(nested across sizes, see ``tinymm.train.curve``), scored on the whole test split; seeds
give the interval (mean and 95 % Student-t interval over seeds). ``--pretrain contrastive``
first aligns the encoders on the whole training split without its labels (InfoNCE,
``tinymm.pretrain.contrastive``); with both ``none`` and ``contrastive`` the table also shows
their paired difference. Writes into its own folder (default ``runs/curve-<dataset>``):
``curve.jsonl`` (one line per finished run; re-running the same command skips them, so an
interrupted run resumes), ``curve.json`` (rows and summary) and ``curve.png``.
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub, common, positive_int) -> None:
    """Register the ``curve`` sub-command on the ``tinymm`` parser."""
    from .models.factory import FUSIONS

    c = sub.add_parser("curve", help="learning curves: accuracy against training-set size "
                       "(optionally after contrastive pre-training)",
                       description=__doc__.splitlines()[0] + ". Writes curve.jsonl, curve.json "
                       "and curve.png into --out.")
    c.add_argument("--dataset", default=None, metavar="NAME",
                   help="built-in data set (default shapes_captions)")
    c.add_argument("--fusions", nargs="+", default=["concat"], choices=FUSIONS,
                   help="fusion methods (default concat)")
    c.add_argument("--sizes", nargs="+", default=["32", "64", "128", "256", "512", "full"],
                   metavar="N", help="training-set sizes: positive ints or 'full' "
                   "(default 32 64 128 256 512 full)")
    c.add_argument("--seeds", type=positive_int, default=3, metavar="N",
                   help="seeds 0..N-1 per point (default 3)")
    c.add_argument("--pretrain", nargs="+", default=["none"], choices=("none", "contrastive"),
                   help="pre-training of the encoders (default none)")
    c.add_argument("--pretrain-epochs", type=positive_int, default=8,
                   help="contrastive pre-training epochs (default 8)")
    c.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs per run before the min-steps rule (default: tinymm train's)")
    c.add_argument("--min-steps", type=positive_int, default=100,
                   help="raise the epochs of small subsets to this many optimizer steps "
                   "(default 100)")
    c.add_argument("--max-epochs", type=positive_int, default=60,
                   help="never more epochs than this (default 60)")
    c.add_argument("--val-size", type=positive_int, default=None,
                   help="cap the validation split (stratified; default: all of it, as "
                   "tinymm train)")
    c.add_argument("--test-size", type=positive_int, default=None,
                   help="test samples (default: the data set's own)")
    c.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default ./runs/curve-<dataset>)")
    common(c)


def _sizes(parser, values: list[str]) -> list[int | None]:
    out: list[int | None] = []
    for v in values:
        if v == "full":
            out.append(None)
            continue
        try:
            n = int(v)
        except ValueError:
            parser.error(f"--sizes: expected positive integers or 'full', got {v!r}")
        if n <= 0:
            parser.error(f"--sizes: sizes must be positive, got {n}")
        out.append(n)
    if len(set(out)) != len(out):
        parser.error(f"--sizes: repeated size in {values}")
    return out


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by an interrupted write
                continue
    return rows


def format_summary(summary: list[dict], diffs: list[dict]) -> str:
    """Markdown tables: accuracy per point, and the paired contrastive - none differences."""
    lines = ["| data set | fusion | pre-training | labelled | seeds | accuracy (mean ± 95 % CI) "
             "| std | ceiling |", "|---|---|---|---|---|---|---|---|"]
    for r in summary:
        half = "n/a" if r["half_width"] != r["half_width"] else f"{r['half_width']:.3f}"
        std = "n/a" if r["std"] != r["std"] else f"{r['std']:.3f}"
        ceil = "-" if r["ceiling"] is None else f"{r['ceiling']:.3f}"
        lines.append(f"| {r['dataset']} | {r['fusion']} | {r['pretrain']} | {r['size']} | "
                     f"{len(r['seeds'])} | {r['mean']:.3f} ± {half} | {std} | {ceil} |")
    if diffs:
        lines += ["", "| data set | fusion | labelled | pairs | contrastive − none (mean ± 95 % CI) |",
                  "|---|---|---|---|---|"]
        for d in diffs:
            half = "n/a" if d["half_width"] != d["half_width"] else f"{d['half_width']:.3f}"
            lines.append(f"| {d['dataset']} | {d['fusion']} | {d['size']} | {d['pairs']} | "
                         f"{d['mean']:+.3f} ± {half} |")
    return "\n".join(lines)


def run_curve(args, parser) -> int:
    from .cli import CommandError
    from .cli_parser import DEFAULT_DATASET, dataset_names
    from .train.curve import learning_curve, paired_difference, plot_curve, summarize_curve
    from .train.progress import Reporter

    name = args.dataset or DEFAULT_DATASET
    if name not in dataset_names():
        parser.error(f"unknown dataset {name!r}; choose from {', '.join(dataset_names())}")
    sizes = _sizes(parser, args.sizes)
    from .data import dataset_info

    n_train = dataset_info(name)["default_sizes"]["train"]
    too_big = [n for n in sizes if n is not None and n > n_train]
    if too_big:
        parser.error(f"--sizes: {too_big} exceed the training split of {name} ({n_train} samples)")
    if "contrastive" in args.pretrain and len(dataset_info(name)["modalities"]) < 2:
        parser.error(f"--pretrain contrastive needs two modalities; {name} has one")
    out = Path(args.out) if args.out else Path("runs") / f"curve-{name}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot use {out} as the output folder: {exc.strerror or exc}") from None
    log = out / "curve.jsonl"
    settings = {"epochs": args.epochs, "min_steps": args.min_steps, "max_epochs": args.max_epochs,
                "val_size": args.val_size, "test_size": args.test_size,
                "pretrain_epochs": args.pretrain_epochs}
    saved = [r for r in _read_jsonl(log) if r.get("settings") == settings]
    done_keys = {(r["dataset"], r["fusion"], r["size"], r["seed"], r["pretrain"]) for r in saved}
    seeds = list(range(args.seeds))
    total = len(args.fusions) * len(sizes) * len(seeds) * len(args.pretrain)
    reporter = Reporter(quiet=args.quiet)
    bar = reporter.bar(total, f"curve {name}", unit="run")
    cells = {(name, f, n_train if n is None else n, s, p) for f in args.fusions for n in sizes
             for s in seeds for p in args.pretrain}
    bar.update(len(done_keys & cells))

    def skip(point: dict) -> bool:
        return (point["dataset"], point["fusion"], point["size"], point["seed"],
                point["pretrain"]) in done_keys

    def done(row: dict) -> None:
        row = {**row, "settings": settings}
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        saved.append(row)
        bar.update(1)
        reporter.log(f"{row['fusion']:<10} {row['pretrain']:<11} n={row['size']:<5} "
                     f"seed {row['seed']}  test accuracy {row['accuracy']:.4f} "
                     f"({row['epochs']} epochs, best {row['best_epoch']}, {row['seconds']:.1f} s)")

    try:
        for pretrain in args.pretrain:
            learning_curve(name, args.fusions, sizes, seeds, epochs=args.epochs,
                           min_steps=args.min_steps, max_epochs=args.max_epochs,
                           val_size=args.val_size, test_size=args.test_size, pretrain=pretrain,
                           pretrain_options={"epochs": args.pretrain_epochs},
                           done=done, skip=skip)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ntinymm curve: interrupted; {len(saved)} runs saved in {log}; re-run the same "
              "command to continue")
        return 130
    finally:
        bar.close()
    rows = [r for r in saved
            if (r["dataset"], r["fusion"], r["size"], r["seed"], r["pretrain"]) in cells]
    summary = summarize_curve(rows)
    diffs = paired_difference(rows) if {"none", "contrastive"} <= set(args.pretrain) else []
    (out / "curve.json").write_text(json.dumps({"settings": settings, "rows": rows,
                                                "summary": summary, "differences": diffs},
                                               indent=2) + "\n")
    drawn = (not args.no_plots) and plot_curve(summary, out / "curve.png",
                                               title=f"{len(seeds)} seeds; band: 95 % t-interval")
    print(format_summary(summary, diffs))
    print(f"results: {out / 'curve.json'}" + (f", figure: {out / 'curve.png'}" if drawn else ""))
    return 0
