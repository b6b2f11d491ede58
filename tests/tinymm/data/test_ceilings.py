"""Ceilings that hold for the arrays a model sees: enumeration, additive (late-fusion) ceilings,
the interaction dial, ceiling kinds, the realised oracle and the binomial interval."""

import hashlib

import numpy as np
import pytest

from tinymm.data import (
    digits_captions,
    get_dataset,
    sentiment_prosody,
    shapes_captions,
    spoken_digits,
    video_events,
)
from tinymm.data._synth import all_subsets, decode_tokens, enumerated_ceilings, subset_key
from tinymm.train.metrics import binomial_interval, binomial_lower_bound, binomial_upper_bound

MODULES = [shapes_captions, sentiment_prosody, spoken_digits, video_events, digits_captions]
ids = [m.NAME for m in MODULES]
# the modules whose modalities are conditionally independent given the label by design
INDEPENDENT = [shapes_captions, spoken_digits, video_events, digits_captions]

OPTIONS = {  # non-default options, to check that the enumeration follows them
    "shapes_captions": {"occlusion_prob": 0.3, "shape_mention_prob": 0.6, "colour_drop_prob": 0.2},
    "sentiment_prosody": {"sarcasm_prob": 0.2, "neutral_prob": 0.3, "flat_energy_prob": 0.4},
    "spoken_digits": {"muffled_prob": 0.1, "masked_prob": 0.3, "letter_mask_prob": 0.5},
    "video_events": {"static_prob": 0.3, "silent_prob": 0.2, "direction_mention_prob": 0.6},
    "digits_captions": {"occlusion_prob": 0.25, "digit_mention_prob": 0.5},
}


def _se(p, n):
    return np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("module", MODULES, ids=ids)
@pytest.mark.parametrize("use_options", [False, True])
def test_enumeration_agrees_with_the_closed_forms(module, use_options):
    opts = OPTIONS[module.NAME] if use_options else {}
    full, additive = enumerated_ceilings(module.MODALITIES, module.states(**opts))
    closed = module.ceilings(**opts)
    assert set(full) == set(closed) == {subset_key(s) for s in all_subsets(module.MODALITIES)}
    for key in closed:
        assert full[key] == pytest.approx(closed[key], abs=1e-12)
    total = sum(p for p, _, _ in module.states(**opts))
    assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("module", MODULES, ids=ids)
@pytest.mark.parametrize("interaction", [0.0, 0.3, 1.0])
def test_additive_ceiling_never_exceeds_the_full_one(module, interaction):
    full = module.ceilings(interaction=interaction)
    additive = module.additive_ceilings(interaction=interaction)
    for key in full:
        assert additive[key] <= full[key] + 1e-12, (key, additive[key], full[key])
        if "+" not in key:  # one modality: late fusion of one expert is that expert
            assert additive[key] == pytest.approx(full[key], abs=1e-12)


@pytest.mark.parametrize("module", INDEPENDENT, ids=[m.NAME for m in INDEPENDENT])
def test_conditionally_independent_sets_have_additive_equal_to_full(module):
    full, additive = module.ceilings(), module.additive_ceilings()
    for key in full:
        assert additive[key] == pytest.approx(full[key], abs=1e-12)


def test_sentiment_prosody_rewards_interaction():
    """Sarcasm is an XOR of the words' polarity and the voice: late fusion cannot read it.

    Additive = P(energy readable) + P(flat energy) x (text alone) = 0.4 + 0.6 x 0.68."""
    full, additive = sentiment_prosody.ceilings(), sentiment_prosody.additive_ceilings()
    assert additive["audio+text"] == pytest.approx(0.4 + 0.6 * 0.68, abs=1e-12)
    assert full["audio+text"] - additive["audio+text"] > 0.1


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_interaction_dial_moves_the_fused_ceiling_from_additive_to_synergy(module):
    every = "+".join(module.MODALITIES)
    gaps = [module.ceilings(interaction=lam)[every]
            - module.additive_ceilings(interaction=lam)[every] for lam in (0.0, 0.5, 1.0)]
    assert gaps[0] <= gaps[1] - 0.01 and gaps[1] <= gaps[2] - 0.01, gaps
    # the full ceiling does not change: the key is always readable from the other modality
    assert module.ceilings(interaction=1.0)[every] == pytest.approx(module.ceilings()[every])


@pytest.mark.parametrize("module", MODULES, ids=ids)
@pytest.mark.parametrize("interaction", [0.5, 1.0])
def test_oracle_reaches_the_ceilings_with_interaction(module, interaction):
    n = 200_000
    latents = module.sample_latents(n, np.random.default_rng(7), interaction=interaction)
    table = module.ceilings(interaction=interaction)
    for subset in all_subsets(module.MODALITIES):
        acc = (module.oracle_predict(latents, subset) == latents["label"]).mean()
        assert abs(acc - table[subset]) < 4 * _se(table[subset], n) + 1e-4, (subset, acc)


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_interaction_option_is_checked(module):
    with pytest.raises(ValueError, match=rf"{module.NAME}[.\w]*: interaction must be in"):
        module.ceilings(interaction=1.5)
    with pytest.raises(TypeError, match=rf"{module.NAME}[.\w]*: interaction must be a float"):
        module.additive_ceilings(interaction="high")


# Default data stay bit-identical with the dial at 0: integer arrays hashed, float arrays
# summarised by sums (tolerance: float32 sin / FFT may differ in the last bits across CPUs).
# Recorded from the code before the dial existed (shapes_captions without its full occluder,
# whose extent was corrected).
REFERENCE = [
    ("sentiment_prosody", {}, "4666458ff416e925", {"audio": (47667.499, 34613.126)}),
    ("spoken_digits", {}, "6a8daddb2391ea54", {"audio": (32439.013, 24459.015)}),
    ("video_events", {}, "3b5fcf4d6ce8cdcb",
     {"audio": (27825.082, 18366.771), "video": (12132.342, 4000.288)}),
    ("shapes_captions", {"occlusion_prob": 0.0}, "975c3efa9b40ac5f",
     {"image": (4982.486, 2993.166)}),
]


@pytest.mark.parametrize("name, opts, digest, floats", REFERENCE, ids=[r[0] for r in REFERENCE])
@pytest.mark.parametrize("explicit", [False, True])
def test_dial_at_zero_leaves_the_data_unchanged(name, opts, digest, floats, explicit):
    extra = {"interaction": 0.0} if explicit else {}
    ds = get_dataset(name, split="val", seed=3, size=64, **opts, **extra)
    h = hashlib.sha256()
    for key in sorted(ds.arrays):
        a = ds.arrays[key]
        if a.dtype.kind == "f":
            a64 = a.astype(np.float64)
            assert np.abs(a64).sum() == pytest.approx(floats[key][0], rel=1e-6)
            assert (a64 ** 2).sum() == pytest.approx(floats[key][1], rel=1e-6)
        else:
            h.update(key.encode())
            h.update(np.ascontiguousarray(a).astype(np.int64).tobytes())
    assert h.hexdigest()[:16] == digest
    assert not ds.latents["key"].any()


def test_interaction_keys_are_rendered_where_documented():
    ds = shapes_captions.build(size=300, noise=0.0, occlusion_prob=0.0, interaction=1.0)
    key, img = ds.latents["key"], ds.arrays["image"][:, 0]
    assert set(np.unique(key)) == {0, 1, 2}
    np.testing.assert_array_equal((img[:, 0] == 1.0).all(axis=1), key == 1)
    np.testing.assert_array_equal((img[:, -1] == 1.0).all(axis=1), key == 2)
    words = [decode_tokens(t, ds.vocab).split() for t in ds.arrays["text"]]
    lat = ds.latents
    for i, w in enumerate(words):
        shown = [c for c in shapes_captions.COLOURS if c in w]
        if not lat["text_drops_colour"][i]:
            assert shown == [shapes_captions.COLOURS[(lat["colour"][i] + key[i]) % 3]]
    sp = sentiment_prosody.build(size=200, interaction=1.0)
    last = [decode_tokens(t, sp.vocab).split()[-1] for t in sp.arrays["text"]]
    np.testing.assert_array_equal(np.array(last) == "really", sp.latents["key"] == 1)
    sd = spoken_digits.build(size=200, interaction=1.0)
    last = [decode_tokens(t, sd.vocab).split()[-1] for t in sd.arrays["text"]]
    np.testing.assert_array_equal(np.array(last) == "uh", sd.latents["key"] == 1)
    ve = video_events.build(size=200, noise=0.0, interaction=1.0)
    top = (ve.arrays["video"][:, :, 0, 0, :] == 1.0).all(axis=(1, 2))
    np.testing.assert_array_equal(top, ve.latents["key"] == 1)


def _codes(text):
    assert text.max() < 64 and text.shape[1] <= 10
    return text @ (64 ** np.arange(text.shape[1], dtype=np.int64))


@pytest.mark.parametrize("module, render", [
    (shapes_captions, lambda lat, rng: shapes_captions.render_captions(
        lat, rng, rng.random(lat["label"].shape[0]) < 0.5)),
    (video_events, video_events.render_subtitles),
], ids=["shapes_captions", "video_events"])
def test_keyed_text_carries_exactly_its_ceiling(module, render):
    """Monte-Carlo Bayes rule on the rendered token rows (majority label per distinct row,
    fitted on one sample, scored on another) matches the exact text ceiling with the key."""
    n = 60_000
    fit = module.sample_latents(n, np.random.default_rng(0), interaction=1.0)
    rows, inverse = np.unique(_codes(render(fit, np.random.default_rng(1))), return_inverse=True)
    counts = np.zeros((len(rows), module.NUM_CLASSES))
    np.add.at(counts, (inverse, fit["label"]), 1)
    evl = module.sample_latents(n, np.random.default_rng(2), interaction=1.0)
    codes = _codes(render(evl, np.random.default_rng(3)))
    where = np.clip(np.searchsorted(rows, codes), 0, len(rows) - 1)
    pred = np.where(rows[where] == codes, counts.argmax(axis=1)[where], 0)
    acc = (pred == evl["label"]).mean()
    ceiling = module.ceilings(interaction=1.0)["text"]
    tol = 4 * _se(ceiling, n)
    assert ceiling - tol - 0.01 < acc < ceiling + tol, (acc, ceiling)


# --------------------------------------------------------------------------- kinds, oracle
def test_dataset_carries_kinds_additive_ceilings_and_its_oracle():
    ds = get_dataset("sentiment_prosody", split="test", size=600)
    assert ds.ceiling_kinds["text"] == "exact"
    assert ds.ceiling_kinds["audio"] == ds.ceiling_kinds["audio+text"] == "upper bound"
    assert ds.additive_ceiling == pytest.approx(0.808)
    assert ds.additive_ceilings["text"] == pytest.approx(ds.ceilings["text"])
    for subset in ("text", "audio", "audio+text"):
        k, n = ds.oracle_accuracy(subset)
        assert n == 600
        lo, hi = binomial_interval(k, n, confidence=0.999)
        assert lo <= ds.ceilings[subset] <= hi, (subset, k / n)
    from tinymm.data import random_split
    part, _ = random_split(ds, [200, 400], seed=0)
    assert part.additive_ceiling == ds.additive_ceiling
    k, n = part.oracle_accuracy("audio+text")
    pred = sentiment_prosody.oracle_predict(part.latents, "audio+text")
    assert (k, n) == (int((pred == part.labels).sum()), 200)
    assert "additive" in ds.describe() and "upper bound" in ds.describe()


# --------------------------------------------------------------------------- intervals
def test_binomial_interval_by_hand_and_edges():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n) (Clopper-Pearson)
    assert binomial_interval(0, 20) == (0.0, pytest.approx(1 - 0.025 ** (1 / 20)))
    assert binomial_interval(20, 20) == (pytest.approx(0.025 ** (1 / 20)), 1.0)
    assert binomial_upper_bound(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20))
    assert binomial_lower_bound(20, 20) == pytest.approx(0.05 ** (1 / 20))
    lo, hi = binomial_interval(600, 1200)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * 0.5 / np.sqrt(1200), rel=0.03)
    with pytest.raises(ValueError, match="binomial_interval: need 0 <= k <= n"):
        binomial_interval(5, 4)
    with pytest.raises(TypeError, match="binomial_interval: k must be an int"):
        binomial_interval(0.5, 4)
    with pytest.raises(ValueError, match="binomial_upper_bound: confidence"):
        binomial_upper_bound(1, 4, confidence=1.0)


@pytest.mark.parametrize("p", [0.03, 0.5, 0.92])
def test_binomial_interval_covers_the_true_rate(p):
    """Clopper-Pearson covers at least 95 % for any rate; 2000 draws of n = 60 give a
    coverage estimate with standard error ~0.005, so >= 0.93 can only fail on a real bug."""
    rng = np.random.default_rng(11)
    ks = rng.binomial(60, p, size=2000)
    interval = {int(k): binomial_interval(int(k), 60) for k in np.unique(ks)}
    cover = np.mean([interval[int(k)][0] <= p <= interval[int(k)][1] for k in ks])
    assert cover >= 0.93
    assert cover < 1.0 or p < 0.05  # not trivially wide (an interval of [0, 1] always covers)
