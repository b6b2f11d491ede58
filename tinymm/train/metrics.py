"""Classification metrics on integer predictions: accuracy, confusion matrix, macro-F1."""

from __future__ import annotations

import numpy as np


def _check(fn: str, pred, target) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"{fn}: pred and target must be 1-D of one length, got shapes "
                         f"{p.shape} and {t.shape}")
    if p.dtype.kind not in "iu" or t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: pred and target must hold integer classes, got dtypes "
                        f"{p.dtype} and {t.dtype}")
    return p.astype(np.int64), t.astype(np.int64)


def accuracy(pred, target) -> float:
    """Fraction of predictions equal to the target (0.0 for an empty set)."""
    p, t = _check("accuracy", pred, target)
    return float((p == t).mean()) if t.size else 0.0


def confusion_matrix(pred, target, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    p, t = _check("confusion_matrix", pred, target)
    if t.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: classes must lie in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def f1_per_class(confusion: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) per class (0 where a class never occurs nor is predicted)."""
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(pred, target, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes that occur in target or pred."""
    cm = confusion_matrix(pred, target, num_classes)
    seen = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1_per_class(cm)[seen].mean()) if seen.any() else 0.0
