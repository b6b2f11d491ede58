"""``Trainer``: the training loop with validation, early stopping, checkpoints and resume.

    tm.manual_seed(0)                                  # before building the model
    model = build_model(train_set, fusion="gated")
    trainer = Trainer(model, train_set, val_set, epochs=10, lr=1e-3, out_dir="runs/x")
    history = trainer.fit()

Checkpoints (``tm.save``, so written atomically) in ``out_dir``: ``last.npz`` after every
epoch and ``best.npz`` whenever the validation accuracy improves. Each holds the model and
optimizer state, the scheduler state, the epoch, the config, the history, the early-stopping
state and the random generator's state, so ``Trainer.resume`` continues a run exactly as if
it had never stopped. A NaN or infinite loss stops the run before the step that would
apply it, with ``NonFiniteLossError``; the checkpoints on disk stay those of the last good
epoch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..random import generator
from ..serialization import load, save
from . import balance
from .monitor import clean_accuracy, contributions
from .parallel import DataParallelPlan
from .progress import Reporter

CHECKPOINT_FORMAT = "tinymm-checkpoint"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine")
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr",
                "seconds", "train_accuracy_clean", "val_contribution", "modality_dropout",
                "ogm_coefficients")
# keys added after the first checkpoints were written: padded with None on resume
LATER_KEYS = ("train_accuracy_clean", "val_contribution", "modality_dropout", "ogm_coefficients")


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stopped before applying it."""


def _positive(name: str, value, kind=float, allow_zero: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Trainer: {name} must be a number, got {type(value).__name__}")
    if kind is int and int(value) != value:
        raise TypeError(f"Trainer: {name} must be an int, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Trainer: {name} must be {bound}, got {value!r}")
    return kind(value)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9):
    """``"sgd"`` (with momentum), ``"adam"`` or ``"adamw"`` over ``params``.

    >>> opt = make_optimizer("sgd", nn.Linear(2, 1).parameters(), lr=0.1)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    from .. import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"Trainer: optimizer must be one of {OPTIMIZERS}, got {name!r}")


def make_scheduler(name: str, optimizer, epochs: int, step_size: int, gamma: float,
                   last_epoch: int = -1):
    """``"none"``, ``"step"`` (StepLR every ``step_size`` epochs) or ``"cosine"`` (``epochs``).

    ``"none"`` returns None.

    >>> opt = make_optimizer("adam", nn.Linear(2, 1).parameters(), lr=0.1)
    >>> sched = make_scheduler("step", opt, epochs=4, step_size=2, gamma=0.5)
    >>> for _ in range(2):
    ...     opt.step(); sched.step()
    >>> type(sched).__name__, opt.param_groups[0]["lr"], make_scheduler("none", opt, 4, 2, 0.5)
    ('StepLR', 0.05, None)
    """
    from ..optim import lr_scheduler

    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma,
                                   last_epoch=last_epoch)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, last_epoch=last_epoch)
    raise ValueError(f"Trainer: scheduler must be one of {SCHEDULERS}, got {name!r}")


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale gradients in place so their global L2 norm is at most ``max_norm``; return the norm.

    The norm is sqrt(sum of squared gradient entries) over all ``params``, measured before
    clipping; above ``max_norm`` every gradient is multiplied by max_norm / (norm + 1e-6).

    >>> w = tm.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()          # grad = 2 w = [6, 8], norm 10
    >>> clip_grad_norm([w], max_norm=1.0)
    10.0
    >>> np.round(w.grad, 3)
    array([0.6, 0.8], dtype=float32)
    """
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads:
            g *= g.dtype.type(scale)
    return norm


def _batch_loader(dataset, batch_size: int, shuffle: bool):
    from ..data.loader import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


class Trainer:
    """Train a classifier whose ``forward(batch)`` takes a DataLoader batch dict.

    Options (all keyword): epochs, batch_size, lr, optimizer ("sgd" / "adam" / "adamw"),
    weight_decay, momentum (SGD), scheduler ("none" / "step" / "cosine"), step_size and gamma
    (StepLR), patience (early stopping after this many epochs without a better validation
    accuracy; None = never), grad_clip (global gradient-norm limit; None = off), out_dir
    (checkpoints; None = none written), config (a JSON-like dict stored in checkpoints, e.g.
    how to rebuild the model), reporter (where messages and progress bars go).

    Randomness (initialisation, shuffling, dropout, modality dropout) all comes from tinymm's
    generator: call ``tm.manual_seed`` before building the model for a repeatable run.

    Modality collapse (see ``tinymm.train.balance`` for the rules and the papers):
    monitor_samples (validation samples on which each epoch measures the fused accuracy next
    to each single modality's, and training samples for the clean training accuracy; 0 = off),
    modulation ("none" / "ogm": OGM-GE gradient modulation, Peng et al., CVPR 2022) with
    ogm_alpha (its α), aux_weight (> 0: gradient blending with one auxiliary head per
    modality, loss L_fused + aux_weight Σ_m L_m, after Wang et al., CVPR 2020) and
    warmup_epochs (modality dropout falls from 0.9 to the model's own rate over these
    epochs). The defaults None of modulation and aux_weight mean ``balance.DEFAULT_MODULATION``
    and ``balance.DEFAULT_AUX_WEIGHT`` (the remedy that failed least in
    benchmarks/collapse.py) for a model with several modalities on one process, else off.
    After fit, ``collapse_warning`` holds a sentence for the learner when the fused
    model ended within sampling error of one modality alone (else None).

    One epoch of one step on 16 samples (``fit`` returns the history, one entry per epoch):

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> trainer = Trainer(build_model(ds), ds, ds, epochs=1, batch_size=16,
    ...                   reporter=Reporter(quiet=True), monitor_samples=0)
    >>> history = trainer.fit()
    >>> history["epoch"], len(history["train_loss"]), trainer.epoch
    ([1], 1, 1)
    """

    def __init__(self, model, train_data, val_data=None, *, epochs: int = 10,
                 batch_size: int = 32, lr: float = 1e-3, optimizer: str = "adam",
                 weight_decay: float = 0.0, momentum: float = 0.9, scheduler: str = "none",
                 step_size: int = 10, gamma: float = 0.5, patience: int | None = None,
                 grad_clip: float | None = None, out_dir: str | os.PathLike | None = None,
                 config: Mapping | None = None, reporter: Reporter | None = None,
                 modulation: str | None = None, ogm_alpha: float = 0.5,
                 aux_weight: float | None = None,
                 warmup_epochs: int = 0, monitor_samples: int = 256):
        self.model = model
        self.train_data, self.val_data = train_data, val_data
        multimodal = all(hasattr(model, a) for a in ("modalities", "encode", "fusion", "head"))
        # the defaults (None): the measured remedy for a model with several modalities on one
        # process (benchmarks/COLLAPSE.md), nothing otherwise
        fits = multimodal and len(model.modalities) > 1 and not DataParallelPlan().parallel
        if modulation is None:
            modulation = balance.DEFAULT_MODULATION if fits else "none"
        if aux_weight is None:
            aux_weight = balance.DEFAULT_AUX_WEIGHT if fits else 0.0
        balance.check_options("Trainer", modulation, ogm_alpha, aux_weight, warmup_epochs,
                              monitor_samples)
        self.modulation, self.ogm_alpha = modulation, float(ogm_alpha)
        self.aux_weight, self.warmup_epochs = float(aux_weight), int(warmup_epochs)
        self.monitor_samples = int(monitor_samples)
        if (modulation != "none" or aux_weight > 0 or warmup_epochs > 0) and not multimodal:
            raise ValueError("Trainer: modulation, aux_weight and warmup_epochs need a "
                             f"MultimodalClassifier, got {type(model).__name__}")
        self._multimodal = multimodal
        self.base_dropout = float(getattr(model, "modality_dropout", 0.0))
        self.aux = balance.aux_heads(model) if aux_weight > 0 else None
        self.collapse_warning: str | None = None
        self.epochs = _positive("epochs", epochs, int)
        self.batch_size = _positive("batch_size", batch_size, int)
        self.lr = _positive("lr", lr)
        self.patience = None if patience is None else _positive("patience", patience, int)
        self.grad_clip = None if grad_clip is None else _positive("grad_clip", grad_clip)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Trainer: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"Trainer: scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        params = list(model.parameters()) + ([] if self.aux is None else list(self.aux.parameters()))
        self.optimizer = make_optimizer(optimizer, params, self.lr,
                                        _positive("weight_decay", weight_decay, allow_zero=True),
                                        _positive("momentum", momentum, allow_zero=True))
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.scheduler_name = scheduler
        self.step_size = _positive("step_size", step_size, int)
        self.gamma = _positive("gamma", gamma)
        self.scheduler = make_scheduler(scheduler, self.optimizer, self.epochs, self.step_size,
                                        self.gamma)
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.plan = DataParallelPlan()  # see train/parallel.py: a world of one changes nothing
        self.net = self.plan.wrap(model)
        if self.plan.parallel and (modulation != "none" or aux_weight > 0):
            raise ValueError("Trainer: modulation and aux_weight are not supported with MPI data "
                             "parallelism yet; use warmup_epochs or run on one process")
        self.reporter = reporter if reporter is not None else Reporter()
        if not self.plan.is_main:
            self.reporter = Reporter(quiet=True)  # only rank 0 talks
        self._sampler_seed = self.plan.shared_seed(
            int(generator().integers(2**31)) if self.plan.parallel else 0)
        self.config = {
            "trainer": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                        "optimizer": optimizer, "weight_decay": float(weight_decay),
                        "momentum": float(momentum), "scheduler": scheduler,
                        "step_size": int(step_size), "gamma": float(gamma),
                        "patience": self.patience, "grad_clip": self.grad_clip,
                        "modulation": modulation, "ogm_alpha": self.ogm_alpha,
                        "aux_weight": self.aux_weight, "warmup_epochs": self.warmup_epochs,
                        "monitor_samples": self.monitor_samples},
            **dict(config or {}),
        }
        self.history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
        self.epoch = 0                  # epochs completed
        self.best_accuracy = -1.0
        self.best_epoch = 0
        self.bad_epochs = 0             # epochs since the best one (early stopping)
        self.stopped_early = False

    # ------------------------------------------------------------------ paths and state
    @property
    def last_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "last.npz"

    @property
    def best_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "best.npz"

    def state_dict(self) -> dict:
        """Everything a checkpoint holds (see the module docstring)."""
        return {
            "format": CHECKPOINT_FORMAT, "version": 1, "epoch": self.epoch,
            "model": dict(self.model.state_dict()),
            "aux_heads": None if self.aux is None else dict(self.aux.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "config": self.config, "history": self.history,
            "best": {"accuracy": self.best_accuracy, "epoch": self.best_epoch,
                     "bad_epochs": self.bad_epochs},
            "rng": generator().bit_generator.state,
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Continue the run a checkpoint holds, under this Trainer's own settings.

        Weights, optimizer moments, epoch, history, early-stopping state and the random
        generator come from ``state``. The settings this Trainer was built with win over the
        checkpoint's: ``epochs`` may extend the run (a cosine schedule is stretched to the
        new length), ``lr`` becomes the new base learning rate from the next epoch on (the
        schedule continues at the same epoch), ``weight_decay`` and ``patience`` apply from
        the next step. With unchanged settings the run continues bit for bit as if it had
        never stopped.
        """
        if not isinstance(state, Mapping) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("Trainer.resume: not a tinymm training checkpoint")
        missing = [k for k in ("model", "optimizer", "epoch", "history", "best", "rng")
                   if k not in state]
        if missing:
            raise ValueError(f"Trainer.resume: the checkpoint lacks {missing}")
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"Trainer.resume: the checkpoint's epoch is {epoch!r}, not an int >= 0")
        if int(epoch) > self.epochs:
            raise ValueError(f"Trainer.resume: the checkpoint has already trained {int(epoch)} "
                             f"epochs, more than epochs={self.epochs}")
        history, best, rng = self._check_progress(state)
        # load the model and the optimizer together or not at all
        weights = {k: np.array(v, copy=True) for k, v in self.model.state_dict().items()}
        if (self.aux is None) != (state.get("aux_heads") is None):
            raise ValueError("Trainer.resume: the checkpoint was trained "
                             f"{'without' if self.aux is not None else 'with'} auxiliary heads "
                             f"(aux_weight); resume with aux_weight="
                             f"{'0' if self.aux is not None else 'its value'}")
        self.model.load_state_dict(state["model"])
        try:
            if self.aux is not None:
                self.aux.load_state_dict(state["aux_heads"])
            self.optimizer.load_state_dict(state["optimizer"])
        except BaseException:
            self.model.load_state_dict(weights)
            raise
        self.epoch = int(epoch)
        saved = state.get("config", {}).get("trainer", {}) if isinstance(
            state.get("config"), Mapping) else {}
        saved = saved if isinstance(saved, Mapping) else {}
        for group in self.optimizer.param_groups:
            group["weight_decay"] = self.weight_decay
        same_schedule = (saved.get("lr") == self.lr and saved.get("scheduler") == self.scheduler_name
                         and (self.scheduler_name != "cosine" or saved.get("epochs") == self.epochs))
        if same_schedule and self.scheduler is not None and isinstance(state.get("scheduler"), dict):
            self.scheduler.load_state_dict(state["scheduler"])
        elif not same_schedule or self.scheduler is not None:
            self._restart_schedule()
        self.history = history
        self.best_accuracy, self.best_epoch, self.bad_epochs = best
        self.stopped_early = self.patience is not None and self.bad_epochs >= self.patience
        generator().bit_generator.state = rng

    @staticmethod
    def _check_progress(state: Mapping) -> tuple[dict, tuple[float, int, int], dict]:
        """The history, (best accuracy, best epoch, bad epochs) and generator state of a
        checkpoint, checked before anything is loaded."""
        history = state["history"]
        if not isinstance(history, Mapping) or not all(
                isinstance(history.get(k, []), list) for k in HISTORY_KEYS):
            raise ValueError("Trainer.resume: the checkpoint's history is not a dict of lists")
        done = len(history.get("epoch", []))
        history = {k: list(history.get(k, [])) for k in HISTORY_KEYS}
        for k in LATER_KEYS:  # a checkpoint from before these keys: None for its epochs
            if len(history[k]) < done:
                history[k] = [None] * (done - len(history[k])) + history[k]
        best = state["best"]
        try:
            progress = (float(best["accuracy"]), int(best["epoch"]), int(best["bad_epochs"]))
        except (TypeError, KeyError, ValueError):
            raise ValueError("Trainer.resume: the checkpoint's 'best' entry is not a dict with "
                             "accuracy, epoch and bad_epochs") from None
        rng = state["rng"]
        try:  # try it on a spare generator first
            type(generator().bit_generator)().state = rng
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"Trainer.resume: the checkpoint's random state is invalid "
                             f"({type(exc).__name__}: {exc})") from None
        return history, progress, rng

    def _restart_schedule(self) -> None:
        """The learning rate of epoch ``self.epoch + 1`` under this Trainer's lr and schedule."""
        for group in self.optimizer.param_groups:
            group["initial_lr"] = group["lr"] = self.lr
        if self.scheduler_name == "none":
            self.scheduler = None
            return
        self.scheduler = make_scheduler(self.scheduler_name, self.optimizer, self.epochs,
                                        self.step_size, self.gamma, last_epoch=self.epoch - 1)
        lrs = self.scheduler._get_closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self.scheduler._last_lr = list(lrs)

    def resume(self, path: str | os.PathLike | None = None) -> Trainer:
        """Load a checkpoint (default ``out_dir/last.npz``); ``fit`` then continues from it."""
        path = Path(path) if path is not None else self.last_path
        if path is None:
            raise ValueError("Trainer.resume: give a checkpoint path or an out_dir")
        self.load_state_dict(load(path))
        self.reporter.log(f"resumed from {path} after epoch {self.epoch}")
        return self

    def _save(self, path: Path) -> None:
        if self.plan.is_main:  # rank 0 writes; the others wait until the file is there
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save(self.state_dict(), path)
        self.plan.barrier()

    # ------------------------------------------------------------------ loops
    def _current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_epoch(self) -> tuple[float, float]:
        """One pass over the training data; returns (mean loss, accuracy) of the fused model
        (under modality dropout; with auxiliary heads the loss optimised is the blended one)."""
        self.model.train()
        loader = self.plan.train_loader(self.train_data, self.batch_size, self.epoch,
                                        self._sampler_seed)
        bar = self.reporter.bar(len(loader), f"epoch {self.epoch + 1}/{self.epochs}")
        total_loss, correct, seen = 0.0, 0, 0
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        custom = self.modulation != "none" or self.aux is not None
        ks = []
        captured: dict = {}
        handle = None
        if custom:  # the fusion's inputs: each modality's features and the mask it used
            if self.aux is not None:
                self.aux.train()

            def capture(module, args, output):
                if "features" not in captured:
                    captured["features"], captured["mask"] = args[0], np.asarray(args[1])

            handle = self.model.fusion.register_forward_hook(capture)
        try:
            for step, batch in enumerate(loader, start=1):
                # overflow on the way to a non-finite loss is reported once, below, not as
                # a stream of NumPy warnings from every kernel it passes through
                k = None
                with np.errstate(over="ignore", invalid="ignore"):
                    captured.clear()
                    logits = self.net(batch)
                    if custom and "features" in captured:
                        loss, k, fused = self._balanced_loss(logits, captured, batch["label"])
                    else:
                        loss = fused = F.cross_entropy(logits, batch["label"])
                value = float(loss.item())
                if self.plan.any(not math.isfinite(value)):  # every rank stops together
                    raise NonFiniteLossError(self._nan_message(value, step))
                self.optimizer.zero_grad()
                loss.backward()
                if k is not None:
                    ks.append(k)
                    balance.modulate_gradients(
                        [list(self.model.encoders[m].parameters()) for m in self.model.modalities],
                        k, generator())
                if self.grad_clip is not None:
                    clip_grad_norm(params, self.grad_clip)
                self.optimizer.step()
                n = len(batch["label"])
                total_loss += float(fused.item()) * n  # the fused model's loss, as in validation
                correct += int((logits.data.argmax(axis=1) == batch["label"]).sum())
                seen += n
                bar.set_postfix_str(f"loss {total_loss / seen:.4f} acc {correct / seen:.3f}",
                                   refresh=False)  # the bar redraws at its own pace
                bar.update(1)
        finally:
            bar.close()
            if handle is not None:
                handle.remove()
        total_loss, correct, seen = self.plan.sums(total_loss, correct, seen)
        self._epoch_ogm = (None if not ks else
                           dict(zip(self.model.modalities, np.mean(ks, axis=0).tolist())))
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def _balanced_loss(self, logits, captured: dict, labels):
        """(loss, OGM coefficients or None, fused cross-entropy) of one training batch, from
        the fused logits and
        the fusion's inputs (captured by a forward hook, so the model runs its own forward):
        the blended loss with the auxiliary heads (gradient blending), and the per-modality
        confidences of OGM (the fused model with all but one modality masked, from the same
        encodings, without gradient)."""
        model, labels = self.model, np.asarray(labels)
        feats, mask = list(captured["features"]), captured["mask"]
        fused = F.cross_entropy(logits, labels)
        loss = fused
        if self.aux is not None:
            aux_logits = [None if f is None else head(balance.pooled(f))
                          for f, head in zip(feats, self.aux)]
            loss, _ = balance.blended_loss(logits, aux_logits, labels, mask, self.aux_weight)
        k = None
        if self.modulation == "ogm":
            conf = []
            with no_grad():
                for j in range(len(model.modalities)):
                    rows = np.flatnonzero(mask[:, j])
                    if rows.size == 0:
                        conf.append(0.0)
                        continue
                    only = np.zeros_like(mask)
                    only[:, j] = mask[:, j]
                    single = model.head(model.fusion(feats, only)).data[rows]
                    conf.append(balance.modality_confidence(single, labels[rows]) / rows.size)
            # non-finite logits: no modulation; the loss check stops the run right after
            k = balance.ogm_coefficients(conf, self.ogm_alpha) if np.isfinite(conf).all() else None
        return loss, k, fused

    def _nan_message(self, value: float, step: int) -> str:
        if self.last_path is not None and self.last_path.exists():
            kept = f"The last good checkpoint {self.last_path} (epoch {self.epoch}) is intact"
        else:
            kept = "No checkpoint had been written yet"
        return (f"Trainer: the training loss became {value} at epoch {self.epoch + 1}, step "
                f"{step}; stopping before the update. {kept}. Try a lower learning rate "
                f"(now {self._current_lr():g}) or grad_clip.")

    def evaluate(self, dataset, batch_size: int | None = None) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the model in eval mode on ``dataset``."""
        self.model.eval()
        share = self.plan.eval_share(dataset)  # this rank's samples (all, in a world of one)
        loader = _batch_loader(share, batch_size or max(self.batch_size, 256), shuffle=False)
        total_loss, correct, count = 0.0, 0, 0
        with no_grad():
            for batch in loader:
                logits = self.model(batch)
                total_loss += float(F.cross_entropy(logits, batch["label"],
                                                    reduction="sum").item())
                correct += int((logits.data.argmax(axis=1) == batch["label"]).sum())
                count += len(batch["label"])
        total_loss, correct, count = self.plan.sums(total_loss, correct, count)
        return total_loss / max(count, 1), correct / max(count, 1)

    def fit(self, restore_best: bool = True) -> dict[str, list]:
        """Train from epoch ``self.epoch + 1`` to ``epochs``; return the history.

        With ``restore_best`` the model ends with the weights of the best validation epoch
        (when there is validation data and a best checkpoint).
        """
        while self.epoch < self.epochs and not self.stopped_early:
            start = time.perf_counter()
            lr = self._current_lr()
            dropout = None
            if self._multimodal:
                dropout = balance.warmup_dropout(self.epoch, self.warmup_epochs, self.base_dropout)
                self.model.modality_dropout = dropout
            self._epoch_ogm = None
            try:
                train_loss, train_acc = self.train_epoch()
            finally:
                if self._multimodal:
                    self.model.modality_dropout = self.base_dropout
            val_loss, val_acc = (float("nan"), float("nan"))
            if self.val_data is not None:
                val_loss, val_acc = self.evaluate(self.val_data)
            clean, contrib = self._monitor()
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            seconds = time.perf_counter() - start
            for key, value in zip(HISTORY_KEYS, (self.epoch, train_loss, train_acc, val_loss,
                                                 val_acc, lr, seconds, clean, contrib, dropout,
                                                 self._epoch_ogm)):
                self.history[key].append(value)
            improved = self.val_data is None or val_acc > self.best_accuracy
            if improved:
                self.best_accuracy = val_acc if self.val_data is not None else train_acc
                self.best_epoch, self.bad_epochs = self.epoch, 0
            else:
                self.bad_epochs += 1
            if self.out_dir is not None:
                self._save(self.last_path)
                if improved:
                    self._save(self.best_path)
            self.reporter.log(self._epoch_line(train_loss, train_acc, val_loss, val_acc,
                                               seconds, improved))
            self._check_collapse()
            if self.patience is not None and self.bad_epochs >= self.patience:
                self.stopped_early = True
                self.reporter.log(f"early stopping: no better validation accuracy for "
                                  f"{self.patience} epochs (best {self.best_accuracy:.4f} at "
                                  f"epoch {self.best_epoch})")
        self.collapse_warning = self._collapse_message(self.history["val_contribution"])
        if restore_best and self.val_data is not None and self.best_path is not None \
                and self.best_path.exists() and self.best_epoch != self.epoch:
            self.model.load_state_dict(load(self.best_path)["model"])
        return self.history

    def _monitor(self) -> tuple[float | None, dict | None]:
        """(clean training accuracy, validation contributions) of this epoch, or None."""
        if self.monitor_samples == 0 or not self._multimodal or self.plan.parallel:
            return None, None
        clean = clean_accuracy(self.model, self.train_data, self.monitor_samples)
        contrib = None
        if self.val_data is not None and len(self.model.modalities) > 1:
            contrib = contributions(self.model, self.val_data, self.monitor_samples)
        return clean, contrib

    @property
    def detect_after(self) -> int:
        """Epochs of warm-up before collapse is judged: the modality warm-up, and at least 3."""
        return max(3, self.warmup_epochs + 1)

    def _collapse_message(self, contribs: list) -> str | None:
        """The warning when the last two epochs (both after the warm-up) were collapsed."""
        if len(contribs) < 2 or self.epoch < self.detect_after + 1:
            return None
        messages = []
        for c in contribs[-2:]:
            if not c:
                return None
            singles = {m: c[m] for m in self.model.modalities}
            messages.append(balance.contribution_warning(c["all"], singles, int(c["n"]),
                                                         advice=self._advice()))
        return messages[-1] if all(messages) else None

    def _advice(self) -> str:
        """The remedies this run does not use yet, in `tinymm train`'s flags."""
        tips = []
        if self.aux is None:
            tips.append("auxiliary heads (--aux-weight 1)")
        if self.modulation == "none":
            tips.append("gradient modulation (--modulation ogm)")
        if self.warmup_epochs == 0:
            tips.append("a modality warm-up (--warmup-epochs 4)")
        tips.append("another --seed")
        return "Try " + ", ".join(tips[:-1]) + (" or " if len(tips) > 1 else "") + tips[-1] + "."

    def _check_collapse(self) -> None:
        message = self._collapse_message(self.history["val_contribution"])
        if message and not getattr(self, "_warned", False):
            self._warned = True
            self.reporter.log(f"warning: after epoch {self.epoch}, {message}")

    def _epoch_line(self, tl, ta, vl, va, seconds, improved) -> str:
        line = f"epoch {self.epoch:>3}/{self.epochs}  train loss {tl:.4f} acc {ta:.3f}"
        clean = self.history["train_accuracy_clean"][-1]
        if clean is not None:
            line += f" (clean {clean:.3f})"
        if self.val_data is not None:
            line += f"  val loss {vl:.4f} acc {va:.3f}" + (" *" if improved else "")
        contrib = self.history["val_contribution"][-1]
        if contrib:
            line += "  alone: " + " ".join(f"{m} {contrib[m]:.2f}" for m in self.model.modalities)
        return line + f"  ({seconds:.1f} s)"
