"""Learning curves: test accuracy against the number of labelled training samples.

    rows = learning_curve("shapes_captions", fusions=("concat", "late"), sizes=(32, 128, None),
                          seeds=(0, 1, 2))
    summary = summarize_curve(rows)         # mean, std and a 95 % t-interval per point

For each seed the training subsets are **nested** (the 64-sample set contains the 32-sample
set) and **stratified** (each class holds its share of the subset, to within one sample):
``nested_subsets`` orders the training split once per seed (each class in a seeded random
order; the next sample comes from the class furthest below its share k * n_c / N of the
first k, the "chairman assignment" greedy rule) and every subset is a prefix of that order.
So a curve point differs from the next only by the samples added, and seeds differ in
which samples are drawn and in the initialisation.

Each point is one run of ``fit_like_cli`` (``tinymm train``'s settings and best-epoch rule),
scored on the full test split. With few samples an epoch is a few steps, so the number of
epochs grows to give at least ``min_steps`` optimizer steps (capped at ``max_epochs``).
Validation: the full validation split by default, as ``tinymm train`` does (optimistic for
tiny label budgets, where a real project would not have 600 labelled validation samples);
``val_size`` caps it with a stratified subset.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

DEFAULT_SIZES = (32, 64, 128, 256, 512, None)  # None = the full training split


def nested_subsets(labels, sizes: Sequence[int | None], seed: int) -> list[np.ndarray]:
    """Index arrays of stratified, nested training subsets, one per entry of ``sizes``.

    labels: (N,) integer class labels. sizes: positive ints <= N, or None for all N
    samples; any order (the subsets are nested in the order of their sizes). seed: int.
    Returns a list of (n_k,) int64 index arrays; ``out[i]`` is a subset of ``out[j]``
    whenever ``sizes[i] <= sizes[j]``.
    """
    fn = "nested_subsets"
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise TypeError(f"{fn}: labels must be a 1-D integer array, got dtype {y.dtype} and "
                        f"shape {y.shape}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{fn}: seed must be an int >= 0, got {seed!r}")
    n = y.size
    resolved = []
    for s in sizes:
        if s is None:
            resolved.append(n)
            continue
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 < s <= n:
            raise ValueError(f"{fn}: sizes must be ints in [1, {n}] (the training split's "
                             f"size) or None, got {s!r}")
        resolved.append(int(s))
    rng = np.random.default_rng(int(seed))
    classes, y_idx = np.unique(y, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(y_idx == c)) for c in range(classes.size)]
    available = np.array([m.size for m in members], dtype=np.int64)
    share = available / max(n, 1)
    taken = np.zeros(classes.size, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    jitter = rng.random(classes.size) * 1e-9      # random but fixed tie-breaking between classes
    for k in range(n):                            # chairman assignment: largest deficit next
        deficit = (k + 1) * share - taken + jitter
        deficit[taken >= available] = -np.inf
        c = int(np.argmax(deficit))
        order[k] = members[c][taken[c]]
        taken[c] += 1
    return [np.sort(order[:k]).astype(np.int64) for k in resolved]


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, std, half-width of the Student-t interval of the mean); half-width nan for n < 2."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan"), float("nan")
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1)) * std / math.sqrt(x.size)
    return float(x.mean()), std, half


def epochs_for(n: int, batch_size: int, epochs: int, min_steps: int, max_epochs: int) -> int:
    """``epochs``, raised so that training takes at least ``min_steps`` optimizer steps
    (batches of ``batch_size`` from ``n`` samples), but never above ``max_epochs``."""
    steps = max(1, math.ceil(n / batch_size))
    return int(min(max(epochs, math.ceil(min_steps / steps)), max(epochs, max_epochs)))


def _check_names(fn: str, fusions: Sequence[str]) -> None:
    from ..models import FUSIONS

    bad = [f for f in fusions if f not in FUSIONS]
    if bad or not fusions:
        raise ValueError(f"{fn}: fusions must be a non-empty list from {tuple(FUSIONS)}, "
                         f"got {list(fusions)}")


def learning_curve(dataset: str, fusions: Sequence[str] = ("concat",),
                   sizes: Sequence[int | None] = DEFAULT_SIZES, seeds: Iterable[int] = (0, 1, 2),
                   *, epochs: int | None = None, min_steps: int = 100, max_epochs: int = 200,
                   val_size: int | None = None, test_size: int | None = None,
                   pretrain: str = "none", pretrain_options: dict | None = None,
                   trainer_options: dict | None = None, data_seed: int = 0,
                   done: Callable[[dict], None] | None = None,
                   skip: Callable[[dict], bool] | None = None) -> list[dict]:
    """Train every (fusion, size, seed) point; return one row per run.

    dataset: a built-in data set name. pretrain: "none" or "contrastive" (the encoders are
    first aligned on the whole training split without labels, see
    ``tinymm.pretrain.contrastive``; done once per seed and shared by every size and
    fusion). done(row): called after each run (progress, saving). skip(point): return True
    to skip a point {dataset, fusion, size, seed, pretrain} (e.g. already saved).
    Row keys: dataset, fusion, pretrain, seed, size, epochs, accuracy, val_accuracy,
    best_epoch, ceiling, seconds.
    """
    from ..cli_parser import TRAIN_DEFAULTS
    from ..data import get_dataset, list_datasets
    from .evaluate import evaluate
    from .runs import fit_like_cli

    fn = "learning_curve"
    if dataset not in list_datasets():
        raise ValueError(f"{fn}: unknown dataset {dataset!r}; choose from {list_datasets()}")
    fusions = list(fusions)
    _check_names(fn, fusions)
    if pretrain not in ("none", "contrastive"):
        raise ValueError(f"{fn}: pretrain must be 'none' or 'contrastive', got {pretrain!r}")
    seeds = [int(s) for s in seeds]
    if not seeds or min(seeds) < 0:
        raise ValueError(f"{fn}: seeds must be a non-empty list of ints >= 0, got {seeds}")
    train, val, test = (get_dataset(dataset, split=s, size=z, seed=data_seed)
                        for s, z in (("train", None), ("val", None), ("test", test_size)))
    base_epochs = epochs or TRAIN_DEFAULTS["epochs"]
    batch = int(TRAIN_DEFAULTS["batch_size"])
    ceiling = (getattr(test, "ceilings", None) or {}).get("+".join(sorted(test.modalities)))
    rows = []
    for seed in seeds:
        subsets = nested_subsets(train.labels, sizes, seed)
        if val_size is not None and val_size < len(val):
            val_set = val.select(nested_subsets(val.labels, [val_size], seed)[0])
        else:
            val_set = val
        encoders = None
        for fusion in fusions:
            for size, idx in zip(sizes, subsets):
                point = {"dataset": dataset, "fusion": fusion, "size": len(idx), "seed": seed,
                         "pretrain": pretrain}
                if skip is not None and skip(point):
                    continue
                if pretrain == "contrastive" and encoders is None:
                    from ..pretrain.contrastive import pretrain_encoders

                    started = time.perf_counter()
                    encoders = pretrain_encoders(train, seed=seed, **dict(pretrain_options or {}))
                    encoders.seconds = time.perf_counter() - started
                n_epochs = epochs_for(len(idx), batch, base_epochs, min_steps, max_epochs)
                start = time.perf_counter()
                load = None if encoders is None else encoders.load_into
                model, trainer = fit_like_cli(train.select(idx), val_set, fusion=fusion,
                                              seed=seed, epochs=n_epochs, before_fit=load,
                                              trainer_options=trainer_options)
                row = {**point, "full": size is None, "epochs": n_epochs,
                       "accuracy": evaluate(model, test)["accuracy"],
                       "val_accuracy": trainer.best_accuracy, "best_epoch": trainer.best_epoch,
                       "ceiling": None if ceiling is None else float(ceiling),
                       "test_size": len(test), "val_size": len(val_set),
                       "seconds": time.perf_counter() - start}
                if encoders is not None:
                    row["pretrain_loss"] = encoders.history["loss"]
                    row["pretrain_seconds"] = encoders.seconds
                rows.append(row)
                if done is not None:
                    done(row)
    return rows


def summarize_curve(rows: Sequence[dict], confidence: float = 0.95) -> list[dict]:
    """Per (dataset, fusion, pretrain, size): mean, std and t-interval half-width over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["fusion"], r["pretrain"], r["size"]), []).append(r)
    out = []
    for (dataset, fusion, pretrain, size), rs in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2], kv[0][3])):
        mean, std, half = t_interval([r["accuracy"] for r in rs], confidence)
        out.append({"dataset": dataset, "fusion": fusion, "pretrain": pretrain, "size": size,
                    "seeds": sorted(r["seed"] for r in rs), "mean": mean, "std": std,
                    "half_width": half, "confidence": confidence,
                    "ceiling": rs[0].get("ceiling")})
    return out


def paired_difference(rows: Sequence[dict], a: str = "contrastive", b: str = "none",
                      confidence: float = 0.95) -> list[dict]:
    """Accuracy(pretrain=a) - accuracy(pretrain=b) per (dataset, fusion, size), paired by seed
    (same subset, same initialisation seed), with its mean and t-interval over the seeds."""
    index = {(r["dataset"], r["fusion"], r["size"], r["seed"], r["pretrain"]): r["accuracy"]
             for r in rows}
    groups: dict[tuple, list[float]] = {}
    for (d, f, n, s, p), acc in index.items():
        if p == a and (d, f, n, s, b) in index:
            groups.setdefault((d, f, n), []).append(acc - index[(d, f, n, s, b)])
    out = []
    for (d, f, n), diffs in sorted(groups.items()):
        mean, std, half = t_interval(diffs, confidence)
        out.append({"dataset": d, "fusion": f, "size": n, "pairs": len(diffs), "mean": mean,
                    "std": std, "half_width": half, "confidence": confidence})
    return out


def plot_curve(summary: Sequence[dict], path, title: str = "") -> bool:
    """Accuracy against training-set size (log axis), one line per fusion (and pre-training),
    with the interval as a band and the ceiling as a dashed line. False without matplotlib."""
    from .plots import _pyplot, matplotlib_available

    if not matplotlib_available():
        return False
    plt = _pyplot()
    datasets = sorted({r["dataset"] for r in summary})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        rows = [r for r in summary if r["dataset"] == name]
        for key in sorted({(r["fusion"], r["pretrain"]) for r in rows}):
            pts = sorted((r for r in rows if (r["fusion"], r["pretrain"]) == key),
                         key=lambda r: r["size"])
            x = np.array([r["size"] for r in pts], dtype=float)
            y = np.array([r["mean"] for r in pts])
            h = np.nan_to_num(np.array([r["half_width"] for r in pts]))
            label = key[0] if key[1] == "none" else f"{key[0]} + {key[1]}"
            (line,) = ax.plot(x, y, "o-", label=label)
            ax.fill_between(x, y - h, y + h, color=line.get_color(), alpha=0.2)
        ceiling = rows[0].get("ceiling")
        if ceiling is not None:
            ax.axhline(ceiling, color="k", ls="--", lw=1, label=f"ceiling {ceiling:.3f}")
        ax.set_xscale("log", base=2)
        ticks = sorted({r["size"] for r in rows})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel="labelled training samples", ylabel="test accuracy", title=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
