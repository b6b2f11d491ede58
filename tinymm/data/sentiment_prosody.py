"""sentiment_prosody: text + audio sentiment where word order matters and prosody flips the label.

The task (the seed's sentiment analysis from text + audio): a spoken review. The label is the
speaker's real sentiment (0 negative, 1 positive, exactly balanced). The words state a
*literal* polarity; a sarcastic speaker (probability ``sarcasm_prob``, default 0.3) means the
opposite, and only the voice tells sarcasm apart. The voice's energy contour also betrays the
real sentiment, but only part of the time.

Modalities (in mask order):

- ``text``: int64 (10,) token ids, left-aligned, padded with 0. Sentences such as
  "the film was not good", "the show was really boring", or two clauses
  "the meal was good but not great" / "the book was not bad and fun" whose *last* clause
  carries the literal polarity (the conjunction is "and" when the clauses agree, "but"
  otherwise). Negation flips a clause, so word order matters: "good and not bad" and
  "not good and bad" have the same bag of words and opposite polarity. With probability
  ``neutral_prob`` (default 0.1) the sentence is neutral ("the trip was long and new") and
  says nothing. Vocabulary (id: word): 0 <pad>, 1 <unk>, then ``VOCAB[2:]``.
- ``audio``: a synthetic voice, 0.656 s at 2 kHz: two harmonics of a pitch f0(t) = b c(t),
  b ~ U(140, 200) Hz, amplitude = random gain x energy contour x syllable rhythm, plus white
  noise (std ``noise``, default 0.1). Pitch contour c: sincere = falling (1.25 -> 0.75),
  sarcastic = rise-fall (0.8 -> 1.5 -> 0.8), or, with probability ``flat_pitch_prob``
  (default 0.1), flat (sarcasm unreadable). Energy contour: rising for positive, falling for
  negative, or, with probability ``flat_energy_prob`` (default 0.6), flat (sentiment
  unreadable from the voice). ``audio_format="spectrogram"`` (default) gives float32 (32, 40)
  log-magnitude features (frequency first, for Conv1d); ``"waveform"`` gives float32 (1, 1312).

Ceilings (exact): with r = sarcasm_prob (< 0.5), t = neutral_prob, p = flat_pitch_prob,
e = flat_energy_prob, the Bayes-optimal predictor reads the energy when it is not flat, else
the literal polarity (flipped when the pitch says sarcastic), else guesses:

    text         (1 - t)(1 - r) + t / 2
    audio        (1 - e) + e / 2
    audio+text   (1 - e) + e [(1 - t)(1 - p) + (1 - t) p (1 - r) + t / 2]

Defaults: text 0.6800, audio 0.7000, audio+text 0.9538. ``ceilings()`` computes them by exact
enumeration of the latent states; a test checks them against ``oracle_predict``. Kinds: text
exact for the token rows, subsets with the voice upper bounds (noise, random pitch and gain).

Additive (late-fusion) ceiling, from the product of the per-modality posteriors: sarcasm is
an XOR of the words and the pitch, which no sum of per-modality evidence reads, so
audio+text is 0.8080 = (1 - e) + e x (text alone), against 0.9538 with interaction.

Interaction dial ``interaction`` (default 0, the data above bit for bit): with that
probability a key bit k is drawn, the energy contour shows label xor k and the text ends with
a trailing "really" when k = 1. Full ceiling unchanged; additive 0.7080 at 0.5, 0.6800 at 1.
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict

import numpy as np

from . import _synth as S
from .dataset import MultimodalDataset

NAME = "sentiment_prosody"
MODALITIES = ("text", "audio")
CLASS_NAMES = ("negative", "positive")
NUM_CLASSES = 2
TEXT_LENGTH = 10
DEFAULT_SIZES = {"train": 3000, "val": 600, "test": 1200}
DEFAULTS = {"sarcasm_prob": 0.3, "neutral_prob": 0.1, "flat_pitch_prob": 0.1,
            "flat_energy_prob": 0.6, "noise": 0.1, "audio_format": "spectrogram",
            "interaction": 0.0}
EXACT_MODALITIES = ("text",)

SUBJECTS = ("movie", "film", "show", "book", "meal", "trip")
NEGATIVE = ("bad", "boring", "awful", "dull", "terrible")
POSITIVE = ("good", "great", "fun", "lovely", "brilliant")
NEUTRAL = ("long", "short", "new", "old", "french")
VOCAB, INDEX = S.make_vocab(["the", "was", "really", "not", "and", "but",
                             *SUBJECTS, *NEGATIVE, *POSITIVE, *NEUTRAL])
_POLAR = np.stack([S.ids_of(INDEX, NEGATIVE), S.ids_of(INDEX, POSITIVE)])  # (2, 5): [polarity, k]


def _options(fn: str, options) -> dict:
    opts = S.merge_options(fn, DEFAULTS, options)
    S.check_prob(fn, "sarcasm_prob", opts["sarcasm_prob"])
    if opts["sarcasm_prob"] >= 0.5:
        raise ValueError(f"{fn}: sarcasm_prob must be < 0.5 (sarcasm is the exception), "
                         f"got {opts['sarcasm_prob']}")
    for key in ("neutral_prob", "flat_pitch_prob", "flat_energy_prob", "interaction"):
        S.check_prob(fn, key, opts[key])
    S.check_nonneg(fn, "noise", opts["noise"])
    S.check_audio_format(fn, opts["audio_format"])
    return opts


def states(**options):
    """Every latent state as (probability, label, {modality: what an ideal reader sees})."""
    o = _options("sentiment_prosody.states", options)
    r, t, p, e = (o[k] for k in ("sarcasm_prob", "neutral_prob", "flat_pitch_prob",
                                 "flat_energy_prob"))
    keys = S.key_probs(2, o["interaction"])
    for y, z, neutral, flat_pitch, flat_energy, k in itertools.product((0, 1), repeat=6):
        prob = (0.5 * (r if z else 1 - r) * (t if neutral else 1 - t)
                * (p if flat_pitch else 1 - p) * (e if flat_energy else 1 - e) * keys[k])
        if prob > 0:
            yield prob, y, {"text": (None if neutral else y ^ z, k),
                            "audio": (None if flat_pitch else z, None if flat_energy else y ^ k)}


def additive_ceilings(**options) -> S.CeilingTable:
    """Accuracy of late fusion (product of per-modality Bayes posteriors) per subset."""
    return S.enumerated_ceilings(MODALITIES, states(**options))[1]


def ceilings(**options) -> S.CeilingTable:
    """Exact Bayes ceilings by enumerating the 32 latent states (label, sarcasm, 3 erasures)."""
    o = _options("sentiment_prosody.ceilings", options)
    if o["interaction"] > 0:
        return S.enumerated_ceilings(MODALITIES, states(**o))[0]
    r, t, p, e = (o[k] for k in ("sarcasm_prob", "neutral_prob", "flat_pitch_prob",
                                 "flat_energy_prob"))
    table = S.CeilingTable()
    for subset in S.all_subsets(MODALITIES):
        joint = defaultdict(lambda: [0.0, 0.0])  # observation -> P(obs, y) for y = 0, 1
        for y, z, neutral, flat_pitch, flat_energy in itertools.product((0, 1), repeat=5):
            prob = (0.5 * (r if z else 1 - r) * (t if neutral else 1 - t)
                    * (p if flat_pitch else 1 - p) * (e if flat_energy else 1 - e))
            obs = ()
            if "text" in subset:
                obs += (None if neutral else y ^ z,)
            if "audio" in subset:
                obs += (None if flat_pitch else z, None if flat_energy else y)
            joint[obs][y] += prob
        table[S.subset_key(subset)] = sum(max(v) for v in joint.values())
    return table


def sample_latents(n: int, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Label, sarcasm, literal polarity and which cue is readable, per sample."""
    o = _options("sentiment_prosody.sample_latents", options)
    label = S.balanced_labels(n, NUM_CLASSES, rng)
    sarcastic = S.bernoulli(rng, o["sarcasm_prob"], n)
    return {
        "label": label,
        "sarcastic": sarcastic,
        "literal": label ^ sarcastic,               # the polarity the words state
        "text_neutral": S.bernoulli(rng, o["neutral_prob"], n),
        "pitch_flat": S.bernoulli(rng, o["flat_pitch_prob"], n),
        "energy_flat": S.bernoulli(rng, o["flat_energy_prob"], n),
        "key": S.sample_key(rng, n, 2, o["interaction"]),
    }


def oracle_predict(latents: dict[str, np.ndarray], subset) -> np.ndarray:
    """Bayes-optimal prediction from the cues readable in ``subset`` (guess 0 when none)."""
    subset = S.check_subset("sentiment_prosody.oracle_predict", subset, MODALITIES)
    literal = latents["literal"].astype(np.int64)
    text_ok = ~latents["text_neutral"] if "text" in subset else np.zeros(literal.shape, bool)
    pred = np.where(text_ok, literal, 0)                           # sarcasm is the exception
    if "audio" in subset:
        pitch_ok = text_ok & ~latents["pitch_flat"]
        pred = np.where(pitch_ok, literal ^ latents["sarcastic"], pred)
        key = latents.get("key", np.zeros_like(literal))
        energy = latents["label"] ^ key                # the contour shows label xor key
        pred = np.where(~latents["energy_flat"], energy ^ key if "text" in subset else energy,
                        pred)
    return pred.astype(np.int64)


# --------------------------------------------------------------------------- rendering
def render_text(lat: dict, rng: np.random.Generator) -> np.ndarray:
    """Latents -> (N, 10) int64 sentences (see module docstring)."""
    n = lat["label"].shape[0]
    literal, neutral = lat["literal"].astype(np.int64), lat["text_neutral"]
    two = rng.random(n) < 0.5                          # two clauses
    w = S.TokenWriter(n, TEXT_LENGTH)
    w.write(INDEX["the"])
    w.write(S.ids_of(INDEX, SUBJECTS)[rng.integers(0, len(SUBJECTS), n)])
    w.write(INDEX["was"])
    w.write(INDEX["really"], ~two & (rng.random(n) < 0.3))
    # first clause: its own random polarity when there are two clauses
    first_pol = np.where(two, rng.integers(0, 2, n), literal)
    for clause, pol in ((0, first_pol), (1, literal)):
        rows = ~neutral & (two if clause == 1 else True)
        negated = rng.random(n) < 0.5
        adjective = _POLAR[pol ^ negated, rng.integers(0, 5, n)]
        w.write(INDEX["not"], rows & negated)
        w.write(adjective, rows)
        if clause == 0:
            w.write(np.where(first_pol == literal, INDEX["and"], INDEX["but"]), rows & two)
    # neutral sentences: one or two neutral adjectives, sometimes negated
    neutral_ids = S.ids_of(INDEX, NEUTRAL)
    w.write(INDEX["not"], neutral & (rng.random(n) < 0.3))
    w.write(neutral_ids[rng.integers(0, 5, n)], neutral)
    w.write(INDEX["and"], neutral & two)
    w.write(neutral_ids[rng.integers(0, 5, n)], neutral & two)
    key = lat.get("key")
    if key is not None and key.any():  # interaction key: a trailing "really" (never last else)
        w.write(INDEX["really"], key == 1)
    return w.tokens


def render_voice(lat: dict, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Latents -> (N, L) float32 waveform of the synthetic voice."""
    n = lat["label"].shape[0]
    f32 = np.float32
    t = S.time_axis()                                                    # (1, L) in [0, 1]
    rising, falling = 0.3 + 0.7 * t, 1.0 - 0.7 * t
    contour = np.where(lat["sarcastic"][:, None], 0.8 + 0.7 * np.sin(np.pi * t),
                       1.25 - 0.5 * t)                                   # (N, L)
    contour = np.where(lat["pitch_flat"][:, None], f32(1.0), contour)
    base = rng.uniform(140, 200, (n, 1)).astype(f32)
    f0 = base * contour
    shown = lat["label"] ^ lat.get("key", 0)                            # interaction key
    energy = np.where(shown[:, None] == 1, rising, falling)
    energy = np.where(lat["energy_flat"][:, None], f32(0.65), energy)
    # syllable rhythm: a mild 3-5 Hz amplitude modulation, same information for every class
    rate = rng.uniform(3, 5, (n, 1)).astype(f32) * f32(2 * np.pi * S.N_SAMPLES / S.SAMPLE_RATE)
    rhythm = 0.8 + 0.2 * np.sin(rate * t + rng.uniform(0, 2 * np.pi, (n, 1)).astype(f32))
    onset, offset = rng.uniform(0.0, 0.05, n), rng.uniform(0.6, 0.656, n)
    gain = rng.uniform(0.6, 1.2, (n, 1)).astype(f32)
    amp = gain * energy * rhythm * S.envelope(onset, offset)
    voice = S.tone(f0, amp, rng) + S.tone(2 * f0, 0.5 * amp, rng)
    return voice + S.noise_like(rng, voice.shape, noise)


def render(lat: dict, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Latents -> the modality arrays, label and mask of a dataset."""
    o = _options("sentiment_prosody.render", options)
    text = render_text(lat, rng)
    audio = S.audio_output(render_voice(lat, rng, o["noise"]), o["audio_format"])
    n = lat["label"].shape[0]
    return {"text": text, "audio": audio, "label": lat["label"].copy(),
            "mask": np.ones((n, len(MODALITIES)), dtype=bool)}


def describe(**options) -> str:
    """The module documentation followed by the ceilings for ``options``."""
    return (__doc__.strip() + "\n\nCeilings for these options:\n" + ceilings(**options).table()
            + "\n\nAdditive (late-fusion) ceilings:\n" + additive_ceilings(**options).table())


def build(size: int | None = None, seed: int = 0, split: str = "train",
          **options) -> MultimodalDataset:
    """Generate the ``split`` of sentiment_prosody (default sizes 3000 / 600 / 1200)."""
    return S.build_split(
        sys.modules[__name__], size, seed, split, options,
        description="Text + audio sentiment: literal polarity from the words (order matters), "
                    "sarcasm and energy from the voice.",
        info=lambda opts: {"text_length": TEXT_LENGTH, "sample_rate": S.SAMPLE_RATE,
                           "audio": S.audio_description(opts["audio_format"])})
