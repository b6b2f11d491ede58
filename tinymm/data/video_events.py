"""video_events: image-sequence + audio + text events, each modality carrying one bit of the label.

The task (the seed's video analysis from image + text + audio): a short clip of an object
crossing the view, its sound and a subtitle. The label has 3 independent, uniform bits,
8 classes (exactly balanced): ``label = 4 * direction + 2 * pitch + subject``, with
direction (left, right) seen in the frames, pitch (low, high) heard in the audio and
subject (ball, bird) read in the subtitle; class names like "bird moving right, low tone".

Modalities (in mask order):

- ``video``: float32 (T, 1, 16, 16) frames, T = ``n_frames`` (default 4). A Gaussian blob
  (std 1.2 px) moves 1.5-2.2 px per frame horizontally (plus a slight vertical drift) from a
  random start; a static dimmer distractor blob with probability 0.5; pixel noise (std
  ``noise``, default 0.2). With probability ``static_prob`` (default 0.08) the object does not
  move (its position is drawn independently of the direction): the frames say nothing.
- ``audio``: a tone of 300 Hz (low) or 650 Hz (high), +-4 % detuned, with harmonics at 2x
  (weaker), starting 0-0.2 s and lasting 0.3-0.45 s, in white noise (std 0.25). With
  probability ``silent_prob`` (default 0.08) there is no tone. ``audio_format="spectrogram"``
  (default) gives float32 (32, 40) log-magnitude features (frequency first); ``"waveform"``
  gives float32 (1, 1312).
- ``text``: int64 (8,) token ids, left-aligned, padded with 0: "look the bird", "the ball
  moves right", "there is a thing going left", ... The subject word is replaced by "thing"
  with probability ``subject_drop_prob`` (default 0.08); the direction word appears with
  probability ``direction_mention_prob`` (default 0.25) and is then always right.
  Vocabulary (id: word): 0 <pad>, 1 <unk>, then ``VOCAB[2:]``.

Ceilings (exact, by construction: independent uniform bits, each view shows or hides its bit
independently). With s = static_prob, m = direction_mention_prob, a = silent_prob,
d = subject_drop_prob, P(bit right) = 1 - (product of hiding probabilities of the views in S) / 2:

    direction: video hides with s, text hides with 1 - m
    pitch:     audio hides with a
    subject:   text hides with d
    ceiling(S) = P(direction right | S) P(pitch right | S) P(subject right | S)

Defaults: video 0.2400, audio 0.2400, text 0.3000, audio+video 0.4608, text+video 0.4656,
audio+text 0.5760, audio+text+video 0.8940. Kinds: text exact (token rows), subsets with
frames or sound upper bounds. Additive (late-fusion) ceilings equal these.

Interaction dial ``interaction`` (default 0, the data above bit for bit): with that
probability a key bit k is drawn, the subtitle names subject xor k and every frame shows k
(a bright top row). Full ceilings unchanged; additive audio+text+video 0.4656 at 1.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from . import _synth as S
from .dataset import MultimodalDataset

NAME = "video_events"
MODALITIES = ("video", "audio", "text")
DIRECTIONS = ("left", "right")
PITCHES = ("low", "high")
SUBJECTS = ("ball", "bird")
CLASS_NAMES = tuple(f"{s} moving {d}, {p} tone" for d in DIRECTIONS for p in PITCHES
                    for s in SUBJECTS)
NUM_CLASSES = 8
TEXT_LENGTH = 8
IMAGE_SIZE = 16
TONES = (300.0, 650.0)
DEFAULT_SIZES = {"train": 3000, "val": 600, "test": 1200}
DEFAULTS = {"static_prob": 0.08, "silent_prob": 0.08, "subject_drop_prob": 0.08,
            "direction_mention_prob": 0.25, "noise": 0.2, "n_frames": 4,
            "audio_format": "spectrogram", "interaction": 0.0}
EXACT_MODALITIES = ("text",)

VOCAB, INDEX = S.make_vocab(["look", "the", "a", "there", "is", "moves", "going", "goes",
                             *SUBJECTS, "thing", *DIRECTIONS])


def _options(fn: str, options) -> dict:
    opts = S.merge_options(fn, DEFAULTS, options)
    for key in ("static_prob", "silent_prob", "subject_drop_prob", "direction_mention_prob",
                "interaction"):
        S.check_prob(fn, key, opts[key])
    S.check_nonneg(fn, "noise", opts["noise"])
    if not isinstance(opts["n_frames"], int) or not 2 <= opts["n_frames"] <= 6:
        raise ValueError(f"{fn}: n_frames must be an int in [2, 6], got {opts['n_frames']!r}")
    S.check_audio_format(fn, opts["audio_format"])
    return opts


def states(**options):
    """Every latent state as (probability, label, {modality: what an ideal reader sees})."""
    o = _options("video_events.states", options)
    s, a, d, m = (o[k] for k in ("static_prob", "silent_prob", "subject_drop_prob",
                                 "direction_mention_prob"))
    keys = S.key_probs(2, o["interaction"])
    for label in range(NUM_CLASSES):
        direction, pitch, subject = label // 4, (label // 2) % 2, label % 2
        for static, silent, dropped, named, k in itertools.product((0, 1), repeat=5):
            prob = ((s if static else 1 - s) * (a if silent else 1 - a) * (d if dropped else 1 - d)
                    * (m if named else 1 - m) * keys[k] / NUM_CLASSES)
            if prob > 0:   # the subtitle shows subject xor key, the frames show the key
                yield prob, label, {"video": (None if static else direction, k),
                                    "audio": None if silent else pitch,
                                    "text": (direction if named else None,
                                             None if dropped else subject ^ k)}


def additive_ceilings(**options) -> S.CeilingTable:
    """Accuracy of late fusion (product of per-modality Bayes posteriors) per subset."""
    return S.enumerated_ceilings(MODALITIES, states(**options))[1]


def ceilings(**options) -> S.CeilingTable:
    """Bayes-optimal accuracy per modality subset for these options (see module docstring)."""
    o = _options("video_events.ceilings", options)
    if o["interaction"] > 0:
        return S.enumerated_ceilings(MODALITIES, states(**o))[0]
    return S.factor_ceilings(MODALITIES, [
        (2, {"video": o["static_prob"], "text": 1 - o["direction_mention_prob"]}),
        (2, {"audio": o["silent_prob"]}),
        (2, {"text": o["subject_drop_prob"]}),
    ])


def sample_latents(n: int, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """The three label bits and which view shows which bit."""
    o = _options("video_events.sample_latents", options)
    label = S.balanced_labels(n, NUM_CLASSES, rng)
    return {
        "label": label, "direction": label // 4, "pitch": (label // 2) % 2, "subject": label % 2,
        "video_static": S.bernoulli(rng, o["static_prob"], n),
        "audio_silent": S.bernoulli(rng, o["silent_prob"], n),
        "text_drops_subject": S.bernoulli(rng, o["subject_drop_prob"], n),
        "text_names_direction": S.bernoulli(rng, o["direction_mention_prob"], n),
        "key": S.sample_key(rng, n, 2, o["interaction"]),
    }


def oracle_predict(latents: dict[str, np.ndarray], subset) -> np.ndarray:
    """Bayes-optimal prediction: each bit read from a view in ``subset`` showing it, else 0."""
    subset = S.check_subset("video_events.oracle_predict", subset, MODALITIES)
    n = latents["label"].shape[0]
    none = np.zeros(n, dtype=bool)
    dir_seen = (~latents["video_static"] if "video" in subset else none) | (
        latents["text_names_direction"] if "text" in subset else none)
    pitch_seen = ~latents["audio_silent"] if "audio" in subset else none
    subj_seen = ~latents["text_drops_subject"] if "text" in subset else none
    key = latents.get("key", np.zeros_like(latents["subject"]))
    shown = latents["subject"] ^ key             # the subtitle's subject; the frames show the key
    subject = shown ^ key if "video" in subset else shown
    bits = [np.where(seen, v, 0) for seen, v in
            ((dir_seen, latents["direction"]), (pitch_seen, latents["pitch"]),
             (subj_seen, subject))]
    return (4 * bits[0] + 2 * bits[1] + bits[2]).astype(np.int64)


# --------------------------------------------------------------------------- rendering
def _blobs(x: np.ndarray, y: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian blobs centred at (x, y) (any shape B) -> (*B, 16, 16) float32."""
    grid = np.arange(IMAGE_SIZE, dtype=np.float32) + np.float32(0.5)
    gx = np.exp(-((grid - x[..., None]) ** 2) / (2 * sigma**2))              # (*B, W)
    gy = np.exp(-((grid - y[..., None]) ** 2) / (2 * sigma**2))              # (*B, H)
    return (gy[..., :, None] * gx[..., None, :]).astype(np.float32)         # (*B, H, W)


def render_video(lat: dict, rng: np.random.Generator, noise: float, n_frames: int) -> np.ndarray:
    """Latents -> (N, T, 1, 16, 16) float32 frames."""
    n, span = lat["label"].shape[0], n_frames - 1
    speed = rng.uniform(1.5, 2.2, n) * np.where(lat["direction"] == 1, 1.0, -1.0)
    speed = np.where(lat["video_static"], 0.0, speed)
    travel = np.abs(speed) * span
    # start where the whole path stays inside [2, 14]
    x0 = rng.uniform(2.0, 14.0 - travel)
    x0 = np.where(speed < 0, x0 + travel, x0)
    y0 = rng.uniform(3.0, 13.0, n)
    drift = rng.uniform(-0.4, 0.4, n)
    steps = np.arange(n_frames)[None, :]                                     # (1, T)
    xs, ys = x0[:, None] + speed[:, None] * steps, y0[:, None] + drift[:, None] * steps
    frames = rng.uniform(0.8, 1.2, (n, 1, 1, 1)) * _blobs(xs, ys, sigma=1.2)  # (N, T, H, W)
    # a static distractor blob (same place in every frame)
    has = S.bernoulli(rng, 0.5, n)
    dx, dy = rng.uniform(1.0, 15.0, n), rng.uniform(1.0, 15.0, n)
    frames += np.where(has, 0.6, 0.0)[:, None, None, None].astype(np.float32) * _blobs(
        dx, dy)[:, None]
    key = lat.get("key")
    if key is not None and key.any():  # interaction key: a bright top row in every frame
        frames[key == 1, :, 0, :] = 1.0
    frames += S.noise_like(rng, frames.shape, noise)
    return np.ascontiguousarray(frames[:, :, None], dtype=np.float32)       # (N, T, 1, H, W)


def render_sound(lat: dict, rng: np.random.Generator) -> np.ndarray:
    """Latents -> (N, L) float32 waveform: a low or high tone (or none) in noise."""
    n = lat["label"].shape[0]
    f32 = np.float32
    freq = np.asarray(TONES, f32)[lat["pitch"]] * (1 + 0.04 * rng.uniform(-1, 1, n)).astype(f32)
    onset = rng.uniform(0.0, 0.2, n)
    env = S.envelope(onset, onset + rng.uniform(0.3, 0.45, n))
    env = env * np.where(lat["audio_silent"], f32(0), f32(1))[:, None]
    freq = np.broadcast_to(freq[:, None], env.shape)
    wave = S.tone(freq, env, rng) + S.tone(2 * freq, 0.3 * env, rng)
    return wave + S.noise_like(rng, wave.shape, 0.25)


def render_subtitles(lat: dict, rng: np.random.Generator) -> np.ndarray:
    """Latents -> (N, 8) int64 subtitles."""
    n = lat["label"].shape[0]
    w = S.TokenWriter(n, TEXT_LENGTH)
    template = rng.integers(0, 3, n)  # 0: "look the S [goes D]"  1: "the S moves [D]"
    w.write(INDEX["look"], template == 0)  # 2: "there is a S [going D]"
    w.write(INDEX["there"], template == 2)
    w.write(INDEX["is"], template == 2)
    w.write(np.where(template == 2, INDEX["a"], INDEX["the"]))
    subject = S.ids_of(INDEX, SUBJECTS)[lat["subject"] ^ lat.get("key", 0)]  # interaction key
    w.write(np.where(lat["text_drops_subject"], INDEX["thing"], subject))
    named = lat["text_names_direction"]
    w.write(INDEX["moves"], template == 1)
    w.write(INDEX["goes"], named & (template == 0))
    w.write(INDEX["going"], named & (template == 2))
    w.write(S.ids_of(INDEX, DIRECTIONS)[lat["direction"]], named)
    return w.tokens


def render(lat: dict, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Latents -> the modality arrays, label and mask of a dataset."""
    o = _options("video_events.render", options)
    video = render_video(lat, rng, o["noise"], o["n_frames"])
    audio = S.audio_output(render_sound(lat, rng), o["audio_format"])
    text = render_subtitles(lat, rng)
    n = lat["label"].shape[0]
    return {"video": video, "audio": audio, "text": text, "label": lat["label"].copy(),
            "mask": np.ones((n, len(MODALITIES)), dtype=bool)}


def describe(**options) -> str:
    """The module documentation followed by the ceilings for ``options``."""
    return (__doc__.strip() + "\n\nCeilings for these options:\n" + ceilings(**options).table()
            + "\n\nAdditive (late-fusion) ceilings:\n" + additive_ceilings(**options).table())


def build(size: int | None = None, seed: int = 0, split: str = "train",
          **options) -> MultimodalDataset:
    """Generate the ``split`` of video_events (default sizes 3000 / 600 / 1200)."""
    return S.build_split(
        sys.modules[__name__], size, seed, split, options,
        description="Video + audio + text events: direction from the frames, pitch from the "
                    "sound, subject from the subtitle.",
        info=lambda opts: {"text_length": TEXT_LENGTH, "sample_rate": S.SAMPLE_RATE,
                           "audio": S.audio_description(opts["audio_format"])})
