"""Contrastive alignment of modality encoders on unlabelled pairs (InfoNCE, CLIP-style).

    encoders = pretrain_encoders(train_set, seed=0)      # labels are never read
    model = build_model(train_set, "concat"); encoders.load_into(model)

The rule (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision", CLIP; the loss is InfoNCE, van den Oord et al. 2018): for a batch of B pairs,
each modality's pooled encoder output h_m (B, D_m) goes through a linear projection head to
z_m (B, d), normalised to unit length per row; with a learnable temperature t (stored as
``logit_scale`` = log(1/t), initialised at log(1/0.07) and kept <= log(100) as in CLIP) the
similarities are S = exp(logit_scale) * z_a z_b^T (B, B), and

    loss(a, b) = ( CE(S, [0..B-1]) + CE(S^T, [0..B-1]) ) / 2

(cross-entropy over rows: image i must pick its own caption among the B; over columns: the
caption must pick its image). With more than two modalities the loss is the mean over every
pair. Chance level is log(B): a loss below it means the encoders have aligned the pairs.
Samples missing either modality of a pair are left out of that pair's loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .. import functional as F
from .. import nn
from ..tensor import Tensor

INIT_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = math.log(100.0)


def _normalize(z: Tensor, eps: float = 1e-12) -> Tensor:
    """Rows of ``z`` (B, d) scaled to unit L2 norm."""
    return z / z.norm(dim=1, keepdim=True).clamp(min=eps)


def info_nce(za: Tensor, zb: Tensor, logit_scale) -> Tensor:
    """Symmetric InfoNCE loss of paired embeddings (see the module docstring).

    za, zb: (B, d) Tensors (row i of each is one pair; normalised here), B >= 2.
    logit_scale: a scalar or one-element Tensor, log of the inverse temperature.
    Returns a 0-d Tensor: the mean of the two directions' cross-entropies.
    """
    fn = "info_nce"
    if not isinstance(za, Tensor) or not isinstance(zb, Tensor):
        raise TypeError(f"{fn}: za and zb must be Tensors, got {type(za).__name__} and "
                        f"{type(zb).__name__}")
    if za.ndim != 2 or za.shape != zb.shape:
        raise ValueError(f"{fn}: za and zb must be (B, d) of the same shape, got {tuple(za.shape)} "
                         f"and {tuple(zb.shape)}")
    if za.shape[0] < 2:
        raise ValueError(f"{fn}: needs at least 2 pairs (the others are the negatives), got "
                         f"{za.shape[0]}")
    if not isinstance(logit_scale, Tensor):
        value = float(logit_scale)
        if not math.isfinite(value):
            raise ValueError(f"{fn}: logit_scale must be finite, got {logit_scale!r}")
        logit_scale = Tensor._wrap(np.array(value, dtype=za.data.dtype))
    elif logit_scale.numel() != 1:
        raise ValueError(f"{fn}: logit_scale must hold one value, got shape "
                         f"{tuple(logit_scale.shape)}")
    scale = logit_scale.reshape(()).exp()
    sim = (_normalize(za) @ _normalize(zb).T) * scale                      # (B, B)
    target = np.arange(za.shape[0], dtype=np.int64)
    return (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target)) * 0.5


class ContrastiveAligner(nn.Module):
    """Projection heads and a learnable temperature over a dict of (shared) encoders.

    encoders: modality -> encoder Module with ``out_features`` (the same objects as a
    model's, so training the aligner trains them). dim: projection size.
    ``forward(batch)`` returns the mean InfoNCE loss over every pair of modalities.
    """

    def __init__(self, encoders: Mapping[str, nn.Module], dim: int = 64,
                 temperature: float = INIT_TEMPERATURE):
        super().__init__()
        if not isinstance(encoders, Mapping) or len(encoders) < 2:
            raise ValueError("ContrastiveAligner: needs a dict of at least two modality "
                             f"encoders, got {type(encoders).__name__} of "
                             f"{len(encoders) if isinstance(encoders, Mapping) else 0}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"ContrastiveAligner: dim must be a positive int, got {dim!r}")
        if not 0 < temperature < 1e3:
            raise ValueError(f"ContrastiveAligner: temperature must be in (0, 1000), got "
                             f"{temperature!r}")
        self.modalities = tuple(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.heads = nn.ModuleDict({m: nn.Linear(e.out_features, dim)
                                    for m, e in encoders.items()})
        self.logit_scale = nn.Parameter(Tensor._wrap(
            np.array([math.log(1.0 / temperature)], dtype=np.float32)))

    def clamp_scale(self) -> None:
        """Keep ``logit_scale`` in [0, log 100] (CLIP clips the inverse temperature at 100)."""
        np.clip(self.logit_scale.data, 0.0, MAX_LOGIT_SCALE, out=self.logit_scale.data)

    def forward(self, batch: Mapping) -> Tensor | None:
        from ..models.classifier import _as_input

        n = len(batch["label"]) if "label" in batch else len(batch[self.modalities[0]])
        mask = np.asarray(batch.get("mask", np.ones((n, len(self.modalities)), bool)))
        losses = []
        for i, a in enumerate(self.modalities):
            for j in range(i + 1, len(self.modalities)):
                b = self.modalities[j]
                rows = np.flatnonzero(mask[:, i] & mask[:, j])
                if rows.size < 2:
                    continue
                za = self.heads[a](self.encoders[a](_as_input(a, np.asarray(batch[a])[rows])))
                zb = self.heads[b](self.encoders[b](_as_input(b, np.asarray(batch[b])[rows])))
                losses.append(info_nce(za, zb, self.logit_scale))
        if not losses:
            return None
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total * (1.0 / len(losses))


class PretrainedEncoders:
    """The encoder weights after alignment, with the loss history; ``load_into(model)``."""

    def __init__(self, states: dict[str, dict], history: dict[str, list]):
        self.states = states
        self.history = history

    def load_into(self, model) -> None:
        """Copy the aligned weights into ``model.encoders`` (same architecture required)."""
        missing = [m for m in self.states if m not in model.encoders]
        if missing:
            raise ValueError(f"PretrainedEncoders.load_into: the model has no encoder for "
                             f"{missing}; it has {list(model.encoders)}")
        for m, state in self.states.items():
            model.encoders[m].load_state_dict(state)


def pretrain_encoders(dataset, *, seed: int = 0, epochs: int = 15, batch_size: int = 128,
                      lr: float = 1e-3, dim: int = 64, text_encoder: str | None = None,
                      reporter=None) -> PretrainedEncoders:
    """Align the encoders ``build_model`` makes for ``dataset`` with InfoNCE; labels unused.

    dataset: a multimodal dataset with >= 2 modalities (e.g. a whole training split).
    The encoders start from ``build_model``'s initialisation under ``manual_seed(seed)``
    and train with Adam(lr) for ``epochs`` passes in shuffled batches of ``batch_size``
    (more pairs = more negatives per anchor). Returns their weights and the per-epoch mean
    loss (``history["loss"]``, to compare with ``log(batch_size)``) and temperature.
    """
    from .. import manual_seed, optim
    from ..cli_parser import DEFAULT_TEXT_ENCODER
    from ..data.loader import DataLoader
    from ..models import build_model
    from ..train.progress import Reporter

    fn = "pretrain_encoders"
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    if batch_size < 2:
        raise ValueError(f"{fn}: batch_size must be >= 2 (the negatives), got {batch_size}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{fn}: lr must be a positive number, got {lr!r}")
    if len(getattr(dataset, "modalities", ())) < 2:
        raise ValueError(f"{fn}: the dataset needs at least two modalities, got "
                         f"{getattr(dataset, 'modalities', None)}")
    reporter = reporter if reporter is not None else Reporter(quiet=True)
    manual_seed(int(seed))
    model = build_model(dataset, "concat", text_encoder or DEFAULT_TEXT_ENCODER)
    aligner = ContrastiveAligner(dict(model.encoders.items()), dim=dim)
    opt = optim.Adam(list(aligner.parameters()), lr=lr)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        seed=int(seed))
    history: dict[str, list] = {"loss": [], "temperature": []}
    aligner.train()
    for epoch in range(epochs):
        bar = reporter.bar(len(loader), f"contrastive {epoch + 1}/{epochs}")
        total, steps = 0.0, 0
        try:
            for batch in loader:
                loss = aligner(batch)
                if loss is None:
                    continue
                opt.zero_grad()
                loss.backward()
                opt.step()
                aligner.clamp_scale()
                total += float(loss.item())
                steps += 1
                bar.update(1)
        finally:
            bar.close()
        history["loss"].append(total / max(steps, 1))
        history["temperature"].append(float(np.exp(-aligner.logit_scale.data[0])))
        reporter.log(f"contrastive epoch {epoch + 1}/{epochs}: InfoNCE {history['loss'][-1]:.4f} "
                     f"(chance log B = {math.log(batch_size):.4f}), temperature "
                     f"{history['temperature'][-1]:.4f}")
    states = {m: {k: np.array(v, copy=True) for k, v in enc.state_dict().items()}
              for m, enc in model.encoders.items()}
    return PretrainedEncoders(states, history)
