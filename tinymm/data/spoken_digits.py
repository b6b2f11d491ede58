"""spoken_digits: audio + text recognition of a spoken digit from noisy audio and a transcript.

The task (the seed's speech recognition from audio + text): someone says a digit 0-9 (label,
exactly balanced); a microphone records it in noise and a weak recogniser writes down a
transcript with most letters missing.

Modalities (in mask order):

- ``audio``: a formant-like tone pair per digit, 0.656 s at 2 kHz: a low "formant" F1 in
  (250, 340, 430, 520, 610) Hz picked by ``digit // 2`` and a high one F2 in (760, 900) Hz
  picked by ``digit % 2``, each with +-1.5 % detuning and a 5 Hz vibrato, starting at 0-0.15 s
  and lasting 0.35-0.5 s, in white noise (std ``noise``, default 0.25). The recording is
  clear with probability 1 - muffled_prob - masked_prob; *muffled* (``muffled_prob``,
  default 0.3: F2 lost, so the digit is known only up to the pair {2k, 2k+1}); or *masked*
  (``masked_prob``, default 0.15: the word is drowned by a noise burst, no tone at all).
  ``audio_format="spectrogram"`` (default) gives float32 (32, 40) log-magnitude features
  (frequency first); ``"waveform"`` gives float32 (1, 1312).
- ``text``: int64 (10,) token ids, left-aligned, padded with 0: an optional hesitation or
  prefix ("uh", "um", "she said", "the number is"), then the digit's English name letter by
  letter, each letter replaced by the mask token "_" with probability ``letter_mask_prob``
  (default 0.8), e.g. "um _ _ v _ n". Word lengths stay visible. Vocabulary (id: token):
  0 <pad>, 1 <unk>, then ``VOCAB[2:]``.

Ceilings (exact, by enumerating digit x audio state x letter-mask pattern; the digits
consistent with what is seen are equally likely, so the ceiling is E[1 / #consistent]).
Defaults: audio 0.7150, text 0.6677, audio+text 0.9348. Audio alone:
1 - muffled_prob / 2 - masked_prob * 9/10. Kinds: text exact (token rows), subsets with the
recording upper bounds (noise, detuning). Additive (late-fusion) ceilings equal these.

Interaction dial ``interaction`` (default 0, the data above bit for bit): with that
probability a key bit k is drawn, a clear recording's F2 shows (digit % 2) xor k and the
transcript ends with a trailing "uh" when k = 1. Full ceiling unchanged; the additive one
falls to 0.9066 at 1 (audio alone to 0.4400).
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict

import numpy as np

from . import _synth as S
from .dataset import MultimodalDataset

NAME = "spoken_digits"
MODALITIES = ("audio", "text")
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CLASS_NAMES = tuple(f"{d} ({w})" for d, w in enumerate(WORDS))
NUM_CLASSES = 10
TEXT_LENGTH = 10
MAX_WORD = max(len(w) for w in WORDS)
F1 = (250.0, 340.0, 430.0, 520.0, 610.0)
F2 = (760.0, 900.0)
CLEAR, MUFFLED, MASKED = 0, 1, 2
DEFAULT_SIZES = {"train": 3000, "val": 600, "test": 1200}
DEFAULTS = {"muffled_prob": 0.3, "masked_prob": 0.15, "letter_mask_prob": 0.8, "noise": 0.25,
            "audio_format": "spectrogram", "interaction": 0.0}
EXACT_MODALITIES = ("text",)

LETTERS = tuple(sorted(set("".join(WORDS))))
PREFIXES = ((), ("uh",), ("um",), ("she", "said"), ("the", "number", "is"))
VOCAB, INDEX = S.make_vocab(["_", *LETTERS, "uh", "um", "she", "said", "the", "number", "is"])
# (10, 5) letter token of each word position, PAD beyond the word's end
_WORD_IDS = np.array([[INDEX[c] for c in w] + [S.PAD] * (MAX_WORD - len(w)) for w in WORDS])
_WORD_LEN = np.array([len(w) for w in WORDS])


def _options(fn: str, options) -> dict:
    opts = S.merge_options(fn, DEFAULTS, options)
    for key in ("muffled_prob", "masked_prob", "letter_mask_prob", "interaction"):
        S.check_prob(fn, key, opts[key])
    if opts["muffled_prob"] + opts["masked_prob"] > 1:
        raise ValueError(f"{fn}: muffled_prob + masked_prob must be <= 1, got "
                         f"{opts['muffled_prob']} + {opts['masked_prob']}")
    S.check_nonneg(fn, "noise", opts["noise"])
    S.check_audio_format(fn, opts["audio_format"])
    return opts


def _audio_view(digit: int, state: int):
    return digit if state == CLEAR else digit // 2 if state == MUFFLED else None


def states(**options):
    """Every latent state as (probability, label, {modality: what an ideal reader sees})."""
    o = _options("spoken_digits.states", options)
    q = o["letter_mask_prob"]
    audio_states = ((CLEAR, 1 - o["muffled_prob"] - o["masked_prob"]),
                    (MUFFLED, o["muffled_prob"]), (MASKED, o["masked_prob"]))
    keys = S.key_probs(2, o["interaction"])
    for digit, word in enumerate(WORDS):
        for state, p_state in audio_states:
            for pattern in itertools.product((False, True), repeat=len(word)):
                n_masked = sum(pattern)
                prob = p_state * q ** n_masked * (1 - q) ** (len(word) - n_masked) / NUM_CLASSES
                letters = tuple("_" if m else c for m, c in zip(pattern, word))
                for k, pk in enumerate(keys):
                    if prob * pk > 0:   # a clear recording shows F2 = (digit % 2) xor key
                        audio = (state, None if state == MASKED else digit // 2,
                                 (digit % 2) ^ k if state == CLEAR else None)
                        yield prob * pk, digit, {"audio": audio, "text": (letters, k)}


def additive_ceilings(**options) -> S.CeilingTable:
    """Accuracy of late fusion (product of per-modality Bayes posteriors) per subset."""
    return S.enumerated_ceilings(MODALITIES, states(**options))[1]


def ceilings(**options) -> S.CeilingTable:
    """Exact Bayes ceilings by enumerating digit, audio state and letter-mask pattern."""
    o = _options("spoken_digits.ceilings", options)
    if o["interaction"] > 0:
        return S.enumerated_ceilings(MODALITIES, states(**o))[0]
    q = o["letter_mask_prob"]
    audio_states = ((CLEAR, 1 - o["muffled_prob"] - o["masked_prob"]),
                    (MUFFLED, o["muffled_prob"]), (MASKED, o["masked_prob"]))
    table = S.CeilingTable()
    for subset in S.all_subsets(MODALITIES):
        joint = defaultdict(lambda: np.zeros(NUM_CLASSES))  # observation -> P(obs, digit)
        for digit, word in enumerate(WORDS):
            for state, p_state in audio_states:
                for pattern in itertools.product((False, True), repeat=len(word)):
                    k = sum(pattern)
                    prob = p_state * q ** k * (1 - q) ** (len(word) - k) / NUM_CLASSES
                    obs = ()
                    if "audio" in subset:
                        obs += (state, _audio_view(digit, state))
                    if "text" in subset:
                        obs += (tuple("_" if m else c for m, c in zip(pattern, word)),)
                    joint[obs][digit] += prob
        table[S.subset_key(subset)] = float(sum(v.max() for v in joint.values()))
    return table


def sample_latents(n: int, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Digit, audio state (0 clear, 1 muffled, 2 masked) and the (N, 5) letter masks."""
    o = _options("spoken_digits.sample_latents", options)
    digit = S.balanced_labels(n, NUM_CLASSES, rng)
    u = rng.random(n)
    state = np.where(u < o["masked_prob"], MASKED,
                     np.where(u < o["masked_prob"] + o["muffled_prob"], MUFFLED, CLEAR))
    return {"label": digit, "audio_state": state.astype(np.int64),
            "letter_masked": rng.random((n, MAX_WORD)) < o["letter_mask_prob"],
            "key": S.sample_key(rng, n, 2, o["interaction"])}


def oracle_predict(latents: dict[str, np.ndarray], subset) -> np.ndarray:
    """Bayes-optimal prediction: the smallest digit consistent with what ``subset`` shows.

    All consistent digits are equally likely (uniform prior; equal likelihoods: same audio
    state, same word length and mask pattern), so any of them is a MAP choice.
    """
    subset = S.check_subset("spoken_digits.oracle_predict", subset, MODALITIES)
    digit, state = latents["label"], latents["audio_state"]
    cand = np.arange(NUM_CLASSES)[None, :]                                     # (1, 10)
    ok = np.ones((digit.shape[0], NUM_CLASSES), dtype=bool)                    # (N, 10)
    if "audio" in subset:
        # a clear recording shows F1 (digit // 2) and F2 = (digit % 2) xor key; the key is
        # read from the transcript when it is in ``subset``, else taken as 0 (most likely)
        key = latents.get("key", np.zeros_like(digit))
        f2 = (digit % 2) ^ key if "text" not in subset else digit % 2
        ok &= np.where((state != MASKED)[:, None], cand // 2 == (digit // 2)[:, None], True)
        ok &= np.where((state == CLEAR)[:, None], cand % 2 == f2[:, None], True)
    if "text" in subset:
        seen = _WORD_IDS[digit]                                                # (N, 5)
        same_letters = (_WORD_IDS[None, :, :] == seen[:, None, :]) | latents["letter_masked"][
            :, None, :]                                                        # (N, 10, 5)
        ok &= same_letters.all(axis=2) & (_WORD_LEN[None, :] == _WORD_LEN[digit][:, None])
    return np.argmax(ok, axis=1).astype(np.int64)                              # first True


# --------------------------------------------------------------------------- rendering
def render_text(lat: dict, rng: np.random.Generator) -> np.ndarray:
    """Latents -> (N, 10) int64 transcripts."""
    n = lat["label"].shape[0]
    w = S.TokenWriter(n, TEXT_LENGTH)
    prefix = rng.integers(0, len(PREFIXES), n)
    for p, words in enumerate(PREFIXES):
        for word in words:
            w.write(INDEX[word], prefix == p)
    letters = np.where(lat["letter_masked"], INDEX["_"], _WORD_IDS[lat["label"]])  # (N, 5)
    length = _WORD_LEN[lat["label"]]
    for pos in range(MAX_WORD):
        w.write(letters[:, pos], pos < length)
    key = lat.get("key")
    if key is not None and key.any():  # interaction key: a trailing "uh" (only a prefix else)
        w.write(INDEX["uh"], key == 1)
    return w.tokens


def render_voice(lat: dict, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Latents -> (N, L) float32 waveform."""
    n = lat["label"].shape[0]
    f32 = np.float32
    t = S.time_axis() * f32(S.N_SAMPLES / S.SAMPLE_RATE)                     # (1, L) seconds
    onset = rng.uniform(0.0, 0.15, n)
    offset = onset + rng.uniform(0.35, 0.5, n)
    env = S.envelope(onset, offset)                                         # (N, L)
    vibrato = 1 + 0.01 * np.sin(f32(2 * np.pi * 5) * t + rng.uniform(0, 6.3, (n, 1)).astype(f32))
    detune = lambda: (1 + 0.015 * rng.standard_normal((n, 1))).astype(f32)
    f1 = np.asarray(F1, f32)[lat["label"] // 2][:, None] * detune() * vibrato
    f2_bit = (lat["label"] % 2) ^ lat.get("key", 0)                       # interaction key
    f2 = np.asarray(F2, f32)[f2_bit][:, None] * detune() * vibrato
    state = lat["audio_state"][:, None]
    a1 = np.where(state == MASKED, f32(0), f32(1.0)) * env
    a2 = np.where(state == CLEAR, f32(0.7), f32(0)) * env
    gain = rng.uniform(0.7, 1.3, (n, 1)).astype(f32)
    wave = gain * (S.tone(f1, a1, rng) + S.tone(f2, a2, rng))
    burst = np.where(state == MASKED, env, f32(0))                          # noise over the word
    return wave + S.noise_like(rng, wave.shape, noise) * (1 + 3 * burst)


def render(lat: dict, rng: np.random.Generator, **options) -> dict[str, np.ndarray]:
    """Latents -> the modality arrays, label and mask of a dataset."""
    o = _options("spoken_digits.render", options)
    audio = S.audio_output(render_voice(lat, rng, o["noise"]), o["audio_format"])
    text = render_text(lat, rng)
    n = lat["label"].shape[0]
    return {"audio": audio, "text": text, "label": lat["label"].copy(),
            "mask": np.ones((n, len(MODALITIES)), dtype=bool)}


def describe(**options) -> str:
    """The module documentation followed by the ceilings for ``options``."""
    return (__doc__.strip() + "\n\nCeilings for these options:\n" + ceilings(**options).table()
            + "\n\nAdditive (late-fusion) ceilings:\n" + additive_ceilings(**options).table())


def build(size: int | None = None, seed: int = 0, split: str = "train",
          **options) -> MultimodalDataset:
    """Generate the ``split`` of spoken_digits (default sizes 3000 / 600 / 1200)."""
    return S.build_split(
        sys.modules[__name__], size, seed, split, options,
        description="Audio + text digit recognition: a formant pair in noise (sometimes "
                    "muffled or masked) and a transcript with most letters missing.",
        info=lambda opts: {"text_length": TEXT_LENGTH, "sample_rate": S.SAMPLE_RATE,
                           "audio": S.audio_description(opts["audio_format"])})
