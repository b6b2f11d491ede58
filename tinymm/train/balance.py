"""Modality collapse: detect it, and the remedies the Trainer offers against it.

Joint training of a multimodal model can *collapse onto one modality*: the modality that is
easiest to learn fits the labels first, the fused head relies on it, and the others' encoders
stop receiving useful gradient (Wang et al., CVPR 2020; Peng et al., CVPR 2022; Wu et al.,
ICML 2022). This module holds the pure pieces the Trainer combines:

- **Detection** (``contribution_warning``): the fused model's accuracy on a validation
  subset next to each single modality's (the others masked). When the fused accuracy stays
  within sampling error of one modality after a warm-up, the other modalities add nothing.
- **OGM-GE** (``ogm_coefficients``, ``modulate_gradients``), on-the-fly gradient modulation
  with Gaussian enhancement (Peng et al., "Balanced multimodal learning via on-the-fly
  gradient modulation", CVPR 2022): each step, the confidence of each modality alone
  s_m = Σ_i softmax(logits_m(x_i))[y_i] sets a discrepancy ratio ρ_m = s_m / mean_{k≠m} s_k;
  a dominant modality's encoder gradients are scaled by k_m = 1 - tanh(α (ρ_m - 1)) (ρ_m > 1,
  else k_m = 1), and Gaussian noise with the gradient's own standard deviation is added to
  the modulated gradients (the "GE" part, which restores the generalisation noise the
  scaling removes).
- **Gradient blending** (``blended_loss``), after Wang et al., "What makes training
  multi-modal classification networks hard?", CVPR 2020: an auxiliary linear head per
  modality on its encoder's features, and the loss L = w_0 L_fused + Σ_m w_m L_m, so every
  encoder is trained to predict the label on its own as well. The weights are fixed
  (``aux_weight`` per modality, 1 for the fused loss) rather than estimated from the
  overfitting-to-generalisation ratio as in the paper.
- **Modality warm-up** (``warmup_dropout``): modality dropout starts high (most samples see
  one modality only, so each encoder first learns alone, as in the unimodal pre-training
  the papers compare with) and falls linearly to the run's own rate.
- **Balanced initialisation** (``balanced_init``): the tensor, low-rank and attention
  fusions re-initialised so that no modality starts silenced (see each fusion's
  ``balanced_init``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

MODULATIONS = ("none", "ogm")
# every remedy switched off: the Trainer's behaviour before issue 17
OFF_OPTIONS = {"modulation": "none", "aux_weight": 0.0, "warmup_epochs": 0}
WARMUP_START = 0.9  # modality dropout at the first warm-up epoch
# the Trainer's defaults: OGM-GE, the remedy with the fewest failed runs in
# benchmarks/COLLAPSE.md; gradient blending off
DEFAULT_MODULATION = "ogm"
DEFAULT_AUX_WEIGHT = 0.0


def check_options(fn: str, modulation: str, ogm_alpha, aux_weight, warmup_epochs,
                  monitor_samples) -> None:
    """Validate the remedy options (TypeError / ValueError naming ``fn`` and the option)."""
    if modulation not in MODULATIONS:
        raise ValueError(f"{fn}: modulation must be one of {MODULATIONS}, got {modulation!r}")
    for name, value in (("ogm_alpha", ogm_alpha), ("aux_weight", aux_weight)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{fn}: {name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value!r}")
    for name, value in (("warmup_epochs", warmup_epochs),
                        ("monitor_samples", monitor_samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{fn}: {name} must be >= 0, got {value!r}")


# ----------------------------------------------------------------------------- detection
def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy p measured on n samples: sqrt(p (1 - p) / n)."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / max(n, 1))


def contribution_warning(fused: float, singles: Mapping[str, float], n: int,
                         z: float = 2.0, advice: str | None = None) -> str | None:
    """A warning when the fused accuracy is within sampling error of one single modality.

    fused: accuracy with every modality; singles: modality -> accuracy with only it present;
    n: samples both were measured on. The difference of two accuracies measured on the same
    n samples has a standard error of at most sqrt(se_fused² + se_single²); "within sampling
    error" is fused - single < z times that. Returns None when fused is clearly above every
    single modality (or there is only one modality). ``advice`` ends the sentence (default:
    the remedies and another seed).
    """
    if len(singles) < 2:
        return None
    name, best = max(singles.items(), key=lambda kv: kv[1])
    margin = z * math.sqrt(binomial_se(fused, n) ** 2 + binomial_se(best, n) ** 2)
    if fused - best >= margin:
        return None
    others = ", ".join(f"{m} alone {a:.3f}" for m, a in singles.items() if m != name)
    return (f"the fused model ({fused:.3f}) is no better than {name} alone ({best:.3f}, within "
            f"sampling error ±{margin:.3f} on {n} validation samples; {others}): the model "
            f"has learned to rely on {name} only and ignores the other modalities "
            f"(modality collapse). "
            + (advice or "Remedies: auxiliary heads (--aux-weight 1), gradient modulation "
               "(--modulation ogm), a modality warm-up (--warmup-epochs 4), or another --seed."))


# ----------------------------------------------------------------------------- OGM-GE
def modality_confidence(logits: np.ndarray, labels: np.ndarray) -> float:
    """s = Σ_i softmax(logits_i)[y_i]: the summed probability of the true class."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return float(p[np.arange(len(labels)), labels].sum())


def ogm_coefficients(confidences: Sequence[float], alpha: float) -> np.ndarray:
    """OGM's k_m in (0, 1] from per-modality confidences s_m (Peng et al., 2022, eq. 8-9).

    ρ_m = s_m / mean_{k≠m} s_k (with two modalities the paper's s_a / s_v);
    k_m = 1 - tanh(α (ρ_m - 1)) when ρ_m > 1, else 1. Only modalities ahead of the others
    are slowed down; a modality's k never reaches 0 for a finite ratio.
    """
    s = np.asarray(confidences, dtype=np.float64)
    if s.ndim != 1 or s.size < 1:
        raise ValueError(f"ogm_coefficients: confidences must be a non-empty 1-D sequence, "
                         f"got shape {s.shape}")
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("ogm_coefficients: confidences must be finite and >= 0")
    if s.size == 1:
        return np.ones(1)
    others = (s.sum() - s) / (s.size - 1)
    ratio = s / np.maximum(others, 1e-12)
    k = np.where(ratio > 1.0, 1.0 - np.tanh(alpha * (ratio - 1.0)), 1.0)
    return np.maximum(k, np.finfo(np.float64).tiny)  # tanh rounds to 1 for huge ratios


def modulate_gradients(groups: Sequence[Sequence], coefficients: Sequence[float],
                       rng: np.random.Generator, enhance: bool = True) -> None:
    """Scale each modality's parameter gradients by its k_m, in place (OGM), and add the GE
    noise N(0, std(g)²) to every gradient whose k_m < 1 (with ``enhance``)."""
    for params, k in zip(groups, coefficients):
        if k >= 1.0:
            continue
        for p in params:
            g = p.grad
            if g is None:
                continue
            std = float(g.std()) if g.size > 1 else 0.0
            g *= g.dtype.type(k)
            if enhance and std > 0:
                g += rng.normal(0.0, std, g.shape).astype(g.dtype)


# ----------------------------------------------------------------------------- blending
def blended_loss(fused_logits, aux_logits: Sequence, labels: np.ndarray,
                 present: np.ndarray, aux_weight: float):
    """L = L_fused + aux_weight Σ_m L_m, L_m the cross-entropy of modality m's auxiliary head
    over the samples where m is present (``present`` (B, M) bool); returns (loss, [L_m])."""
    from .. import functional as F

    loss = F.cross_entropy(fused_logits, labels)
    parts = []
    for j, logits in enumerate(aux_logits):
        rows = np.flatnonzero(present[:, j])
        if logits is None or rows.size == 0:
            parts.append(None)
            continue
        part = F.cross_entropy(logits if rows.size == len(labels) else logits[rows],
                               labels[rows])
        parts.append(part)
        loss = loss + part * aux_weight
    return loss, parts


def pooled(feature):
    """A fusion input as one vector per sample: a pooled (B, D) Tensor as it is; a sequence
    fusion's (sequence (B, T, D), valid (B, T)) pair as the mean over its valid positions."""
    if not isinstance(feature, tuple):
        return feature
    seq, valid = feature
    weights = np.asarray(valid, dtype=seq.data.dtype)
    counts = np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    return (seq * (weights / counts)[:, :, None]).sum(dim=1)


def aux_heads(model):
    """One Linear(D_m, num_classes) per modality of a MultimodalClassifier (gradient blending)."""
    from .. import nn

    sizes = model.fusion.in_features
    classes = model_num_classes(model)
    return nn.ModuleList([nn.Linear(d, classes) for d in sizes])


def model_num_classes(model) -> int:
    """The number of classes a MultimodalClassifier predicts (its head's last Linear)."""
    n = getattr(model.fusion, "num_classes", None)
    if n is not None:
        return int(n)
    last = None
    for module in model.head.modules():
        if hasattr(module, "out_features") and hasattr(module, "weight"):
            last = module
    if last is None:
        raise ValueError("Trainer: cannot tell the number of classes from the model's head")
    return int(last.out_features)


# ----------------------------------------------------------------------------- schedules
def warmup_dropout(epoch: int, warmup_epochs: int, base: float) -> float:
    """Modality dropout of epoch ``epoch`` (0-based): WARMUP_START falling linearly to ``base``
    over ``warmup_epochs`` epochs, then ``base``."""
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return base
    start = max(WARMUP_START, base)
    return start + (base - start) * epoch / warmup_epochs


# ----------------------------------------------------------------------------- init
def balanced_init(model) -> bool:
    """Re-initialise the model's fusion so no modality starts silenced, when the fusion has a
    ``balanced_init`` method (tensor, low-rank, attention); returns whether it had one."""
    fusion = getattr(model, "fusion", model)
    init = getattr(fusion, "balanced_init", None)
    if init is None:
        return False
    init()
    return True
