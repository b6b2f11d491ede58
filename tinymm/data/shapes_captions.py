"""shapes_captions: image + text recognition of coloured shapes from grey photos and captions.

The task (the seed's first application, object recognition from image + text): each sample is
a grey 16x16 photo of one shape and a short caption; the label is (shape, colour), 4 x 3 = 12
classes ("red circle", ..., "blue cross"). The photo is grey, so the colour is only in the
caption; the caption names the shape only sometimes, so the shape comes mainly from the photo.

Modalities (in mask order):

- ``image``: float32 (C, S, S), default (1, 16, 16) (``channels=3`` repeats the grey channel,
  ``image_size`` sets S). A filled circle, square, triangle or plus-shaped cross, random centre,
  radius 3.5-6 px (times S/16), rotation +-20 degrees, intensity 0.7-1 on a background of 0-0.2,
  2x2 supersampled; a small 2x2 blank occluder with probability 0.3 (shape stays
  recognisable); Gaussian pixel noise (std ``noise``, default 0.15). With probability
  ``occlusion_prob`` (default 0.1) a striped opaque patch covers the whole shape (it reaches
  1.35 radii + 1 px from the centre, past the rotated triangle's base corners at 1.35 radii):
  the photo then says nothing about the shape.
- ``text``: int64 (8,) token ids, left-aligned, padded with 0. Templates such as
  "a photo of a large red circle", "the blue thing", "a picture of a small object": the
  colour word is dropped with probability ``colour_drop_prob`` (default 0.05); the shape word
  appears with probability ``shape_mention_prob`` (default 0.3), otherwise a generic noun
  ("thing", "object"). The size word ("small"/"large") agrees with the photo but is not part
  of the label. Vocabulary (id: word): 0 <pad>, 1 <unk>, then ``VOCAB[2:]``.

Label: ``label = shape * 3 + colour``, shapes (circle, square, triangle, cross), colours
(red, green, blue); classes exactly balanced.

Ceilings (exact, by construction: the two factors are uniform and independent, and each view
either shows a factor or hides it independently; see ``tinymm.data._synth``). With
o = occlusion_prob, m = shape_mention_prob, d = colour_drop_prob:

    shape right | image        = 1 - o (1 - 1/4)
    shape right | text         = 1 - (1 - m)(1 - 1/4)
    shape right | image + text = 1 - o (1 - m)(1 - 1/4)
    colour right | text        = 1 - d (1 - 1/3),   colour right | no text = 1/3
    ceiling(S) = P(shape right | S) * P(colour right | S)

Defaults: image 0.3083, text 0.4592, image+text 0.9159. Kinds: the text ceiling is exact
for the token rows; subsets with the photo are upper bounds (they assume every unoccluded
shape is recognised through the noise). Additive (late-fusion) ceilings equal these: the
views are conditionally independent given the label.

Interaction dial ``interaction`` (default 0, the data above bit for bit): with that
probability a sample is *keyed*: a key k uniform in {0, 1, 2} shifts the caption's colour word
to colour + k (mod 3) and the photo shows k (a bright top row for 1, bottom row for 2). The
colour then needs both modalities (a modular sum, an XOR-like synergy): the full ceiling stays
0.9159 while the additive one falls (0.6159 at 0.5, 0.3158 at 1).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from . import _synth as S
from .dataset import MultimodalDataset

NAME = "shapes_captions"
MODALITIES = ("image", "text")
SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = ("red", "green", "blue")
CLASS_NAMES = tuple(f"{c} {s}" for s in SHAPES for c in COLOURS)
NUM_CLASSES = len(CLASS_NAMES)
TEXT_LENGTH = 8
DEFAULT_SIZES = {"train": 3000, "val": 600, "test": 1200}
DEFAULTS = {"occlusion_prob": 0.1, "shape_mention_prob": 0.3, "colour_drop_prob": 0.05,
            "noise": 0.15, "image_size": 16, "channels": 1, "interaction": 0.0}
EXACT_MODALITIES = ("text",)   # token ids show exactly their latent views; the photo is noisy
# circumradius of the largest shape in radius units (the triangle's base corners: 1.348), so
# the full occluder, reaching this far plus a pixel from the centre, hides every shape
_EXTENT = 1.35

VOCAB, INDEX = S.make_vocab(
    ["a", "the", "photo", "picture", "of", "small", "large", *COLOURS, *SHAPES, "thing", "object"])


def _options(fn: str, options) -> dict:
    opts = S.merge_options(fn, DEFAULTS, options)
    for key in ("occlusion_prob", "shape_mention_prob", "colour_drop_prob", "interaction"):
        S.check_prob(fn, key, opts[key])
    S.check_nonneg(fn, "noise", opts["noise"])
    if opts["channels"] not in (1, 3):
        raise ValueError(f"{fn}: channels must be 1 or 3, got {opts['channels']!r}")
    if not isinstance(opts["image_size"], int) or opts["image_size"] < 12:
        raise ValueError(f"{fn}: image_size must be an int >= 12, got {opts['image_size']!r}")
    return opts


def states(**options):
    """Every latent state as (probability, label, {modality: what an ideal reader sees})."""
    o = _options("shapes_captions.states", options)
    occ, men, drop = o["occlusion_prob"], o["shape_mention_prob"], o["colour_drop_prob"]
    keys = S.key_probs(len(COLOURS), o["interaction"])
    for label in range(NUM_CLASSES):
        shape, colour = divmod(label, len(COLOURS))
        for occluded, named, dropped in itertools.product((False, True), repeat=3):
            p = ((occ if occluded else 1 - occ) * (men if named else 1 - men)
                 * (drop if dropped else 1 - drop) / NUM_CLASSES)
            for k, pk in enumerate(keys):
                if pk * p > 0:
                    yield p * pk, label, {
                        "image": (None if occluded else shape, k),
                        "text": (shape if named else None,
                                 None if dropped else (colour + k) % len(COLOURS))}


def additive_ceilings(**options) -> S.CeilingTable:
    """Accuracy of late fusion (product of per-modality Bayes posteriors) per subset."""
    return S.enumerated_ceilings(MODALITIES, states(**options))[1]


def ceilings(**options) -> S.CeilingTable:
    """Bayes-optimal accuracy per modality subset for these options (see module docstring)."""
    o = _options("shapes_captions.ceilings", options)
    if o["interaction"] > 0:
        return S.enumerated_ceilings(MODALITIES, states(**o))[0]
    return S.factor_ceilings(MODALITIES, [
        (len(SHAPES), {"image": o["occlusion_prob"], "text": 1 - o["shape_mention_prob"]}),
        (len(COLOURS), {"text": o["colour_drop_prob"]}),
    ])


def sample_latents(n: int, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """The generating variables: label, its factors and which view shows which factor."""
    o = _options("shapes_captions.sample_latents", options)
    label = S.balanced_labels(n, NUM_CLASSES, rng)
    return {
        "label": label,
        "shape": label // len(COLOURS),
        "colour": label % len(COLOURS),
        "image_occluded": S.bernoulli(rng, o["occlusion_prob"], n),
        "text_names_shape": S.bernoulli(rng, o["shape_mention_prob"], n),
        "text_drops_colour": S.bernoulli(rng, o["colour_drop_prob"], n),
        "key": S.sample_key(rng, n, len(COLOURS), o["interaction"]),
    }


def oracle_predict(latents: dict[str, np.ndarray], subset) -> np.ndarray:
    """The Bayes-optimal prediction from the modalities in ``subset``, read off the latents.

    Each factor is read from a view in ``subset`` that shows it, else guessed (value 0).
    The caption shows colour + key (mod 3); the key is read from the photo when it is in
    ``subset``, else taken as 0 (its most likely value).
    """
    subset = S.check_subset("shapes_captions.oracle_predict", subset, MODALITIES)
    shape_seen = np.zeros_like(latents["image_occluded"])
    if "image" in subset:
        shape_seen |= ~latents["image_occluded"]
    if "text" in subset:
        shape_seen |= latents["text_names_shape"]
    colour_seen = ~latents["text_drops_colour"] if "text" in subset else shape_seen & False
    shape = np.where(shape_seen, latents["shape"], 0)
    key = latents.get("key", np.zeros_like(latents["colour"]))
    shown = (latents["colour"] + key) % len(COLOURS)            # the caption's colour word
    colour = np.where(colour_seen, (shown - key) % len(COLOURS) if "image" in subset else shown, 0)
    return (shape * len(COLOURS) + colour).astype(np.int64)


# --------------------------------------------------------------------------- rendering
def _shape_masks(shape: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-shape test in the shape's own frame (u, v in radius units, v pointing down).

    shape (N,), u, v (N, H, W) -> (N, H, W) bool.
    """
    au, av = np.abs(u), np.abs(v)
    circle = u * u + v * v <= 1.0
    square = np.maximum(au, av) <= 0.82                        # similar area to the circle
    triangle = (v >= -0.95) & (v <= 0.8) & (au <= 0.62 * (v + 0.95))  # apex up
    cross = ((au <= 0.3) & (av <= 0.97)) | ((av <= 0.3) & (au <= 0.97))
    table = np.stack([circle, square, triangle, cross])      # (4, N, H, W)
    return table[shape, np.arange(shape.shape[0])]


def render_images(lat: dict, rng: np.random.Generator, noise: float, image_size: int,
                  channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Latents -> (N, C, S, S) float32 photos, and (N,) bool "drawn large" for the captions."""
    n, size = lat["label"].shape[0], image_size
    scale = size / 16
    radius = rng.uniform(3.5, 6.0, n) * scale                                  # (N,)
    cx, cy = (rng.uniform(radius + 0.5, size - radius - 0.5) for _ in range(2))
    angle = rng.uniform(-np.pi / 9, np.pi / 9, n)
    sub = (np.arange(2 * size) + 0.5) / 2                                      # (2S,) sub-pixels
    dx = (sub[None, None, :] - cx[:, None, None]) / radius[:, None, None]      # (N, 1, 2S)
    dy = (sub[None, :, None] - cy[:, None, None]) / radius[:, None, None]      # (N, 2S, 1)
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy                           # (N, 2S, 2S)
    inside = _shape_masks(lat["shape"], u, v)
    coverage = inside.reshape(n, size, 2, size, 2).mean(axis=(2, 4))           # (N, S, S)
    background = rng.uniform(0.0, 0.2, (n, 1, 1))
    ink = rng.uniform(0.7, 1.0, (n, 1, 1))
    img = background + coverage * (ink - background)
    rows = np.arange(size)
    # small occluder: a 2x2 patch of background somewhere (the shape stays recognisable)
    small = S.bernoulli(rng, 0.3, n)
    oy, ox = (rng.integers(0, size - 1, n) for _ in range(2))
    box = ((rows[None, :, None] - oy[:, None, None]) % size < 2) & (
        (rows[None, None, :] - ox[:, None, None]) % size < 2)
    img = np.where(small[:, None, None] & box, background, img)
    # full occluder: a striped opaque patch over the shape's whole extent
    reach = _EXTENT * radius[:, None, None] + 1.0
    cover = (np.abs(rows[None, :, None] + 0.5 - cy[:, None, None]) <= reach) & (
        np.abs(rows[None, None, :] + 0.5 - cx[:, None, None]) <= reach)
    stripes = np.where(rows % 2 == 0, 0.25, 0.75)[None, None, :]
    img = np.where(lat["image_occluded"][:, None, None] & cover, stripes, img)
    key = lat.get("key")
    if key is not None and key.any():  # interaction key: a bright top (1) or bottom (2) row
        img = np.where((key[:, None, None] == 1) & (rows[None, :, None] == 0), 1.0, img)
        img = np.where((key[:, None, None] == 2) & (rows[None, :, None] == size - 1), 1.0, img)
    img = img + noise * rng.standard_normal(img.shape)
    img = np.repeat(img[:, None], channels, axis=1)                            # (N, C, S, S)
    return np.ascontiguousarray(img, dtype=np.float32), radius > 4.75 * scale


def render_captions(lat: dict, rng: np.random.Generator, radius_large: np.ndarray) -> np.ndarray:
    """Latents -> (N, 8) int64 captions (see module docstring for the templates)."""
    n = lat["label"].shape[0]
    w = S.TokenWriter(n, TEXT_LENGTH)
    # templates: 0 "a photo of a ...", 1 "the ...", 2 "a picture of a ..."
    template = rng.integers(0, 3, n)
    w.write(INDEX["a"], template != 1)
    w.write(INDEX["the"], template == 1)
    w.write(np.where(template == 0, INDEX["photo"], INDEX["picture"]), template != 1)
    w.write(INDEX["of"], template != 1)
    w.write(INDEX["a"], template != 1)
    w.write(np.where(radius_large, INDEX["large"], INDEX["small"]), S.bernoulli(rng, 0.5, n))
    shown = (lat["colour"] + lat.get("key", 0)) % len(COLOURS)  # the key shifts the word
    w.write(S.ids_of(INDEX, COLOURS)[shown], ~lat["text_drops_colour"])
    generic = np.where(rng.random(n) < 0.5, INDEX["thing"], INDEX["object"])
    w.write(np.where(lat["text_names_shape"], S.ids_of(INDEX, SHAPES)[lat["shape"]], generic))
    return w.tokens


def render(lat: dict, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Latents -> the modality arrays, label and mask of a dataset."""
    o = _options("shapes_captions.render", options)
    image, large = render_images(lat, rng, o["noise"], o["image_size"], o["channels"])
    text = render_captions(lat, rng, large)  # its size word agrees with the drawn radius
    n = lat["label"].shape[0]
    return {"image": image, "text": text, "label": lat["label"].copy(),
            "mask": np.ones((n, len(MODALITIES)), dtype=bool)}


def describe(**options) -> str:
    """The module documentation followed by the ceilings for ``options``."""
    return (__doc__.strip() + "\n\nCeilings for these options:\n" + ceilings(**options).table()
            + "\n\nAdditive (late-fusion) ceilings:\n" + additive_ceilings(**options).table())


def build(size: int | None = None, seed: int = 0, split: str = "train",
          **options) -> MultimodalDataset:
    """Generate the ``split`` of shapes_captions (default sizes 3000 / 600 / 1200)."""
    return S.build_split(
        sys.modules[__name__], size, seed, split, options,
        description="Image + text recognition: shape from the grey photo, colour from the "
                    "caption; label = (shape, colour).",
        info=lambda opts: {"text_length": TEXT_LENGTH})
