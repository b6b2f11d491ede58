"""Evaluation: metrics, the modality ablation table, robustness curves and the JSON report.

The ablation evaluates one trained model on every non-empty subset of its modalities by
masking the others (the mask is all the model sees of a missing modality), next to the
dataset's Bayes-optimal ceiling for that subset. A model trained with modality dropout
should come close to each subset's ceiling; the gap says how much is left to learn.

Every accuracy is a count on a finite split, so each row carries its 95 % Clopper-Pearson
interval; the ceiling's kind ("exact" for token channels, "upper bound" where noise is
rendered), the additive (late-fusion) ceiling, and the *realised* oracle accuracy (the Bayes
rule applied to this split's hidden variables, counted on this split, with its interval).
A gap whose ceiling lies inside the accuracy's interval is within sampling error.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor
from .metrics import accuracy, binomial_interval, confusion_matrix, macro_f1

NOISE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def subset_name(subset: Iterable[str]) -> str:
    """Canonical name of a modality subset: sorted names joined by '+'."""
    return "+".join(sorted(subset))


def all_subsets(modalities: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``modalities``, smallest first, in the modalities' order.

    >>> all_subsets(("image", "text", "audio"))
    [('image',), ('text',), ('audio',), ('image', 'text'), ('image', 'audio'),
     ('text', 'audio'), ('image', 'text', 'audio')]
    """
    return [c for r in range(1, len(modalities) + 1)
            for c in itertools.combinations(modalities, r)]


def _loader(dataset, batch_size: int):
    from ..data.loader import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def predict(model, dataset, batch_size: int = 256, subset: Iterable[str] | None = None,
            transform: Callable[[dict], dict] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, C) and labels (N,) of ``model`` (in eval mode) over ``dataset``.

    subset: the modalities left present; the others are masked in every sample (on top of
    the dataset's own mask). transform: applied to each batch first (e.g. added noise).

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_model(ds)
    >>> logits, labels = predict(model, ds, batch_size=8)
    >>> logits.shape, labels.shape
    ((16, 12), (16,))
    """
    modalities = model.modalities
    keep = None
    if subset is not None:
        subset = set(subset)
        unknown = subset - set(modalities)
        if unknown:
            raise ValueError(f"predict: subset names unknown modalities {sorted(unknown)}; "
                             f"the model has {modalities}")
        keep = np.array([m in subset for m in modalities])
    was_training = model.training
    model.eval()
    logits, labels = [], []
    try:
        with no_grad():
            for batch in _loader(dataset, batch_size):
                if transform is not None:
                    batch = transform(batch)
                mask = model.presence(batch)
                if keep is not None:
                    mask = mask & keep
                logits.append(model(batch, mask).data)
                labels.append(np.asarray(batch["label"]))
    finally:
        model.train(was_training)
    return np.concatenate(logits), np.concatenate(labels)


def scores(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """accuracy, macro_f1, loss (mean cross-entropy) and the confusion matrix.

    Takes logits (N, C) and integer labels (N,); also returns "correct", "n" and the 95 %
    Clopper-Pearson "accuracy_interval" of the accuracy.

    >>> logits = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> s = scores(logits, np.array([0, 1, 1]), num_classes=2)
    >>> round(s["accuracy"], 3), s["correct"], s["n"], s["confusion"].tolist()
    (0.667, 2, 3, [[1, 0], [1, 1]])
    """
    pred = logits.argmax(axis=1)
    loss = float(F.cross_entropy(Tensor._wrap(logits), labels).item()) if len(labels) else 0.0
    correct = int((pred == np.asarray(labels)).sum())
    return {"accuracy": accuracy(pred, labels), "macro_f1": macro_f1(pred, labels, num_classes),
            "loss": loss, "confusion": confusion_matrix(pred, labels, num_classes),
            "correct": correct, "n": int(len(labels)),
            "accuracy_interval": list(binomial_interval(correct, len(labels))) if len(labels)
            else [0.0, 1.0]}


def evaluate(model, dataset, batch_size: int = 256, subset: Iterable[str] | None = None) -> dict:
    """``scores`` of the model on ``dataset`` (optionally with only ``subset`` present).

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_model(ds)
    >>> s = evaluate(model, ds, subset=["image"])
    >>> s["n"], s["confusion"].shape, 0.0 <= s["accuracy"] <= 1.0
    (16, (12, 12), True)
    """
    logits, labels = predict(model, dataset, batch_size, subset)
    return scores(logits, labels, dataset.num_classes)


def _lookup(table, name: str):
    value = table.get(name) if hasattr(table, "get") else None
    return None if value is None else (value if isinstance(value, str) else float(value))


def ablation(model, dataset, batch_size: int = 256) -> list[dict]:
    """Accuracy on every modality subset, next to the dataset's ceiling for it.

    Rows (smallest subsets first): {"subset", "accuracy", "macro_f1", "ceiling", "gap"}
    with gap = ceiling - accuracy (None where the dataset states no ceiling), and
    "correct", "n", "accuracy_interval" ([low, high], 95 % Clopper-Pearson),
    "ceiling_kind" ("exact" / "upper bound" / None), "additive_ceiling" (late fusion's
    ceiling, or None), "oracle_accuracy" and "oracle_interval" (the Bayes rule on this split's
    latents, or None without them) and "within_error" (True when the ceiling lies inside the
    accuracy's interval, so the gap is within sampling error; None without a ceiling).

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_model(ds)
    >>> rows = ablation(model, ds)
    >>> [r["subset"] for r in rows], rows[-1]["ceiling"] is not None
    (['image', 'text', 'image+text'], True)
    """
    ceilings = getattr(dataset, "ceilings", None) or {}
    kinds = getattr(dataset, "ceiling_kinds", None) or {}
    additive = getattr(dataset, "additive_ceilings", None) or {}
    oracle = getattr(dataset, "oracle_accuracy", None)
    rows = []
    for subset in all_subsets(model.modalities):
        s = evaluate(model, dataset, batch_size, subset)
        name = subset_name(subset)
        ceiling = _lookup(ceilings, name)
        lo, hi = s["accuracy_interval"]
        counts = oracle(subset) if callable(oracle) else None
        rows.append({
            "subset": name, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
            "ceiling": ceiling, "gap": None if ceiling is None else ceiling - s["accuracy"],
            "correct": s["correct"], "n": s["n"], "accuracy_interval": [lo, hi],
            "ceiling_kind": _lookup(kinds, name) if ceiling is not None else None,
            "additive_ceiling": _lookup(additive, name),
            "oracle_accuracy": None if counts is None else counts[0] / counts[1],
            "oracle_interval": None if counts is None else list(binomial_interval(*counts)),
            "within_error": None if ceiling is None else bool(lo <= ceiling <= hi),
        })
    return rows


def _fmt_interval(interval) -> str:
    return "-" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def format_ablation(rows: Sequence[Mapping], chance: float | None = None) -> str:
    """The ablation rows as a Markdown table (also readable as plain text).

    Columns: accuracy and its 95 % interval, the ceiling with its kind ("exact" or "upper
    bound"), the additive (late-fusion) ceiling, the realised oracle accuracy on this split,
    the gap to the ceiling (marked "~" when within sampling error) and macro-F1. Rows from an
    older report (without the interval keys) print "-" in the new columns.

    >>> rows = [{"subset": "image", "accuracy": 0.5, "macro_f1": 0.4, "ceiling": None,
    ...          "gap": None}]
    >>> table = format_ablation(rows).splitlines()
    >>> table[0].split("|")[1:4]
    [' modalities ', ' accuracy (95 % CI)    ', ' ceiling ']
    >>> [cell.strip() for cell in table[2].split("|")[1:-1]]
    ['image', '0.5000 -', '-', '-', '-', '-', '-', '0.4000']
    """
    width = max(len("modalities"), *(len(r["subset"]) for r in rows))
    lines = [f"| {'modalities':<{width}} | accuracy (95 % CI)    | ceiling | kind        "
             f"| additive | split oracle | gap     | macro-F1 |",
             f"|{'-' * (width + 2)}|-----------------------|---------|-------------"
             f"|----------|--------------|---------|----------|"]
    for r in rows:
        ceil = "   -   " if r["ceiling"] is None else f"{r['ceiling']:.4f} "
        kind = r.get("ceiling_kind") or "-"
        add = "   -    " if r.get("additive_ceiling") is None else f"{r['additive_ceiling']:.4f}  "
        orc = "     -      " if r.get("oracle_accuracy") is None else \
            f"{r['oracle_accuracy']:.4f}      "
        mark = "~" if r.get("within_error") else " "
        gap = "   -   " if r["gap"] is None else f"{r['gap']:+.3f}{mark}"
        lines.append(f"| {r['subset']:<{width}} | {r['accuracy']:.4f} "
                     f"{_fmt_interval(r.get('accuracy_interval')):<14} | {ceil} | {kind:<11} "
                     f"| {add} | {orc} | {gap} | {r['macro_f1']:.4f}   |")
    n = rows[0].get("n") if rows else None
    notes = []
    if n:
        notes.append(f"{n} samples; ~ = the ceiling lies inside the accuracy's 95 % interval "
                     f"(gap within sampling error)")
    if chance is not None:
        notes.append(f"chance: {chance:.4f}")
    if notes:
        lines.append("(" + "; ".join(notes) + ")")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- robustness
def robustness_curve(model, dataset, modality: str, levels: Sequence[float] = NOISE_LEVELS,
                     batch_size: int = 256, seed: int = 0) -> list[dict]:
    """Accuracy as the noise on one modality grows (all modalities present).

    Noise as ``tinymm.data.add_noise``: float modalities get Gaussian noise of std
    level x (the modality's std), token ids are replaced by random words with probability
    level. Rows: {"level", "accuracy"}. The noise comes from a generator seeded with
    ``seed``, so tinymm's global generator is untouched and the curve is repeatable.

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_model(ds)
    >>> curve = robustness_curve(model, ds, "text", levels=(0.0, 1.0))
    >>> [r["level"] for r in curve], all(0 <= r["accuracy"] <= 1 for r in curve)
    ([0.0, 1.0], True)
    """
    from ..data import add_noise

    if modality not in model.modalities:
        raise ValueError(f"robustness_curve: unknown modality {modality!r}; the model has "
                         f"{model.modalities}")
    rows = []
    for level in levels:
        noisy = dataset if level == 0 else add_noise(dataset, modality, float(level), seed=seed)
        logits, labels = predict(model, noisy, batch_size)
        rows.append({"level": float(level), "accuracy": accuracy(logits.argmax(1), labels)})
    return rows


# ----------------------------------------------------------------------------- report
def build_report(model, dataset, *, history: Mapping | None = None, config: Mapping | None = None,
                 batch_size: int = 256, robustness: bool = True,
                 levels: Sequence[float] = NOISE_LEVELS) -> dict:
    """Everything about a trained model on one dataset split, as a JSON-ready dict.

    Keys: dataset, num_samples, num_classes, class_names, modalities, num_parameters,
    accuracy, macro_f1, loss, accuracy_interval, confusion_matrix, ablation, chance, and
    robustness / history / config when asked for.

    >>> from tinymm.data import get_dataset
    >>> from tinymm.models import build_model
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_model(ds)
    >>> report = build_report(model, ds, robustness=False)
    >>> report["num_samples"], report["modalities"], len(report["ablation"])
    (16, ['image', 'text'], 3)
    """
    full = evaluate(model, dataset, batch_size)
    report = {
        "dataset": getattr(dataset, "name", None),
        "num_samples": len(dataset),
        "num_classes": dataset.num_classes,
        "class_names": list(getattr(dataset, "class_names", ()) or ()),
        "modalities": list(model.modalities),
        "num_parameters": int(model.num_parameters()),
        "accuracy": full["accuracy"], "macro_f1": full["macro_f1"], "loss": full["loss"],
        "accuracy_interval": full["accuracy_interval"],
        "confusion_matrix": full["confusion"].tolist(),
        "ablation": ablation(model, dataset, batch_size),
    }
    chance = getattr(dataset, "chance", None)
    report["chance"] = float(chance) if chance is not None else None
    if robustness:
        report["robustness"] = {m: robustness_curve(model, dataset, m, levels, batch_size)
                                for m in model.modalities}
    if history is not None:
        report["history"] = {k: list(v) for k, v in history.items()}
    if config is not None:
        report["config"] = dict(config)
    return report


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # JSON has no NaN
    return obj


def write_report(report: Mapping, path: str | os.PathLike) -> None:
    """Write ``report`` as indented JSON (NaN becomes null).

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "report.json")
    >>> write_report({"accuracy": 0.5, "loss": float("nan"), "cm": np.eye(2, dtype=int)}, path)
    >>> json.load(open(path))
    {'accuracy': 0.5, 'loss': None, 'cm': [[1, 0], [0, 1]]}
    """
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(report), f, indent=2)
        f.write("\n")
