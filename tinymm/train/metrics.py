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
    """Fraction of predictions equal to the target (0.0 for an empty set).

    ``pred`` and ``target`` are 1-D integer arrays of one length (N,); returns a float.

    >>> accuracy(np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1]))
    0.75
    """
    p, t = _check("accuracy", pred, target)
    return float((p == t).mean()) if t.size else 0.0


def confusion_matrix(pred, target, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class.

    ``pred`` and ``target`` are (N,) integer arrays with classes in [0, num_classes).

    >>> confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    array([[1, 0, 0],
           [0, 1, 0],
           [0, 1, 1]])
    """
    p, t = _check("confusion_matrix", pred, target)
    if t.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: classes must lie in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def f1_per_class(confusion: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) per class (0 where a class never occurs nor is predicted).

    Takes a (C, C) confusion matrix (rows true, columns predicted); returns (C,) float64.

    >>> cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    >>> f1_per_class(cm).round(3)
    array([1.   , 0.667, 0.667])
    """
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(pred, target, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes that occur in target or pred.

    ``pred`` and ``target`` are (N,) integer arrays; returns a float.

    >>> round(macro_f1(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 4), 3)
    0.778
    """
    cm = confusion_matrix(pred, target, num_classes)
    seen = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1_per_class(cm)[seen].mean()) if seen.any() else 0.0


def _check_counts(fn: str, k, n) -> tuple[int, int]:
    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__}")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"{fn}: need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    return int(k), int(n)


def _check_confidence(fn: str, confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise TypeError(f"{fn}: confidence must be a float, got {type(confidence).__name__}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"{fn}: confidence must lie in (0, 1), got {confidence}")
    return float(confidence)


def binomial_interval(k, n, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) two-sided interval for a success rate from k successes in n trials.

    lower = Beta quantile (1 - c) / 2 of Beta(k, n - k + 1) (0 when k = 0),
    upper = Beta quantile (1 + c) / 2 of Beta(k + 1, n - k) (1 when k = n).
    Its coverage is at least ``confidence`` for every true rate (conservative).

    >>> lo, hi = binomial_interval(1080, 1200)
    >>> round(lo, 3), round(hi, 3)
    (0.882, 0.916)
    """
    from scipy.stats import beta

    k, n = _check_counts("binomial_interval", k, n)
    c = _check_confidence("binomial_interval", confidence)
    a = (1.0 - c) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def binomial_upper_bound(k, n, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound: P(true rate <= bound) >= ``confidence``.

    bound = Beta quantile c of Beta(k + 1, n - k) (1 when k = n).
    """
    from scipy.stats import beta

    k, n = _check_counts("binomial_upper_bound", k, n)
    c = _check_confidence("binomial_upper_bound", confidence)
    return 1.0 if k == n else float(beta.ppf(c, k + 1, n - k))


def binomial_lower_bound(k, n, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound: P(true rate >= bound) >= ``confidence``.

    bound = Beta quantile 1 - c of Beta(k, n - k + 1) (0 when k = 0).
    """
    from scipy.stats import beta

    k, n = _check_counts("binomial_lower_bound", k, n)
    c = _check_confidence("binomial_lower_bound", confidence)
    return 0.0 if k == 0 else float(beta.ppf(1 - c, k, n - k + 1))
