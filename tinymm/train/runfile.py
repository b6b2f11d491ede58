"""The checkpoints of ``tinymm train``: reading one safely, and what ``--resume`` may change.

A checkpoint written by ``tinymm train`` is a ``Trainer`` checkpoint whose
``config["run"]`` records every option of the run (``RUN_FIELDS``), so that ``tinymm
evaluate`` and ``tinymm train --resume`` can rebuild the data and the model. Every way a
file can fail to be one (unreadable, foreign, written by the Python ``Trainer`` without a
run config, a run config with missing or mistyped fields, model arrays that are not real
numbers) ends in one :class:`RunFileError` whose one-line message names the file.

``--resume`` sorts the options of ``tinymm train`` into two kinds:

* ``RESUME_APPLIED`` change the rest of the run: ``--epochs`` (extends it; a cosine
  schedule is stretched to the new length), ``--lr`` (the new base learning rate from the
  next epoch on), ``--batch-size``, ``--weight-decay``, ``--modality-dropout``, ``--patience``.
* ``RESUME_FIXED`` define the run (its data, its model, its optimizer state or its random
  stream): given with another value than the run's, they are refused.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .trainer import CHECKPOINT_FORMAT, OPTIMIZERS, SCHEDULERS


class RunFileError(ValueError):
    """A checkpoint that ``tinymm`` cannot use; the message is one line naming the file."""


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, (numbers.Real, np.floating)) and not isinstance(v, (bool, np.bool_))


def _pos_int(v) -> bool:
    return _is_int(v) and v > 0


def _names(*choices):
    return lambda v: isinstance(v, str) and (not choices or v in choices)


def _fields():
    from ..models.encoders import TEXT_KINDS
    from ..models.factory import FUSION_CHOICES

    return {
        "dataset": ("a data set name", _names()),
        "fusion": (f"one of {FUSION_CHOICES}", _names(*FUSION_CHOICES)),
        "text_encoder": (f"one of {TEXT_KINDS}", _names(*TEXT_KINDS)),
        "data_seed": ("an int >= 0", lambda v: _is_int(v) and v >= 0),
        "seed": ("an int >= 0", lambda v: _is_int(v) and v >= 0),
        "train_size": ("a positive int or None", lambda v: v is None or _pos_int(v)),
        "test_size": ("a positive int or None", lambda v: v is None or _pos_int(v)),
        "epochs": ("a positive int", _pos_int),
        "batch_size": ("a positive int", _pos_int),
        "lr": ("a positive number", lambda v: _is_real(v) and np.isfinite(v) and v > 0),
        "optimizer": (f"one of {OPTIMIZERS}", _names(*OPTIMIZERS)),
        "scheduler": (f"one of {SCHEDULERS}", _names(*SCHEDULERS)),
        "modality_dropout": ("a number in [0, 1)", lambda v: _is_real(v) and 0 <= v < 1),
        "patience": ("a positive int or None", lambda v: v is None or _pos_int(v)),
        "weight_decay": ("a number >= 0", lambda v: _is_real(v) and np.isfinite(v) and v >= 0),
    }


RESUME_APPLIED = ("epochs", "lr", "batch_size", "weight_decay", "modality_dropout", "patience")
RESUME_FIXED = {
    "dataset": "the data and the model are fixed for a run",
    "fusion": "the model is fixed for a run",
    "text_encoder": "the model is fixed for a run",
    "image_activation": "the model is fixed for a run",
    "train_size": "the training data is fixed for a run",
    "test_size": "the validation data (which chose the best epoch) is fixed for a run",
    "optimizer": "the optimizer's state cannot carry over to another optimizer",
    "scheduler": "the schedule's state cannot carry over to another schedule",
    "seed": "a resumed run continues the checkpoint's random stream",
}


def read_run_checkpoint(path: str | Path, resume: bool = False) -> dict:
    """The checkpoint at ``path``, checked to be one ``tinymm train`` wrote.

    ``resume`` also requires what ``Trainer.load_state_dict`` needs (optimizer, history,
    random state, ...). Raises :class:`RunFileError` (one line) for anything else.
    """
    from ..serialization import load

    path = Path(path)
    try:
        state = load(path)
    except (ValueError, OSError) as exc:
        raise RunFileError(" ".join(str(exc).split())) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RunFileError(f"{path} is a tinymm file but not a training checkpoint (it holds "
                           f"no '{CHECKPOINT_FORMAT}' format entry; tm.save of a state_dict?)")
    config = state.get("config")
    if not isinstance(config, dict) or "run" not in config:
        raise RunFileError(f"{path} is a checkpoint of the Python Trainer, not of `tinymm train`:"
                           " its config has no 'run' entry saying how to rebuild the data and "
                           "the model (load it in Python with Trainer.resume or tm.load)")
    run = config["run"]
    if not isinstance(run, dict):
        raise RunFileError(f"{path}: its run config is a {type(run).__name__}, not a dict")
    for key, (expected, ok) in _fields().items():
        if key not in run:
            raise RunFileError(f"{path}: its run config lacks {key!r} (written by another "
                               "version of tinymm, or edited)")
        if not ok(run[key]):
            raise RunFileError(f"{path}: its run config has {key}={run[key]!r}, expected "
                               f"{expected}")
    needed = ("model", "epoch") + (("optimizer", "history", "best", "rng") if resume else ())
    missing = [k for k in needed if k not in state]
    if missing:
        raise RunFileError(f"{path} lacks the checkpoint entries {missing}")
    if not _is_int(state["epoch"]) or state["epoch"] < 0:
        raise RunFileError(f"{path}: its epoch is {state['epoch']!r}, not an int >= 0")
    model = state["model"]
    if not isinstance(model, Mapping):
        raise RunFileError(f"{path}: its model state is a {type(model).__name__}, not a dict")
    for key, value in model.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise RunFileError(f"{path}: model entry {key!r} is {what}, not an array of real "
                               "numbers")
    return state


def one_line(message: str) -> str:
    """A (possibly multi-line) message as one line, e.g. load_state_dict's list of problems."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def merge_resume_options(run: Mapping, given: Mapping, where: Path, done: int) -> dict:
    """The run config of a resumed run: ``run`` with the ``RESUME_APPLIED`` options of
    ``given`` (``None`` = not given) applied; a ``RESUME_FIXED`` option given with another
    value than the run's raises :class:`RunFileError`, as does ``epochs < done``."""
    merged = dict(run)
    for key, why in RESUME_FIXED.items():
        value = given.get(key)
        if value is not None and value != run[key]:
            flag = "--" + key.replace("_", "-")
            raise RunFileError(f"--resume: the run in {where} used {flag} {run[key]}, not "
                               f"{value} ({why}); leave {flag} out, or start a new run in "
                               "another --out")
    for key in RESUME_APPLIED:
        if given.get(key) is not None:
            merged[key] = given[key]
    if merged["epochs"] < done:
        raise RunFileError(f"--resume: the run in {where} has already trained {done} epochs; "
                           f"--epochs {merged['epochs']} would end it before that")
    return merged
