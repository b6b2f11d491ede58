"""PNG plots of a run, drawn with matplotlib when it is importable (an optional dependency).

``save_plots(report, out_dir)`` writes curves.png (loss and accuracy per epoch; the
accuracy panel also shows the clean training accuracy and each modality alone when the
history holds them),
confusion.png, ablation.png (accuracy vs ceiling per modality subset) and robustness.png,
for whichever parts the report holds; it returns the paths written ([] without matplotlib).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def matplotlib_available() -> bool:
    """Whether matplotlib (an optional dependency) can be imported.

    >>> isinstance(matplotlib_available(), bool)
    True
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _curves(plt, history: Mapping, path: Path) -> None:
    epochs = history["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="train")
    ax_acc.plot(epochs, history["train_accuracy"], "o-", label="train")
    val_loss = [v if v is not None else float("nan") for v in history.get("val_loss", [])]
    if val_loss and any(v == v for v in val_loss):
        ax_loss.plot(epochs, val_loss, "s-", label="validation")
        ax_acc.plot(epochs, [v if v is not None else float("nan")
                             for v in history["val_accuracy"]], "s-", label="validation")
    clean = history.get("train_accuracy_clean") or []
    if any(v is not None for v in clean):  # eval mode: no modality dropout, comparable to val
        ax_acc.plot(epochs, [v if v is not None else float("nan") for v in clean], "o--",
                    label="train (clean)")
    contrib = history.get("val_contribution") or []
    names = [k for k in next((c for c in contrib if c), {}) if k not in ("all", "n")]
    for name in names:  # each modality alone (the others masked) on a validation subset
        ax_acc.plot(epochs, [c[name] if c else float("nan") for c in contrib], ":",
                    label=f"val, {name} alone")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _confusion(plt, report: Mapping, path: Path) -> None:
    cm = report["confusion_matrix"]
    names = report.get("class_names") or [str(i) for i in range(len(cm))]
    size = max(4.0, 0.45 * len(cm) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(cm)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(cm)), names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=f"confusion (accuracy "
                                                    f"{report['accuracy']:.3f})")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ablation(plt, rows, path: Path) -> None:
    names = [r["subset"] for r in rows]
    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) + 1), 3.5))
    acc = [r["accuracy"] for r in rows]
    ci = [r.get("accuracy_interval") or [a, a] for r, a in zip(rows, acc)]  # 95 % interval
    err = [[a - lo for a, (lo, _) in zip(acc, ci)], [hi - a for a, (_, hi) in zip(acc, ci)]]
    ax.bar([x - 0.2 for x in xs], acc, 0.4, yerr=err, capsize=3, label="model (95 % CI)")
    ax.bar([x + 0.2 for x in xs], [r["ceiling"] or 0.0 for r in rows], 0.4, label="ceiling")
    if any(r.get("additive_ceiling") is not None for r in rows):
        ax.scatter([x + 0.2 for x in xs], [r.get("additive_ceiling") or 0.0 for r in rows],
                   marker="_", s=200, color="k", zorder=3, label="additive ceiling")
    ax.set_xticks(list(xs), names, rotation=20)
    ax.set(ylabel="accuracy", ylim=(0, 1), title="modality ablation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _robustness(plt, curves: Mapping, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for modality, rows in curves.items():
        ax.plot([r["level"] for r in rows], [r["accuracy"] for r in rows], "o-", label=modality)
    ax.set(xlabel="noise level on one modality", ylabel="accuracy", ylim=(0, 1),
           title="robustness")
    ax.legend(title="noisy modality")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_plots(report: Mapping, out_dir: str | os.PathLike, prefix: str = "") -> list[Path]:
    """Write the PNGs the report allows into ``out_dir``; [] when matplotlib is missing.

    ``prefix`` starts every file name (``tinymm evaluate`` uses it so that evaluating a
    checkpoint never overwrites the plots of the training run next to it).

    >>> import tempfile
    >>> report = {"confusion_matrix": [[3, 1], [0, 4]], "class_names": ["a", "b"],
    ...           "accuracy": 0.875}
    >>> paths = save_plots(report, tempfile.mkdtemp(), prefix="eval_")
    >>> [p.name for p in paths] == (["eval_confusion.png"] if matplotlib_available() else [])
    True
    """
    if not matplotlib_available():
        return []
    plt = _pyplot()
    out = Path(out_dir)
    written = []
    jobs = [("curves.png", "history", _curves), ("confusion.png", "confusion_matrix", None),
            ("ablation.png", "ablation", _ablation), ("robustness.png", "robustness", _robustness)]
    for filename, key, draw in jobs:
        if not report.get(key):
            continue
        path = out / f"{prefix}{filename}"
        if draw is None:
            _confusion(plt, report, path)
        else:
            draw(plt, report[key], path)
        written.append(path)
    return written
