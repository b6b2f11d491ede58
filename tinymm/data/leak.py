"""Leak probes: can a strong probe read more from one modality's arrays than its ceiling allows?

A data set leaks when a rendered array carries information about the label (or a hidden
factor) beyond the views its ceiling accounts for: a template word correlated with the class,
an occluder too small for the shape under it, a marker left on by mistake. A probe trained on
many rendered samples of one modality would then beat that modality's ceiling.

The probe: a multinomial logistic regression (L2, fitted by L-BFGS) on the standardised
array, its shift-invariant spectra (|FFT| of images, frames and spectrogram rows, and the
cross-spectrum of consecutive frames, which shows motion) and ``n_features`` random ReLU
features ``max(0, x W + b)`` (W Gaussian), so it also reads products of pixels / tokens
(negations, shapes); token rows enter one-hot per position plus a bag of words.
It is fitted on ``n_train`` samples of the train split and scored on ``n_test`` test samples.

Each probe names a modality, a target (the label or a hidden factor) and options; with
options that hide a factor (``occlusion_prob=1``) the ceiling is chance. The ceiling of the
target from that modality is computed exactly from the data set's latent enumeration.
A probe leaks when its accuracy is above the ceiling by more than sampling error: the
one-sided Clopper-Pearson lower bound of its accuracy lies above the ceiling.

    python -m tinymm.data.leak                 # the table, fast sizes (a minute or two)
    python -m tinymm.data.leak --thorough --png leak.png --json leak.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .registry import _module, get_dataset, list_datasets


@dataclass(frozen=True)
class Probe:
    """One leak probe: read ``target`` from ``modality`` of ``dataset`` built with ``options``.

    target: "label" or a latent factor name computed from the label by ``factor``.
    """
    dataset: str
    modality: str
    target: str = "label"
    options: dict = field(default_factory=dict)
    factor: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def name(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.dataset}: {self.modality} -> {self.target}" + (f" ({opts})" if opts else "")


PROBES = (
    Probe("shapes_captions", "image"),
    Probe("shapes_captions", "text"),
    Probe("shapes_captions", "image", "shape", {"occlusion_prob": 1.0}, lambda y: y // 3),
    Probe("sentiment_prosody", "text"),
    Probe("sentiment_prosody", "audio"),
    Probe("sentiment_prosody", "audio", "label", {"flat_energy_prob": 1.0}),
    Probe("sentiment_prosody", "text", "label", {"neutral_prob": 1.0}),
    Probe("spoken_digits", "audio"),
    Probe("spoken_digits", "text"),
    Probe("spoken_digits", "audio", "label", {"masked_prob": 1.0, "muffled_prob": 0.0}),
    Probe("video_events", "video"),
    Probe("video_events", "audio"),
    Probe("video_events", "text"),
    Probe("video_events", "video", "direction", {"static_prob": 1.0}, lambda y: y // 4),
    Probe("video_events", "audio", "pitch", {"silent_prob": 1.0}, lambda y: (y // 2) % 2),
    Probe("digits_captions", "image"),
    Probe("digits_captions", "image", "digit", {"occlusion_prob": 1.0}, lambda y: y // 2),
)


def probe_ceiling(probe: Probe) -> float:
    """Bayes accuracy of ``probe.target`` from ``probe.modality`` alone, by enumerating the
    data set's latent states: sum over observations o of max_t P(o, t)."""
    module = _module("probe_ceiling", probe.dataset)
    factor = probe.factor or (lambda y: y)
    joint: dict = {}
    for prob, label, obs in module.states(**probe.options):
        t = int(factor(np.asarray(label)))
        row = joint.setdefault(obs[probe.modality], {})
        row[t] = row.get(t, 0.0) + prob
    return float(sum(max(row.values()) for row in joint.values()))


# --------------------------------------------------------------------------- the probe model
def _shift_invariant(x: np.ndarray) -> list[np.ndarray]:
    """Features that do not move when the content moves: |FFT| over the last axes (two for
    images and frames, time for spectrograms) and, for frame sequences, the cross-spectrum of
    consecutive frames (its phase says which way the content moved)."""
    if x.ndim == 5:                                      # (N, T, C, H, W) frames
        spec = np.fft.rfft2(x.astype(np.float64), axes=(-2, -1))
        cross = spec[:, 1:] * np.conj(spec[:, :-1])
        return [np.abs(spec), cross.real, cross.imag]
    if x.ndim == 4:                                      # (N, C, H, W) images
        return [np.abs(np.fft.rfft2(x.astype(np.float64), axes=(-2, -1)))]
    if x.ndim == 3:                                      # (N, F, T) spectrograms
        return [np.abs(np.fft.rfft(x.astype(np.float64), axis=-1))]
    return []


def _encode(x: np.ndarray, vocab_size: int | None) -> np.ndarray:
    """(N, ...) array -> (N, D) float64: token ids one-hot per position plus their bag of
    words; float arrays flattened, with their shift-invariant spectra."""
    n = x.shape[0]
    if x.dtype.kind in "iu":
        v = int(vocab_size or x.max() + 1)
        onehot = np.zeros((n, x.shape[1] * v))
        onehot[np.arange(n)[:, None], np.arange(x.shape[1]) * v + x] = 1.0
        return np.hstack([onehot, onehot.reshape(n, x.shape[1], v).sum(axis=1)])
    parts = [x] + _shift_invariant(x)
    return np.hstack([p.reshape(n, -1).astype(np.float64) for p in parts])


class RandomFeatureProbe:
    """Logistic regression on [standardised x, relu(x W + b)] (W: D x n_features Gaussian).

    fit(x (N, D), y (N,)) minimises mean cross-entropy + l2 * ||weights||^2 by L-BFGS.
    """

    def __init__(self, n_features: int = 200, l2: float = 1e-3, max_iter: int = 150,
                 seed: int = 0):
        self.n_features, self.l2, self.max_iter, self.seed = n_features, l2, max_iter, seed

    def _features(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        hidden = np.maximum(z @ self.w + self.b, 0.0)
        return np.hstack([z, hidden, np.ones((z.shape[0], 1))])

    def fit(self, x: np.ndarray, y: np.ndarray, num_classes: int) -> RandomFeatureProbe:
        from scipy.optimize import minimize

        rng = np.random.default_rng(self.seed)
        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-6
        d = x.shape[1]
        self.w = rng.standard_normal((d, self.n_features)) / np.sqrt(d)
        self.b = rng.standard_normal(self.n_features) * 0.5
        f = self._features(x)
        fs = f.std(axis=0) + 1e-6
        fs[-1] = 1.0
        self.fscale = fs
        f = f / fs
        onehot = np.eye(num_classes)[y]
        n, k = f.shape[0], num_classes

        def loss(flat):
            w = flat.reshape(f.shape[1], k)
            z = f @ w
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            p = np.exp(logp)
            value = -(onehot * logp).sum() / n + self.l2 * (w[:-1] ** 2).sum()
            grad = f.T @ (p - onehot) / n
            grad[:-1] += 2 * self.l2 * w[:-1]
            return value, grad.ravel()

        res = minimize(loss, np.zeros(f.shape[1] * k), jac=True, method="L-BFGS-B",
                       options={"maxiter": self.max_iter})
        self.coef = res.x.reshape(f.shape[1], k)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self._features(x) / self.fscale @ self.coef).argmax(axis=1)


def run_probe(probe: Probe, n_train: int = 1500, n_test: int = 1500, n_features: int = 200,
              seed: int = 0) -> dict:
    """Fit the probe on the train split, score it on the test split.

    Returns {"probe", "ceiling", "accuracy", "correct", "n", "interval" (95 % two-sided),
    "lower_bound" (one-sided 99 %), "leak" (lower_bound > ceiling), "seconds"}.
    """
    from ..train.metrics import binomial_interval, binomial_lower_bound

    start = time.perf_counter()
    train, test = get_dataset(probe.dataset, split=("train", "test"), seed=seed,
                              size=(n_train, n_test), **probe.options)
    factor = probe.factor or (lambda y: y)
    y_train, y_test = factor(train.labels), factor(test.labels)
    num_classes = int(max(y_train.max(), y_test.max()) + 1)
    x_train = _encode(train.arrays[probe.modality], train.vocab_size)
    x_test = _encode(test.arrays[probe.modality], test.vocab_size)
    model = RandomFeatureProbe(n_features=n_features, seed=seed).fit(x_train, y_train,
                                                                      num_classes)
    correct = int((model.predict(x_test) == y_test).sum())
    ceiling = probe_ceiling(probe)
    lower = binomial_lower_bound(correct, n_test, confidence=0.99)
    return {"probe": probe.name, "ceiling": ceiling, "accuracy": correct / n_test,
            "correct": correct, "n": n_test, "interval": list(binomial_interval(correct, n_test)),
            "lower_bound": lower, "leak": lower > ceiling,
            "seconds": time.perf_counter() - start}


def leak_table(probes: Sequence[Probe] = PROBES, **kwargs) -> list[dict]:
    """``run_probe`` for every probe whose data set is available here (in order)."""
    available = set(list_datasets())
    return [run_probe(p, **kwargs) for p in probes if p.dataset in available]


def format_leak_table(rows: Sequence[dict]) -> str:
    """The probe rows as a Markdown table."""
    width = max(len("probe"), *(len(r["probe"]) for r in rows))
    lines = [f"| {'probe':<{width}} | ceiling | probe accuracy (95 % CI) | leak? |",
             f"|{'-' * (width + 2)}|---------|--------------------------|-------|"]
    for r in rows:
        lo, hi = r["interval"]
        cell = f"{r['accuracy']:.4f} [{lo:.3f}, {hi:.3f}]"
        lines.append(f"| {r['probe']:<{width}} | {r['ceiling']:.4f}  | {cell:<24} | "
                     f"{'LEAK' if r['leak'] else 'no':<5} |")
    return "\n".join(lines)


def save_leak_figure(rows: Sequence[dict], path) -> None:
    """Probe accuracy with its 95 % interval against the ceiling, one row per probe (PNG)."""
    from ..train.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.2))
    ys = np.arange(len(rows))[::-1]
    acc = np.array([r["accuracy"] for r in rows])
    lo = acc - np.array([r["interval"][0] for r in rows])
    hi = np.array([r["interval"][1] for r in rows]) - acc
    ax.errorbar(acc, ys, xerr=[lo, hi], fmt="o", color="C0", label="probe accuracy (95 % CI)")
    ax.scatter([r["ceiling"] for r in rows], ys, marker="|", s=300, color="C3",
               label="ceiling of that modality")
    ax.set_yticks(ys)
    ax.set_yticklabels([r["probe"] for r in rows], fontsize=7)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("accuracy on held-out samples")
    ax.set_title("Leak probes: probe accuracy vs the modality's ceiling", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinymm.data.leak",
                                     description="Leak probes of the built-in data sets.")
    parser.add_argument("--thorough", action="store_true",
                        help="10,000 training and 10,000 test samples, 500 random features")
    parser.add_argument("--png", help="also save the figure to this PNG file")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = ({"n_train": 10000, "n_test": 10000, "n_features": 500} if args.thorough
             else {"n_train": 1500, "n_test": 1500, "n_features": 200})
    rows = []
    for probe in PROBES:
        if probe.dataset not in set(list_datasets()):
            continue
        rows.append(run_probe(probe, seed=args.seed, **sizes))
        r = rows[-1]
        print(f"  {r['probe']}: {r['accuracy']:.4f} (ceiling {r['ceiling']:.4f}, "
              f"{r['seconds']:.1f} s)", flush=True)
    print(format_leak_table(rows))
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    if args.png:
        save_leak_figure(rows, args.png)
        print(f"figure: {args.png}")
    return 1 if any(r["leak"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
