"""The arguments of the ``tinymm`` command: the parser, its value checks and the defaults.

Usage errors (a bad option or value) print the usage and one message and exit with status 2,
argparse's convention; see ``tinymm/cli.py`` for the commands themselves.
"""

from __future__ import annotations

import argparse
import math
import sys

# The defaults of `tinymm train`, chosen so that it finishes in well under two minutes on a
# 2-core machine and ends with each modality near its ceiling and the fusion far above both.
DEFAULT_DATASET = "shapes_captions"
DEFAULT_FUSION = "concat"
DEFAULT_TEXT_ENCODER = "gru"
TRAIN_DEFAULTS = {"epochs": 20, "batch_size": 32, "lr": 3e-3, "seed": 0, "optimizer": "adam",
                  "scheduler": "cosine", "modality_dropout": 0.3, "patience": None,
                  "weight_decay": 0.0,
                  # modality collapse (issue 17; tinymm/train/balance.py): measured remedies
                  "modulation": "ogm", "ogm_alpha": 0.5, "aux_weight": 0.0,
                  "warmup_epochs": 0, "fusion_init": "default", "monitor_samples": 256,
                  "image_activation": "leaky_relu"}
# the collapse remedies all off: what a run did before they existed (old checkpoints)
BALANCE_OFF = {"modulation": "none", "ogm_alpha": 0.5, "aux_weight": 0.0, "warmup_epochs": 0,
               "fusion_init": "default", "monitor_samples": 0}
# model options a run config written before they existed was built with (old checkpoints)
MODEL_BEFORE = {"image_activation": "relu"}
# fusion defaults a new run records (read back by cli.fusion_options_of; an old config lacks them)
MODEL_NOW = {"mult_embed": "norm", "attention_pool": "mean"}


class _Parser(argparse.ArgumentParser):
    """argparse, but every error names the command and exits 2 (argparse's convention)."""

    def error(self, message: str):  # noqa: D401
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def dataset_names() -> list[str]:
    from .data import list_datasets

    return list(list_datasets())


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .models.encoders import ACTIVATIONS, TEXT_KINDS
    from .models.factory import FUSION_CHOICES
    from .train.trainer import OPTIMIZERS, SCHEDULERS

    parser = _Parser(prog="tinymm", description="Train and evaluate multimodal models with "
                     "tinymm (NumPy autograd + Numba kernels).")
    parser.add_argument("--version", action="version", version=f"tinymm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a multimodal model on a built-in data set",
                       description="Train a model and end with the modality ablation table. "
                       "Outputs (checkpoints, report.json, plots) go to --out.")
    t.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"built-in data set (default {DEFAULT_DATASET}; see `tinymm datasets`)")
    t.add_argument("--fusion", default=None, choices=FUSION_CHOICES,
                   help=f"fusion method (default {DEFAULT_FUSION})")
    t.add_argument("--text-encoder", default=None, choices=TEXT_KINDS,
                   help=f"text encoder (default {DEFAULT_TEXT_ENCODER})")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help=f"number of epochs (default {TRAIN_DEFAULTS['epochs']})")
    t.add_argument("--batch-size", type=_positive_int, default=None,
                   help=f"batch size (default {TRAIN_DEFAULTS['batch_size']})")
    t.add_argument("--lr", type=_positive_float, default=None,
                   help=f"learning rate (default {TRAIN_DEFAULTS['lr']:g})")
    t.add_argument("--optimizer", default=None, choices=OPTIMIZERS,
                   help=f"optimizer (default {TRAIN_DEFAULTS['optimizer']})")
    t.add_argument("--scheduler", default=None, choices=SCHEDULERS,
                   help=f"learning-rate schedule per epoch (default {TRAIN_DEFAULTS['scheduler']})")
    t.add_argument("--weight-decay", type=_nonneg_float, default=None)
    t.add_argument("--modality-dropout", type=_fraction, default=None,
                   help="probability of dropping each modality in training (default "
                   f"{TRAIN_DEFAULTS['modality_dropout']})")
    t.add_argument("--patience", type=_positive_int, default=None,
                   help="early stopping after this many epochs without improvement")
    b = t.add_argument_group(
        "modality collapse", "Joint training can collapse onto the modality that is easiest to "
        "learn (the others end up ignored). Each epoch measures the fused accuracy next to "
        "each modality alone and warns when they stay level; these remedies counter it.")
    b.add_argument("--modulation", choices=("none", "ogm"), default=None,
                   help="OGM-GE: slow down the encoder of the modality that is ahead by scaling "
                   "its gradients, plus Gaussian noise (Peng et al., CVPR 2022; default "
                   f"{TRAIN_DEFAULTS['modulation']})")
    b.add_argument("--ogm-alpha", type=_nonneg_float, default=None,
                   help=f"OGM's alpha: how hard the leading modality is slowed down (default "
                   f"{TRAIN_DEFAULTS['ogm_alpha']})")
    b.add_argument("--aux-weight", type=_nonneg_float, default=None,
                   help="gradient blending: weight of each modality's auxiliary-head loss next to "
                   "the fused loss; 0 = off (Wang et al., CVPR 2020; default "
                   f"{TRAIN_DEFAULTS['aux_weight']:g})")
    b.add_argument("--warmup-epochs", type=_nonneg_int, default=None,
                   help="modality warm-up: modality dropout falls from 0.9 to --modality-dropout "
                   f"over these first epochs; 0 = off (default {TRAIN_DEFAULTS['warmup_epochs']})")
    b.add_argument("--fusion-init", choices=("default", "balanced"), default=None,
                   help="balanced: start the tensor, lowrank and attention fusions so that no "
                   "modality is silenced at initialisation (default "
                   f"{TRAIN_DEFAULTS['fusion_init']})")
    b.add_argument("--image-activation", choices=ACTIVATIONS, default=None,
                   help="nonlinearity of the image and video-frame CNNs; leaky_relu "
                   "(LeakyReLU(0.01)) keeps a unit that falls below zero learning, where a ReLU "
                   "unit can die and take the modality with it (default "
                   f"{TRAIN_DEFAULTS['image_activation']})")
    b.add_argument("--monitor-samples", type=_nonneg_int, default=None,
                   help="validation (and training) samples on which each epoch measures every "
                   "modality's contribution and the clean training accuracy; 0 = off "
                   f"(default {TRAIN_DEFAULTS['monitor_samples']})")
    t.add_argument("--seed", type=_nonneg_int, default=None,
                   help=f"random seed for initialisation and shuffling (default "
                   f"{TRAIN_DEFAULTS['seed']})")
    t.add_argument("--train-size", type=_positive_int, default=None,
                   help="training samples (default: the data set's own)")
    t.add_argument("--test-size", type=_positive_int, default=None,
                   help="validation and test samples (default: the data set's own)")
    t.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default ./runs/<dataset>-<fusion>)")
    t.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                   help="train on N MPI processes (data parallel; launches `mpiexec -n N` "
                   "itself, needs `pip install mpich mpi4py`); the batch size stays the "
                   "global one. Under `mpiexec -n N tinymm train` this is not needed")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last.npz: weights, optimizer "
                   "state, schedule, history and random state come from the checkpoint. "
                   "--epochs (extends the run; a cosine schedule is stretched to the new "
                   "length), --lr (new base learning rate from the next epoch on), "
                   "--batch-size, --weight-decay, --modality-dropout and --patience apply to "
                   "the rest of the run; --dataset, --fusion, --text-encoder, --train-size, "
                   "--test-size, --optimizer, --scheduler and --seed define the run and are "
                   "refused with another value than the run's")
    _common(t)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint (ablation table, report)",
                       description="Rebuild the model of a checkpoint written by `tinymm "
                       "train`, evaluate it on one split and write "
                       "evaluate-<checkpoint>-<split>.json (and its plots) next to it or in "
                       "--out; the training run's report.json and plots are never touched.")
    e.add_argument("checkpoint", metavar="CHECKPOINT", help="a best.npz or last.npz file")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--batch-size", type=_positive_int, default=256)
    e.add_argument("--out", default=None, metavar="DIR", help="where to write the report")
    _common(e)

    x = sub.add_parser("explain", help="explain a checkpoint's predictions (attributions, "
                       "modality Shapley values, attention maps)",
                       description="Integrated gradients for every modality, exact modality "
                       "Shapley values with the interaction index, attention maps; writes "
                       "explain.json and PNG figures into <checkpoint folder>/explain-<name> "
                       "(or --out), never the training run's files.")
    x.add_argument("checkpoint", metavar="CHECKPOINT", help="a best.npz or last.npz file")
    x.add_argument("--samples", type=_positive_int, default=8,
                   help="samples to attribute and draw (default 8)")
    x.add_argument("--shapley-samples", type=_positive_int, default=256,
                   help="samples for the per-class modality contributions (default 256)")
    x.add_argument("--steps", type=_positive_int, default=50,
                   help="integrated-gradients steps (default 50)")
    x.add_argument("--split", default="test", choices=("train", "val", "test"))
    x.add_argument("--out", default=None, metavar="DIR", help="where to write")
    _common(x)

    c = sub.add_parser("compress", help="prune and/or quantise a checkpoint; before/after table",
                       description="Magnitude pruning (global, or --structured channels "
                       "physically removed), optional fine-tuning with the masks kept, int8 "
                       "quantisation; prints and writes a table of size on disk, parameters, "
                       "accuracy (paired 95%% interval) and ablation, latency per batch.")
    c.add_argument("checkpoint", metavar="CHECKPOINT", help="a best.npz or last.npz file")
    c.add_argument("--prune", type=_fraction, default=None, metavar="AMOUNT",
                   help="share of the Linear/Conv weights (or channels) to prune, in [0, 1)")
    c.add_argument("--structured", action="store_true",
                   help="prune whole channels/units and remove them from the layers")
    c.add_argument("--quantize", choices=("int8",), default=None, help="post-training int8")
    c.add_argument("--activation-bits", type=int, choices=(7, 8), default=7,
                   help="bits of the quantised Linear/Conv inputs (default 7: lets the AVX2 "
                   "kernel use vpmaddubsw exactly; 8: finer, slower)")
    c.add_argument("--finetune-epochs", type=_nonneg_int, default=0, metavar="N",
                   help="fine-tune the pruned model for N epochs (masks kept)")
    c.add_argument("--batch-size", type=_positive_int, default=64,
                   help="batch size of the latency measurement (default 64)")
    c.add_argument("--out", default=None, metavar="DIR", help="where to write")
    _common(c)

    from .cli_curve import add_parser as _add_curve

    _add_curve(sub, _common, _positive_int)

    sub.add_parser("datasets", help="list the built-in data sets with their ceilings")
    i = sub.add_parser("info", help="versions, kernel backend and kernel warm-up time")
    i.add_argument("--backend", choices=("numba", "numpy"), default=None)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("numba", "numpy"), default=None,
                   help="kernel backend (default numba when available)")
    p.add_argument("--threads", type=_positive_int, default=1,
                   help="threads for Numba kernels and BLAS (default 1: the default models "
                   "are small, and competing thread pools cost more than they give on few "
                   "cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the results")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
