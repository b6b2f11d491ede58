"""The ``tinymm`` command: train, evaluate, list data sets, show the installation.

    tinymm train                      # default data set and model, ends with the ablation table
    tinymm train --dataset video_events --fusion pooled_attention --epochs 5
    tinymm train --dataset sentiment_prosody --fusion mult   # cross-modal attention on sequences
    tinymm evaluate runs/shapes_captions-concat/best.npz
    tinymm explain runs/shapes_captions-concat/best.npz --samples 8
    tinymm compress runs/shapes_captions-concat/best.npz --prune 0.5 --quantize int8
    tinymm curve --dataset spoken_digits --sizes 32 128 --pretrain none contrastive
    tinymm datasets
    tinymm info

Bad arguments print the usage and a message and exit with status 2; a runtime error (a
missing, damaged or foreign checkpoint, an option ``--resume`` cannot apply) prints one line
and exits 2; a diverged run (NaN loss) exits 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from .cli_parser import (  # noqa: F401  (re-exported: benchmarks read the defaults here)
    BALANCE_OFF,
    DEFAULT_DATASET,
    DEFAULT_FUSION,
    DEFAULT_TEXT_ENCODER,
    MODEL_BEFORE,
    MODEL_NOW,
    TRAIN_DEFAULTS,
    build_parser,
    dataset_names,
)


class CommandError(Exception):
    """A runtime error of a command: printed as one line ``tinymm <command>: error: ...``."""


# ----------------------------------------------------------------------------- commands
def _load_split(name: str, split: str, size: int | None, seed: int):
    from .data import get_dataset

    return get_dataset(name, split=split, size=size, seed=seed)


def fusion_options_of(run: dict) -> dict | None:
    """The fusion options a run config's model is built with. The defaults of "mult" and
    "pooled_attention" changed over time, and a checkpoint is rebuilt as it was trained (the
    same weights would otherwise compute something else): a "mult" run recorded before
    ``mult_embed_scale`` existed adds positions to its raw projections (``embed="none"``),
    one recorded before ``mult_embed`` scales them by √d (``embed="scale"``); a
    "pooled_attention" run recorded before ``attention_pool`` reads the summary token
    (``pool="cls"``). New runs record ``MODEL_NOW``.

    >>> fusion_options_of({"fusion": "mult"}), fusion_options_of({"fusion": "concat"})
    ({'embed': 'none'}, None)
    >>> fusion_options_of({"fusion": "mult", "mult_embed_scale": True})
    {'embed': 'scale'}
    >>> fusion_options_of({"fusion": "mult", **MODEL_NOW})
    {'embed': 'norm'}
    >>> fusion_options_of({"fusion": "attention"})
    {'pool': 'cls'}
    """
    from .models import canonical_fusion

    fusion = canonical_fusion(run["fusion"])
    if fusion == "mult":
        if "mult_embed" in run:
            return {"embed": run["mult_embed"]}
        return {"embed": "scale" if run.get("mult_embed_scale", False) else "none"}
    if fusion == "pooled_attention":
        return {"pool": run.get("attention_pool", "cls")}
    return None


def _train(args, parser) -> int:
    from . import distributed, manual_seed
    from .models import build_model
    from .train import NonFiniteLossError, Reporter, Trainer
    from .train.runfile import merge_resume_options, one_line, read_run_checkpoint

    rank, world = distributed.init()  # from the MPI environment; (0, 1) outside mpiexec
    if args.nproc > 1 and world == 1:
        from .cli_launch import LaunchError, launch

        try:
            return launch(args.nproc, sys.argv[1:] if args.argv is None else args.argv,
                          args.threads)
        except LaunchError as exc:
            raise CommandError(str(exc)) from None
    out = Path(args.out) if args.out else None
    checkpoint = None
    if args.resume:
        if out is None:
            name = args.dataset or DEFAULT_DATASET
            out = Path("runs") / f"{name}-{args.fusion or DEFAULT_FUSION}"
        last = out / "last.npz"
        if not last.is_file():
            raise CommandError(f"--resume: no checkpoint at {last} (train once without --resume)")
        checkpoint = read_run_checkpoint(last, resume=True)
        run = merge_resume_options({**BALANCE_OFF, **MODEL_BEFORE, **checkpoint["config"]["run"]},
                                   vars(args), out, int(checkpoint["epoch"]))
        for key in BALANCE_OFF:  # the remedies given again apply to the rest of the run
            if getattr(args, key, None) is not None:
                run[key] = getattr(args, key)
        if run["dataset"] not in dataset_names():
            raise CommandError(f"{last}: its run config names the unknown dataset "
                               f"{run['dataset']!r}")
    else:
        run = {"dataset": args.dataset or DEFAULT_DATASET,
               "fusion": args.fusion or DEFAULT_FUSION,
               "text_encoder": args.text_encoder or DEFAULT_TEXT_ENCODER,
               "data_seed": 0, "train_size": args.train_size, "test_size": args.test_size,
               **MODEL_NOW,
               **{k: getattr(args, k) if getattr(args, k) is not None else v
                  for k, v in TRAIN_DEFAULTS.items()}}
        if run["dataset"] not in dataset_names():
            parser.error(f"unknown dataset {run['dataset']!r}; choose from "
                         f"{', '.join(dataset_names())}")
    if out is None:
        out = Path("runs") / f"{run['dataset']}-{run['fusion']}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot use {out} as the output folder: {exc.strerror or exc}") from None
    reporter = Reporter(quiet=args.quiet or rank != 0)  # only rank 0 prints

    started = time.perf_counter()
    manual_seed(int(run["seed"]))
    train_set = _load_split(run["dataset"], "train", run["train_size"], run["data_seed"])
    val_set = _load_split(run["dataset"], "val", run["test_size"], run["data_seed"])
    test_set = _load_split(run["dataset"], "test", run["test_size"], run["data_seed"])
    model = build_model(train_set, run["fusion"], run["text_encoder"],
                        modality_dropout=run["modality_dropout"],
                        image_activation=run["image_activation"],
                        fusion_options=fusion_options_of(run))
    if run["fusion_init"] == "balanced":
        from .train.balance import balanced_init

        balanced_init(model)
    if world > 1 and (run["modulation"] != "none" or run["aux_weight"] > 0):
        reporter.log("note: --modulation and --aux-weight are not available under MPI yet; "
                     "training without them")
        run.update(modulation="none", aux_weight=0.0)
    try:
        trainer = Trainer(model, train_set, val_set, epochs=run["epochs"],
                          batch_size=run["batch_size"], lr=run["lr"],
                          optimizer=run["optimizer"], scheduler=run["scheduler"],
                          weight_decay=run["weight_decay"], patience=run["patience"],
                          out_dir=out, config={"run": run}, reporter=reporter,
                          modulation=run["modulation"], ogm_alpha=run["ogm_alpha"],
                          aux_weight=run["aux_weight"], warmup_epochs=run["warmup_epochs"],
                          monitor_samples=run["monitor_samples"])
    except (TypeError, ValueError) as exc:
        raise CommandError(one_line(exc)) from None
    reporter.log(f"tinymm train: {run['dataset']} ({len(train_set)} train / {len(val_set)} val "
                 f"/ {len(test_set)} test), fusion={run['fusion']}, "
                 f"text_encoder={run['text_encoder']}, {model.num_parameters():,} parameters, "
                 f"backend={_backend()}, threads={args.threads}, out={out}"
                 + (f", {world} MPI processes" if world > 1 else ""))
    if checkpoint is not None:
        try:
            trainer.load_state_dict(checkpoint)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise CommandError(f"--resume: {out / 'last.npz'} does not fit the model and "
                               f"optimizer its config builds: {one_line(exc)}") from None
        reporter.log(f"resumed from {out / 'last.npz'} after epoch {trainer.epoch}")
    try:
        trainer.fit()
    except NonFiniteLossError as exc:
        print(f"tinymm train: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the disk filled up while writing a checkpoint
        print(f"tinymm train: error: cannot write into {out}: {exc.strerror or exc}; the "
              f"last checkpoint written is intact", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ntinymm train: interrupted; continue with `tinymm train --out {out} "
              "--resume`", file=sys.stderr)
        return 130
    train_seconds = time.perf_counter() - started
    if rank != 0:
        return 0
    _report(model, test_set, trainer.history, trainer.config, out, reporter,
            plots=not args.no_plots, split="test", header=f"best epoch {trainer.best_epoch} (val accuracy "
            f"{trainer.best_accuracy:.4f}); data and training took {train_seconds:.1f} s")
    if trainer.collapse_warning:
        reporter.log(f"\nwarning: {trainer.collapse_warning}")
    reporter.log(f"total {time.perf_counter() - started:.1f} s; outputs in {out}/")
    return 0


def _backend() -> str:
    from . import kernels

    return kernels.get_backend()


def _report(model, dataset, history, config, out: Path, reporter, plots: bool, split: str,
            header: str = "", name: str = "report", extra: dict | None = None) -> dict:
    """Evaluate on ``dataset`` (the ``split`` split), write ``out/<name>.json`` and plots
    (prefixed ``<name>-`` unless ``name`` is ``report``), print the ablation table."""
    from .train import build_report, format_ablation, save_plots, write_report

    report = build_report(model, dataset, history=history, config=config)
    report = {"split": split, **(extra or {}), **report}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_report(report, out / f"{name}.json")
        prefix = "" if name == "report" else f"{name}-"
        written = save_plots(report, out, prefix=prefix) if plots else []
    except OSError as exc:
        raise CommandError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    table = format_ablation(report["ablation"], report.get("chance"))
    lines = [header] if header else []
    ci = report.get("accuracy_interval")
    ci = f" (95 % CI {ci[0]:.4f}-{ci[1]:.4f})" if ci else ""
    lines += [f"{split} accuracy {report['accuracy']:.4f}{ci}, macro-F1 {report['macro_f1']:.4f} "
              f"on {report['num_samples']} {split} samples of {report['dataset']}",
              "modality ablation (other modalities masked; ceiling = Bayes-optimal accuracy, "
              "exact or an upper bound; additive = late fusion's ceiling; split oracle = the "
              "Bayes rule on this split's hidden variables):",
              table, f"report: {out / f'{name}.json'}"]
    if written:
        lines.append("plots: " + ", ".join(p.name for p in written))
    text = "\n".join(lines)
    if reporter.quiet:
        print(text)
    else:
        reporter.log(text)
    return report


def _evaluate(args, parser) -> int:
    from .train import Reporter

    model, state, _, path = load_run_model(args.checkpoint, args.split)
    out = Path(args.out) if args.out else path.parent
    reporter = Reporter(quiet=args.quiet)
    # its own file names: never the training run's report.json / curves.png
    _report(model, model.dataset, None, state["config"], out, reporter, plots=not args.no_plots,
            split=args.split, name=f"evaluate-{path.stem}-{args.split}",
            extra={"checkpoint": str(path), "epoch": int(state["epoch"])},
            header=f"{path}: epoch {state['epoch']}, {args.split} split")
    return 0


def load_run_model(checkpoint: str, split: str):
    """(model with the checkpoint's weights, state, run config, path) of a `tinymm train`
    checkpoint; ``model.dataset`` is the ``split`` split it was trained for."""
    from . import manual_seed
    from .models import build_model
    from .train.runfile import one_line, read_run_checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise CommandError(f"no checkpoint at {path}")
    state = read_run_checkpoint(path)
    run = {**MODEL_BEFORE, **state["config"]["run"]}
    if run["dataset"] not in dataset_names():
        raise CommandError(f"{path}: its run config names the unknown dataset {run['dataset']!r}")
    manual_seed(int(run["seed"]))
    dataset = load_run_model.split(split, run)
    model = build_model(dataset, run["fusion"], run["text_encoder"],
                        modality_dropout=run["modality_dropout"],
                        image_activation=run["image_activation"],
                        fusion_options=fusion_options_of(run))
    try:
        model.load_state_dict(state["model"])
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{path} does not fit the model its config builds: "
                           f"{one_line(exc)}") from None
    object.__setattr__(model, "dataset", dataset)
    return model.eval(), state, run, path


load_run_model.split = lambda split, run: _load_split(
    run["dataset"], split, run["train_size"] if split == "train" else run["test_size"],
    run["data_seed"])


def _explain(args, parser) -> int:
    from .cli_explain import run_explain

    return run_explain(args, parser)


def _compress(args, parser) -> int:
    from .cli_compress import run_compress

    return run_compress(args, parser)


def _curve(args, parser) -> int:
    from .cli_curve import run_curve

    return run_curve(args, parser)


def _datasets(args, parser) -> int:
    from .data import dataset_info, list_datasets

    for name in list_datasets():
        info = dataset_info(name)
        print(f"{name}: {info.get('num_classes')} classes, modalities "
              f"{', '.join(info.get('modalities', ()))}")
        summary = info.get("summary") or ""
        if summary.startswith(f"{name}:"):
            summary = summary[len(name) + 1:].strip()
        if summary:
            print(f"  {summary}")
        ceilings = info.get("ceilings") or {}
        if ceilings:
            width = max(len(k) for k in ceilings)
            print("  ceiling (Bayes-optimal accuracy; kind; additive = late fusion's ceiling) "
                  "per modality subset:")
            kinds, additive = info.get("ceiling_kinds") or {}, info.get("additive_ceilings") or {}
            for subset, value in ceilings.items():
                extra = f"  {kinds.get(subset, ''):<11}" if kinds else ""
                extra += f"  additive {additive[subset]:.4f}" if subset in additive else ""
                print(f"    {subset:<{width}}  {value:.4f}{extra}")
    return 0


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def _info(args, parser) -> int:
    import platform

    import numpy as np

    from . import __version__, kernels

    print(f"tinymm {__version__} ({Path(__file__).parent})")
    print(f"python {platform.python_version()} on {platform.platform()}, "
          f"{os.cpu_count()} CPUs")
    print(f"numpy {np.__version__}, numba {_version('numba')}, scipy {_version('scipy')}")
    print(f"optional: tqdm {_version('tqdm')}, matplotlib {_version('matplotlib')}, "
          f"torch {_version('torch')}")
    print(f"backend: {kernels.get_backend()} (numba available: {kernels.numba_available()}); "
          f"{len(kernels.jit_names()) if kernels.numba_available() else 0} Numba kernels of "
          f"{len(kernels.names())}")
    times = kernels.warmup()
    per_family = ", ".join(f"{k} {v:.2f}" for k, v in times.items() if k != "total")
    print(f"kernel warm-up: {times['total']:.2f} s" + (f" ({per_family})" if per_family else ""))
    return 0


def _end_mpi_job_on_failure(status: int) -> int:
    """Under MPI, a rank that fails ends the whole job (the others would wait forever in
    their next collective)."""
    if status:
        from . import distributed

        if distributed.is_initialized() and distributed.get_world_size() > 1:
            sys.stderr.flush()
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(status)
    return status


COMMANDS = {"train": _train, "evaluate": _evaluate, "explain": _explain, "compress": _compress,
            "curve": _curve, "datasets": _datasets, "info": _info}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinymm`` command; returns the exit status."""
    from .train.runfile import RunFileError, one_line

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    sub = parser._subparsers._group_actions[0].choices[args.command]
    with contextlib.ExitStack() as stack:  # backend and threads only for this command
        backend = getattr(args, "backend", None)
        if backend is not None:
            from . import kernels

            try:
                stack.enter_context(kernels.backend(backend))
            except ValueError as exc:  # e.g. numba requested but not installed
                print(f"{sub.prog}: error: {one_line(exc)}", file=sys.stderr)
                return 2
        threads = getattr(args, "threads", None)
        if threads is not None:
            from .train.threads import num_threads

            stack.enter_context(num_threads(threads))
        try:
            status = COMMANDS[args.command](args, sub)
        except (CommandError, RunFileError) as exc:
            print(f"{sub.prog}: error: {one_line(exc)}", file=sys.stderr)
            status = 2
        except BrokenPipeError:  # e.g. `tinymm datasets | head`: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        return _end_mpi_job_on_failure(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
