"""Shared machinery of the built-in synthetic data sets: seeds, ceilings, token and audio synthesis.

Every built-in data set is built in two steps:

1. ``sample_latents(n, rng, ...)`` draws the generating latent variables (the label, the factor
   values, which modality shows or hides each factor, nuisance variables such as positions);
2. ``render(latents, rng, ...)`` turns them into modality arrays (images, token ids, audio).

Ceilings are computed from step 1 alone, by formula or exact enumeration, and the oracle
predictors ``oracle_predict(latents, subset)`` read only the latents, so a test can check a
documented ceiling on a million latent draws without rendering anything.

The erasure model used by most data sets: a label *factor* with ``n`` equally likely values is
shown by one or more modalities; modality ``m`` hides it (shows something independent of it)
with probability ``e_m``, independently. Given a subset ``S`` of modalities the Bayes-optimal
predictor reads the factor from any modality in ``S`` that shows it and guesses otherwise, so

    P(factor right | S) = 1 - prod_{m in S} e_m * (1 - 1/n)        (empty product = 1)

and, factors being independent, the ceiling of ``S`` is the product of these over factors.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

SPLITS = ("train", "val", "test")

PAD, UNK = 0, 1
SPECIAL_TOKENS = ("<pad>", "<unk>")


# --------------------------------------------------------------------------- seeds, labels
def make_rng(name: str, seed: int, split: str) -> np.random.Generator:
    """A generator that depends on (data set name, seed, split) and nothing else."""
    code = zlib.crc32(name.encode())  # stable across runs, unlike hash()
    return np.random.default_rng(np.random.SeedSequence([code, seed, SPLITS.index(split)]))


def balanced_labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) int64 labels, each class ``n // num_classes`` or one more times, in random order."""
    return rng.permutation(np.arange(n, dtype=np.int64) % num_classes)


def bernoulli(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """(n,) bool, True with probability p."""
    return rng.random(n) < p


# --------------------------------------------------------------------------- ceilings
def subset_key(subset: str | Iterable[str]) -> str:
    """Canonical name of a modality subset: sorted names joined by '+' ("audio+text").

    >>> subset_key(["text", "image"]), subset_key("text+audio")
    ('image+text', 'audio+text')
    """
    parts = subset.split("+") if isinstance(subset, str) else list(subset)
    return "+".join(sorted(p for p in parts if p))


def all_subsets(modalities: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``modalities``, smallest first."""
    return [c for r in range(1, len(modalities) + 1) for c in itertools.combinations(modalities, r)]


class CeilingTable(dict):
    """Bayes-optimal accuracy per modality subset.

    Keys are '+'-joined sorted modality names (``"image+text"``); lookups also accept any
    iterable of names (a frozenset, a tuple) or a '+'-joined string in any order.

    >>> table = CeilingTable({"image": 0.5, "image+text": 0.9})
    >>> table[("text", "image")], "text+image" in table, table.get("audio")
    (0.9, True, None)
    >>> print(table.table())
      image       0.5000
      image+text  0.9000
    """

    def __getitem__(self, key):
        return super().__getitem__(subset_key(key))

    def __contains__(self, key) -> bool:
        return super().__contains__(subset_key(key))

    def get(self, key, default=None):
        return super().get(subset_key(key), default)

    def table(self) -> str:
        """The ceilings as aligned text lines, one subset per line."""
        width = max(len(k) for k in self)
        return "\n".join(f"  {k:<{width}}  {v:.4f}" for k, v in self.items())


def erasure_accuracy(n: int, erase_probs: Iterable[float]) -> float:
    """P(a uniform n-valued factor is guessed right) when each view hides it independently."""
    hidden = float(np.prod(list(erase_probs)))  # empty product: no view, pure guess
    return 1.0 - hidden * (1.0 - 1.0 / n)


def factor_ceilings(modalities: Sequence[str], factors: Sequence[tuple[int, Mapping[str, float]]]
                    ) -> CeilingTable:
    """Ceilings of a label made of independent uniform factors shown through erasing views.

    ``factors``: one ``(n_values, {modality: erase_probability})`` per factor.
    """
    table = CeilingTable()
    for subset in all_subsets(modalities):
        acc = 1.0
        for n, views in factors:
            acc *= erasure_accuracy(n, [e for m, e in views.items() if m in subset])
        table[subset_key(subset)] = acc
    return table


def enumerated_ceilings(modalities: Sequence[str], states: Iterable[tuple]
                        ) -> tuple[CeilingTable, CeilingTable]:
    """Full and additive ceilings per modality subset from an enumeration of latent states.

    ``states``: ``(probability, label, {modality: observation})`` covering the whole latent
    space (observations hashable: what an ideal reader of that modality's arrays learns).

    * full ceiling of S = sum over joint observations o_S of max_y P(o_S, y) (Bayes rule);
    * additive ceiling of S = accuracy of the product of the per-modality Bayes posteriors,
      argmax_y P(y) prod_{m in S} P(y | o_m) / P(y), i.e. late fusion that adds each
      modality's log-evidence (ties broken uniformly at random, counted in expectation).
      It equals the full ceiling when the modalities are conditionally independent given
      the label and falls below it when the label needs their interaction (an XOR).
    """
    states = list(states)
    labels = sorted({y for _, y, _ in states})
    col = {y: i for i, y in enumerate(labels)}
    prior = np.zeros(len(labels))
    marg = {m: {} for m in modalities}          # modality -> obs -> P(o_m, y) vector
    for prob, y, obs in states:
        prior[col[y]] += prob
        for m in modalities:
            marg[m].setdefault(obs[m], np.zeros(len(labels)))[col[y]] += prob
    full, additive = CeilingTable(), CeilingTable()
    for subset in all_subsets(modalities):
        joint: dict = {}
        for prob, y, obs in states:
            joint.setdefault(tuple(obs[m] for m in subset), np.zeros(len(labels)))[col[y]] += prob
        full_acc = add_acc = 0.0
        safe_prior = np.where(prior > 0, prior, 1.0)
        for key, p_joint in joint.items():
            full_acc += p_joint.max()
            score = prior.copy()
            for m, o in zip(subset, key):
                score = score * marg[m][o] / safe_prior       # times P(y | o_m) / P(y)
            best = score >= score.max() * (1 - 1e-9)
            add_acc += p_joint[best].sum() / best.sum()
        full[subset_key(subset)] = float(full_acc)
        additive[subset_key(subset)] = float(add_acc)
    return full, additive


def key_probs(n: int, interaction: float) -> np.ndarray:
    """(n,) distribution of the interaction key: 0 unless the sample is keyed (probability
    ``interaction``), then uniform over the n values."""
    probs = np.full(n, interaction / n)
    probs[0] += 1.0 - interaction
    return probs


def sample_key(rng: np.random.Generator, n_samples: int, n: int, interaction: float) -> np.ndarray:
    """(N,) int64 interaction keys (all 0, drawing nothing, when ``interaction`` is 0 so the
    default data stay bit-identical)."""
    if interaction == 0:
        return np.zeros(n_samples, dtype=np.int64)
    keyed = rng.random(n_samples) < interaction
    return np.where(keyed, rng.integers(0, n, n_samples), 0).astype(np.int64)


def ceiling_kinds(modalities: Sequence[str], exact: Iterable[str]) -> dict[str, str]:
    """Per subset: "exact" when every modality in it is a discrete channel whose arrays show
    exactly its latent views (token ids), else "upper bound" (a continuous channel with
    Gaussian noise, jitter and clutter: the latent reader is an upper bound on any model)."""
    exact = set(exact)
    return {subset_key(s): "exact" if set(s) <= exact else "upper bound"
            for s in all_subsets(modalities)}


def check_subset(fn: str, subset: str | Iterable[str], modalities: Sequence[str]) -> frozenset:
    """Validate a modality subset against a data set's modalities; return it as a frozenset."""
    chosen = frozenset(subset_key(subset).split("+")) - {""}
    unknown = chosen - set(modalities)
    if unknown:
        raise ValueError(f"{fn}: subset names unknown modalities {sorted(unknown)}; "
                         f"expected a subset of {tuple(modalities)}")
    return chosen


# --------------------------------------------------------------------------- tokens
class TokenWriter:
    """Builds (N, length) int64 token rows word by word, each row at its own position.

    ``write(ids, where)`` appends ``ids[i]`` to row i for the rows where ``where`` is True, so
    sentences of different templates are assembled without a Python loop over samples.
    Unwritten positions stay ``PAD`` (0): sentences are left-aligned, padded at the end.
    """

    def __init__(self, n: int, length: int):
        self.tokens = np.full((n, length), PAD, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.rows = np.arange(n)

    def write(self, ids, where=None) -> None:
        ids = np.broadcast_to(np.asarray(ids, dtype=np.int64), self.pos.shape)
        rows = self.rows if where is None else self.rows[where]
        if rows.size and self.pos[rows].max() >= self.tokens.shape[1]:
            raise AssertionError("TokenWriter: sentence longer than the token length")
        self.tokens[rows, self.pos[rows]] = ids[rows]
        self.pos[rows] += 1


def make_vocab(words: Sequence[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    """Vocabulary ``("<pad>", "<unk>", *words)`` and its word -> id map."""
    vocab = SPECIAL_TOKENS + tuple(words)
    assert len(set(vocab)) == len(vocab), "duplicate words in a vocabulary"
    return vocab, {w: i for i, w in enumerate(vocab)}


def ids_of(index: Mapping[str, int], words: Sequence[str]) -> np.ndarray:
    """Token ids of ``words`` as an int64 array (for picking words with an index array)."""
    return np.array([index[w] for w in words], dtype=np.int64)


def decode_tokens(tokens: np.ndarray, vocab: Sequence[str]) -> str:
    """One token row back to words, padding dropped."""
    return " ".join(vocab[t] for t in np.asarray(tokens).tolist() if t != PAD)


# --------------------------------------------------------------------------- audio
SAMPLE_RATE = 2000  # Hz: low, so a clip is ~1300 samples and a model stays small
N_FFT = 64          # window of 32 ms; bin spacing 31.25 Hz
HOP = 32
N_FRAMES = 40
N_SAMPLES = HOP * (N_FRAMES - 1) + N_FFT  # 1312 samples = 0.656 s
N_BINS = N_FFT // 2                       # DC bin dropped: bins at 31.25 .. 1000 Hz
_WINDOW = np.hanning(N_FFT + 2)[1:-1]     # no zero end points
_MAG_REF = _WINDOW.sum() / 2              # |STFT| of a unit-amplitude sine at its bin
_FEATURE_SHIFT, _FEATURE_SCALE = 2.5, 1.5  # fixed, so every split shares one scale


def tone(freq: np.ndarray, amp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sine waves with a time-varying frequency (Hz) and amplitude, random start phase.

    freq, amp: (N, L) -> (N, L) float32.  x(t) = a(t) sin(phi0 + 2 pi sum_{s<=t} f(s) / sr).
    The phase is accumulated in float64; the sine runs in float32 (10x faster without SVML,
    and the phase error, < 1e-4 rad for these clip lengths, is far below the noise).
    """
    phase0 = rng.uniform(0, 2 * np.pi, size=(freq.shape[0], 1))
    phase = phase0 + (2 * np.pi / SAMPLE_RATE) * np.cumsum(freq, axis=1, dtype=np.float64)
    return amp * np.sin(phase.astype(np.float32))


def envelope(onset: np.ndarray, offset: np.ndarray, ramp: float = 0.03) -> np.ndarray:
    """(N,) onset/offset times in seconds -> (N, L) float32 trapezoid envelope, ``ramp`` s edges."""
    t = np.arange(N_SAMPLES, dtype=np.float32) / np.float32(SAMPLE_RATE)      # (L,)
    onset, offset = (np.asarray(x, np.float32)[:, None] for x in (onset, offset))
    rise = np.clip((t - onset) / np.float32(ramp), 0, 1)                      # (N, L)
    fall = np.clip((offset - t) / np.float32(ramp), 0, 1)
    return rise * fall


def time_axis() -> np.ndarray:
    """(1, L) float32 relative time in [0, 1] over the clip (contours broadcast against it)."""
    return np.linspace(0.0, 1.0, N_SAMPLES, dtype=np.float32)[None, :]


def noise_like(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    """float32 white Gaussian noise."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)


def spectrogram(wave: np.ndarray) -> np.ndarray:
    """Log-magnitude short-time spectrum, channels (frequency) first for Conv1d.

    wave (N, L) -> (N, F, T) float32, F = 32 bins (31.25 .. 1000 Hz), T = 40 frames (hop 16 ms).
    feature = (log(|STFT| / ref + 0.01) + shift) / scale, with fixed constants so that a
    unit-amplitude tone peaks near +1.7 and silence sits near -1.4.
    """
    frames = np.lib.stride_tricks.sliding_window_view(wave, N_FFT, axis=1)[:, ::HOP]  # (N,T,n_fft)
    mag = np.abs(np.fft.rfft(frames * _WINDOW, axis=2))[:, :, 1:]                    # (N, T, F)
    feats = (np.log(mag / _MAG_REF + 0.01) + _FEATURE_SHIFT) / _FEATURE_SCALE
    return np.ascontiguousarray(feats.transpose(0, 2, 1), dtype=np.float32)          # (N, F, T)


def audio_output(wave: np.ndarray, audio_format: str) -> np.ndarray:
    """The audio modality in the requested format: (N, F, T) features or (N, 1, L) waveform."""
    if audio_format == "spectrogram":
        return spectrogram(wave)
    return np.ascontiguousarray(wave[:, None, :], dtype=np.float32)


def check_audio_format(fn: str, audio_format: str) -> None:
    if audio_format not in ("spectrogram", "waveform"):
        raise ValueError(f"{fn}: audio_format must be 'spectrogram' or 'waveform', "
                         f"got {audio_format!r}")


def audio_shape(audio_format: str) -> tuple[int, ...]:
    return (N_BINS, N_FRAMES) if audio_format == "spectrogram" else (1, N_SAMPLES)


def audio_description(audio_format: str) -> str:
    if audio_format == "spectrogram":
        return (f"float32 ({N_BINS}, {N_FRAMES}) log-magnitude spectrogram, frequency first "
                f"(bins of {SAMPLE_RATE / N_FFT:g} Hz up to {SAMPLE_RATE // 2} Hz, "
                f"{N_FRAMES} frames of {1000 * HOP // SAMPLE_RATE} ms); values about -2..2")
    return (f"float32 (1, {N_SAMPLES}) waveform at {SAMPLE_RATE} Hz "
            f"({N_SAMPLES / SAMPLE_RATE:.3f} s); values about -2..2")


# --------------------------------------------------------------------------- argument checks
def check_size(fn: str, size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"{fn}: size must be an int, got {type(size).__name__}")
    if size < 1:
        raise ValueError(f"{fn}: size must be >= 1, got {size}")
    return int(size)


def check_seed(fn: str, seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{fn}: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{fn}: seed must be >= 0, got {seed}")
    return int(seed)


def check_split(fn: str, split) -> str:
    if split not in SPLITS:
        raise ValueError(f"{fn}: split must be one of {SPLITS}, got {split!r}")
    return split


def check_prob(fn: str, name: str, p, *, below_one: bool = False) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0 or (below_one and p >= 1.0):
        bound = "[0, 1)" if below_one else "[0, 1]"
        raise ValueError(f"{fn}: {name} must be in {bound}, got {p}")
    return float(p)


def check_nonneg(fn: str, name: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(x).__name__}")
    if x < 0:
        raise ValueError(f"{fn}: {name} must be >= 0, got {x}")
    return float(x)


def merge_options(fn: str, defaults: Mapping, options: Mapping) -> dict:
    """``defaults`` updated by ``options``; unknown option names raise TypeError."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"{fn}: unknown option(s) {sorted(unknown)}; options are "
                        f"{sorted(defaults)}")
    return {**defaults, **options}


# --------------------------------------------------------------------------- building a split
def build_split(module, size, seed, split, options: dict, *, description: str,
                info=lambda opts: {}, render_needs_seed: bool = False):
    """The shared body of every built-in data set's ``build()``.

    ``module`` is the data set's module (its NAME, DEFAULT_SIZES, MODALITIES, NUM_CLASSES,
    CLASS_NAMES, VOCAB, ``_options``, ``sample_latents``, ``render`` and ``ceilings``):
    check the arguments, draw the latents from the split's own generator, render them.
    """
    from .dataset import MultimodalDataset  # dataset.py imports this module

    fn = module.NAME
    split = check_split(fn, split)
    size = module.DEFAULT_SIZES[split] if size is None else check_size(fn, size)
    opts = module._options(fn, options)
    seed = check_seed(fn, seed)
    rng = make_rng(fn, seed, split)
    lat = module.sample_latents(size, rng, **opts)
    extra = {"seed": seed, "split": split} if render_needs_seed else {}
    return MultimodalDataset(
        module.render(lat, rng, **extra, **opts), name=fn, modalities=module.MODALITIES,
        num_classes=module.NUM_CLASSES, class_names=module.CLASS_NAMES,
        ceilings=module.ceilings(**opts), vocab=module.VOCAB, latents=lat,
        description=description, info={"options": opts, **info(opts)},
        additive_ceilings=module.additive_ceilings(**opts),
        ceiling_kinds=ceiling_kinds(module.MODALITIES, module.EXACT_MODALITIES),
        oracle=module.oracle_predict)
