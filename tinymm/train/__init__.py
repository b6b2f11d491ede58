"""``tinymm.train``: the Trainer, metrics, evaluation (ablation, robustness), reports, plots.

    from tinymm.train import Trainer, ablation, format_ablation
"""

from .evaluate import (
    NOISE_LEVELS,
    ablation,
    all_subsets,
    build_report,
    evaluate,
    format_ablation,
    predict,
    robustness_curve,
    scores,
    write_report,
)
from .metrics import accuracy, confusion_matrix, f1_per_class, macro_f1
from .plots import matplotlib_available, save_plots
from .progress import Reporter, TextBar, tqdm_available
from .threads import get_num_threads, num_threads, set_num_threads
from .trainer import (
    CHECKPOINT_FORMAT,
    OPTIMIZERS,
    SCHEDULERS,
    NonFiniteLossError,
    Trainer,
    clip_grad_norm,
    make_optimizer,
    make_scheduler,
)

__all__ = [
    "Trainer", "NonFiniteLossError", "CHECKPOINT_FORMAT", "OPTIMIZERS", "SCHEDULERS",
    "make_optimizer", "make_scheduler", "clip_grad_norm", "Reporter", "TextBar",
    "tqdm_available", "accuracy", "confusion_matrix", "f1_per_class", "macro_f1", "predict",
    "scores", "evaluate", "ablation", "all_subsets", "format_ablation",
    "robustness_curve", "build_report", "write_report", "NOISE_LEVELS", "save_plots",
    "matplotlib_available", "set_num_threads", "get_num_threads", "num_threads",
]
