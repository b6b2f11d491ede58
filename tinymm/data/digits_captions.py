"""digits_captions: shapes_captions on real handwriting (scikit-learn's bundled 8x8 digits).

Optional: needs scikit-learn (``sklearn.datasets.load_digits``, 1797 images shipped with the
package, nothing downloaded), imported only when the data set is built. Without scikit-learn
``tinymm.data.list_datasets()`` leaves it out and building it raises ImportError.

The task: a grey photo of a handwritten digit and a caption; the label is (digit, ink colour),
10 x 2 = 20 classes ("red 0", "blue 0", ..., "blue 9"), exactly balanced. The colour is only in
the caption; the caption names the digit only sometimes.

Modalities (in mask order):

- ``image``: float32 (1, S, S), S = ``image_size`` (16 by 2x2 pixel repetition, default, or 8);
  ink in [0, 1] plus Gaussian noise (std ``noise``, default 0.1). With probability
  ``occlusion_prob`` (default 0.1) a striped opaque patch covers the whole digit. The 1797
  images are split once per ``seed`` into disjoint pools (60 % train, 20 % val, 20 % test);
  samples draw images of the wanted digit from their split's pool, with replacement.
- ``text``: int64 (8,) token ids, left-aligned, padded with 0, e.g. "a photo of a red seven",
  "the blue digit": the colour word is dropped with probability ``colour_drop_prob`` (default
  0.05), the digit's name appears with probability ``digit_mention_prob`` (default 0.3).

Ceilings (upper bounds, ``info["ceilings_exact"] = False``): computed as for shapes_captions,
as if every unoccluded handwritten digit were recognisable (good classifiers reach ~98-99 % on
this set, so the true Bayes accuracy is slightly lower). With o, m, d as above:
digit right | S = 1 - (hiding probabilities of views in S) x 9/10, colour right | text = 1 - d/2.
Defaults: image 0.4550, text 0.3608, image+text 0.9136. Additive (late-fusion) ceilings
equal these. Interaction dial ``interaction`` (default 0): with that probability a key bit
k flips the caption's colour word and the photo shows k (a bright top row); additive
image+text 0.4685 at 1.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import zlib

import numpy as np

from . import _synth as S
from .dataset import MultimodalDataset

NAME = "digits_captions"
MODALITIES = ("image", "text")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOURS = ("red", "blue")
CLASS_NAMES = tuple(f"{c} {d}" for d in range(10) for c in COLOURS)
NUM_CLASSES = 20
TEXT_LENGTH = 8
DEFAULT_SIZES = {"train": 3000, "val": 600, "test": 1200}
DEFAULTS = {"occlusion_prob": 0.1, "digit_mention_prob": 0.3, "colour_drop_prob": 0.05,
            "noise": 0.1, "image_size": 16, "interaction": 0.0}
EXACT_MODALITIES = ("text",)
POOL_FRACTIONS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}

VOCAB, INDEX = S.make_vocab(["a", "the", "photo", "of", *COLOURS, *DIGIT_WORDS, "digit",
                             "number"])


def available() -> bool:
    """True when scikit-learn looks importable (checked without importing it: that is slow)."""
    if "sklearn" in sys.modules:
        return sys.modules["sklearn"] is not None
    try:
        return importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        return False


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        datasets = importlib.import_module("sklearn.datasets")
    except ImportError as err:
        raise ImportError("digits_captions: needs scikit-learn (sklearn.datasets.load_digits); "
                          "install scikit-learn or use shapes_captions") from err
    bunch = datasets.load_digits()
    return np.asarray(bunch.images, dtype=np.float32) / 16.0, np.asarray(bunch.target)


def _options(fn: str, options) -> dict:
    opts = S.merge_options(fn, DEFAULTS, options)
    for key in ("occlusion_prob", "digit_mention_prob", "colour_drop_prob", "interaction"):
        S.check_prob(fn, key, opts[key])
    S.check_nonneg(fn, "noise", opts["noise"])
    if opts["image_size"] not in (8, 16):
        raise ValueError(f"{fn}: image_size must be 8 or 16, got {opts['image_size']!r}")
    return opts


def states(**options):
    """Every latent state as (probability, label, {modality: what an ideal reader sees}),
    every unoccluded digit taken as recognisable."""
    o = _options("digits_captions.states", options)
    occ, men, drop = o["occlusion_prob"], o["digit_mention_prob"], o["colour_drop_prob"]
    keys = S.key_probs(2, o["interaction"])
    for label in range(NUM_CLASSES):
        digit, colour = divmod(label, 2)
        for occluded, named, dropped, k in itertools.product((0, 1), repeat=4):
            p = ((occ if occluded else 1 - occ) * (men if named else 1 - men)
                 * (drop if dropped else 1 - drop) * keys[k] / NUM_CLASSES)
            if p > 0:
                yield p, label, {"image": (None if occluded else digit, k),
                                 "text": (digit if named else None,
                                          None if dropped else colour ^ k)}


def additive_ceilings(**options) -> S.CeilingTable:
    """Accuracy of late fusion (product of per-modality Bayes posteriors) per subset."""
    return S.enumerated_ceilings(MODALITIES, states(**options))[1]


def ceilings(**options) -> S.CeilingTable:
    """Upper-bound ceilings (every unoccluded digit assumed recognisable)."""
    o = _options("digits_captions.ceilings", options)
    if o["interaction"] > 0:
        return S.enumerated_ceilings(MODALITIES, states(**o))[0]
    return S.factor_ceilings(MODALITIES, [
        (10, {"image": o["occlusion_prob"], "text": 1 - o["digit_mention_prob"]}),
        (2, {"text": o["colour_drop_prob"]}),
    ])


def sample_latents(n: int, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Label, digit, colour and which view shows which factor."""
    o = _options("digits_captions.sample_latents", options)
    label = S.balanced_labels(n, NUM_CLASSES, rng)
    return {
        "label": label, "digit": label // 2, "colour": label % 2,
        "image_occluded": S.bernoulli(rng, o["occlusion_prob"], n),
        "text_names_digit": S.bernoulli(rng, o["digit_mention_prob"], n),
        "text_drops_colour": S.bernoulli(rng, o["colour_drop_prob"], n),
        "key": S.sample_key(rng, n, 2, o["interaction"]),
    }


def oracle_predict(latents: dict[str, np.ndarray], subset) -> np.ndarray:
    """The prediction of an ideal reader of the views in ``subset`` (guess 0 when hidden)."""
    subset = S.check_subset("digits_captions.oracle_predict", subset, MODALITIES)
    none = np.zeros(latents["label"].shape[0], dtype=bool)
    digit_seen = (~latents["image_occluded"] if "image" in subset else none) | (
        latents["text_names_digit"] if "text" in subset else none)
    colour_seen = ~latents["text_drops_colour"] if "text" in subset else none
    digit = np.where(digit_seen, latents["digit"], 0)
    key = latents.get("key", np.zeros_like(latents["colour"]))
    shown = latents["colour"] ^ key              # the caption's colour; the photo shows the key
    colour = shown ^ key if "image" in subset else shown
    return (2 * digit + np.where(colour_seen, colour, 0)).astype(np.int64)


def render(lat: dict, rng: np.random.Generator, *, seed: int, split: str,
           **options) -> dict[str, np.ndarray]:
    """Latents -> arrays; images come from the ``split`` pool of the real digits."""
    o = _options("digits_captions.render", options)
    images, target = _load_digits()
    pool_rng = np.random.default_rng([zlib.crc32(NAME.encode()), seed, 99])  # same for all splits
    order = pool_rng.permutation(target.shape[0])
    lo, hi = (int(f * target.shape[0]) for f in POOL_FRACTIONS[split])
    pool = order[lo:hi]
    n = lat["label"].shape[0]
    chosen = np.empty(n, dtype=np.int64)
    for d in range(10):  # a random image of the wanted digit from this split's pool
        rows, candidates = np.flatnonzero(lat["digit"] == d), pool[target[pool] == d]
        chosen[rows] = candidates[rng.integers(0, candidates.shape[0], rows.shape[0])]
    img = images[chosen]                                                     # (N, 8, 8)
    if o["image_size"] == 16:
        img = img.repeat(2, axis=1).repeat(2, axis=2)                        # (N, 16, 16)
    stripes = np.where(np.arange(img.shape[2]) % 2 == 0, 0.25, 0.75).astype(np.float32)
    img = np.where(lat["image_occluded"][:, None, None], stripes[None, None, :], img)
    key = lat.get("key")
    if key is not None and key.any():  # interaction key: a bright top row
        img[key == 1, 0, :] = 1.0
    img = img + S.noise_like(rng, img.shape, o["noise"])
    return {"image": np.ascontiguousarray(img[:, None], dtype=np.float32),
            "text": render_captions(lat, rng), "label": lat["label"].copy(),
            "mask": np.ones((n, len(MODALITIES)), dtype=bool)}


def render_captions(lat: dict, rng: np.random.Generator) -> np.ndarray:
    """Latents -> (N, 8) int64 captions."""
    n = lat["label"].shape[0]
    w = S.TokenWriter(n, TEXT_LENGTH)
    long = rng.random(n) < 0.5                                   # "a photo of a ..." / "the ..."
    for word in ("a", "photo", "of", "a"):
        w.write(INDEX[word], long)
    w.write(INDEX["the"], ~long)
    w.write(S.ids_of(INDEX, COLOURS)[lat["colour"] ^ lat.get("key", 0)],   # interaction key
            ~lat["text_drops_colour"])
    generic = np.where(rng.random(n) < 0.5, INDEX["digit"], INDEX["number"])
    w.write(np.where(lat["text_names_digit"], S.ids_of(INDEX, DIGIT_WORDS)[lat["digit"]],
                     generic))
    return w.tokens


def describe(**options) -> str:
    """The module documentation followed by the ceilings for ``options``."""
    return (__doc__.strip() + "\n\nCeilings for these options:\n" + ceilings(**options).table()
            + "\n\nAdditive (late-fusion) ceilings:\n" + additive_ceilings(**options).table())


def build(size: int | None = None, seed: int = 0, split: str = "train",
          **options) -> MultimodalDataset:
    """Generate the ``split`` of digits_captions (needs scikit-learn)."""
    return S.build_split(
        sys.modules[__name__], size, seed, split, options,
        description="Image + text recognition on scikit-learn's handwritten digits: digit from "
                    "the photo, ink colour from the caption.",
        info=lambda opts: {"text_length": TEXT_LENGTH, "ceilings_exact": False},
        render_needs_seed=True)
