"""mask_modalities and add_noise on batches and datasets."""

import numpy as np
import pytest

from tinymm.data import (
    DataLoader,
    MultimodalDataset,
    Subset,
    add_noise,
    get_dataset,
    mask_modalities,
)


@pytest.fixture(scope="module")
def ds():
    return get_dataset("video_events", size=200, seed=1)


@pytest.fixture
def batch(ds):
    return next(iter(DataLoader(ds, batch_size=64)))


def test_mask_batch_blanks_modality_and_clears_mask(batch):
    before = {k: v.copy() for k, v in batch.items()}
    out = mask_modalities(batch, "audio")
    assert (out["audio"] == 0).all() and out["audio"].dtype == np.float32
    np.testing.assert_array_equal(out["mask"], np.tile([True, False, True], (64, 1)))
    np.testing.assert_array_equal(out["video"], batch["video"])
    for k in batch:                                            # the input is untouched
        np.testing.assert_array_equal(batch[k], before[k])


def test_mask_batch_several_modalities_and_text_becomes_padding(batch):
    out = mask_modalities(batch, ["text", "video"])
    assert (out["text"] == 0).all() and out["text"].dtype == np.int64
    assert (out["video"] == 0).all()
    assert out["mask"].tolist() == [[False, True, False]] * 64


def test_mask_with_probability_is_per_sample_and_seeded(batch):
    a = mask_modalities(batch, "text", p=0.5, seed=0)
    b = mask_modalities(batch, "text", p=0.5, seed=0)
    c = mask_modalities(batch, "text", p=0.5, seed=1)
    hidden = ~a["mask"][:, 2]
    np.testing.assert_array_equal(a["mask"], b["mask"])
    assert not np.array_equal(a["mask"], c["mask"])
    assert 10 < hidden.sum() < 54
    assert (a["text"][hidden] == 0).all()
    np.testing.assert_array_equal(a["text"][~hidden], batch["text"][~hidden])
    assert a["mask"][:, :2].all()


def test_mask_batch_needs_consistent_order():
    batch = {"a": np.ones((2, 3)), "b": np.ones((2, 1)), "extra": np.ones((2,)),
             "mask": np.ones((2, 2), bool)}
    with pytest.raises(ValueError, match="mask_modalities: mask has shape"):
        mask_modalities(batch, "a")
    out = mask_modalities(batch, "b", order=("a", "b"))
    assert out["mask"].tolist() == [[True, False]] * 2


def test_mask_dataset_returns_dataset_with_metadata(ds):
    out = mask_modalities(ds, "video")
    assert isinstance(out, MultimodalDataset) and out is not ds
    assert out.ceilings == ds.ceilings and out.modalities == ds.modalities
    assert (out.arrays["video"] == 0).all() and not out.arrays["mask"][:, 0].any()
    assert ds.arrays["mask"].all() and (ds.arrays["video"] != 0).any()
    sample = out[3]
    assert sample["mask"].tolist() == [False, True, True]
    sub = mask_modalities(Subset(ds, [5, 1]), "text")
    assert len(sub) == 2 and (sub.arrays["text"] == 0).all()
    np.testing.assert_array_equal(sub.arrays["audio"], ds.arrays["audio"][[5, 1]])


def test_add_noise_float_strength_is_relative(batch):
    out = add_noise(batch, "audio", 1.0, seed=0)
    noise = out["audio"] - batch["audio"]
    assert out["audio"].dtype == np.float32
    assert noise.std() == pytest.approx(batch["audio"].std(), rel=0.05)
    np.testing.assert_array_equal(out["video"], batch["video"])
    np.testing.assert_array_equal(add_noise(batch, "audio", 1.0, seed=0)["audio"], out["audio"])
    assert not np.array_equal(add_noise(batch, "audio", 1.0, seed=1)["audio"], out["audio"])
    np.testing.assert_array_equal(add_noise(batch, "audio", 0.0, seed=0)["audio"], batch["audio"])


def test_add_noise_tokens_replaces_a_fraction(ds, batch):
    out = add_noise(batch, "text", 0.5, seed=0, vocab_size=ds.vocab_size)
    text, new = batch["text"], out["text"]
    pad = text == 0
    assert (new[pad] == 0).all()                                  # padding stays padding
    assert new.min() >= 0 and new.max() < ds.vocab_size
    changed = (new != text)[~pad].mean()
    assert 0.35 < changed < 0.55                                  # 0.5 * (1 - 1/13) expected
    assert (add_noise(batch, "text", 1.0, seed=0, vocab_size=ds.vocab_size)["text"][~pad]
            >= 2).all()


def test_add_noise_on_dataset_uses_its_vocabulary_and_keeps_hidden_blank(ds):
    hidden = mask_modalities(ds, "text", p=0.5, seed=0)
    out = add_noise(hidden, "text", 1.0, seed=0)
    gone = ~hidden.arrays["mask"][:, 2]
    assert (out.arrays["text"][gone] == 0).all()
    assert out.arrays["text"].max() < ds.vocab_size
    assert (out.arrays["text"][~gone] != hidden.arrays["text"][~gone]).any()
    audio = add_noise(ds, "audio", 0.5, seed=0)
    assert isinstance(audio, MultimodalDataset) and audio.name == ds.name


def test_robustness_rejects_bad_arguments(batch, ds):
    with pytest.raises(ValueError, match="mask_modalities: unknown modalities \\['smell'\\]"):
        mask_modalities(batch, "smell")
    with pytest.raises(ValueError, match="mask_modalities: unknown modalities"):
        mask_modalities(batch, "label")
    with pytest.raises(ValueError, match="mask_modalities: p"):
        mask_modalities(batch, "text", p=1.5)
    with pytest.raises(TypeError, match="mask_modalities: data"):
        mask_modalities([1, 2], "text")
    with pytest.raises(ValueError, match="add_noise: strength"):
        add_noise(batch, "audio", -0.1)
    with pytest.raises(ValueError, match="add_noise: strength is a replacement probability"):
        add_noise(batch, "text", 2.0, seed=0)
    with pytest.raises(TypeError, match="add_noise: modality 'flags' has dtype bool"):
        add_noise({"flags": np.ones((2, 2), bool)}, "flags", 0.1, seed=0)
    with pytest.raises(TypeError, match="add_noise: seed"):
        add_noise(ds, "audio", 0.1, seed=1.5)
