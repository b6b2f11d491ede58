"""Baselines: unimodal models trained alone, and early fusion (raw inputs concatenated)."""

import numpy as np
import pytest
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.data import get_dataset
from tinymm.models import (
    BASELINES,
    FUSIONS,
    PooledAttentionFusion,
    build_baseline,
    build_early,
    build_model,
    build_named,
    build_unimodal,
    model_names,
)
from tinymm.models.baselines import FlatInput, TokenInput
from tinymm.train import Reporter, Trainer, ablation


def test_unimodal_model_reads_only_its_modality():
    tm.manual_seed(0)
    data = get_dataset("shapes_captions", size=8)
    model = build_unimodal(data, "image").eval()
    assert model.modalities == ("image",) and list(model.encoders) == ["image"]
    batch = data.get_batch(np.arange(8))
    out = model(batch).data
    other = dict(batch)
    other["text"] = np.random.default_rng(1).integers(0, data.vocab_size, batch["text"].shape)
    np.testing.assert_array_equal(model(other).data, out)
    no_text = {k: v for k, v in batch.items() if k != "text"}
    np.testing.assert_array_equal(model(no_text).data, out)
    # the batches' full-width mask is read by modality name
    mask = np.ones((8, 2), bool)
    mask[:3, 1] = False  # text missing: nothing changes
    np.testing.assert_array_equal(model(batch, mask).data, out)
    mask[5, 0] = False  # image missing: the learned constant
    moved = model(batch, mask).data
    assert not np.allclose(moved[5], out[5]) and np.allclose(np.delete(moved, 5, 0),
                                                            np.delete(out, 5, 0))
    # and it has no parameter of another modality
    assert not any(name.startswith("encoders.text") for name, _ in model.named_parameters())
    assert model.num_parameters() < build_model(data).num_parameters()


def test_unimodal_models_train_alone_to_their_own_ceiling():
    tm.manual_seed(0)
    train, val = bits_dataset(256, seed=0), bits_dataset(256, seed=1)
    accs = {}
    for m in ("a", "b"):
        model = build_baseline(train, "unimodal", modality=m, head_hidden=16)
        Trainer(model, train, val, epochs=4, batch_size=32, lr=1e-2,
                reporter=Reporter(quiet=True)).fit()
        rows = ablation(model, val)
        assert [r["subset"] for r in rows] == [m]
        accs[m] = rows[0]["accuracy"]
    # ceiling 0.5 each (one bit of two); 256 samples: ± 0.07 at 2σ around it, chance 0.25
    assert all(0.42 <= a <= 0.58 for a in accs.values()), accs


def test_early_fusion_is_raw_inputs_then_one_shared_mlp():
    tm.manual_seed(0)
    data = get_dataset("video_events", size=6)
    model = build_early(data, hidden=16, embed_dim=4)
    video, audio, text = (model.encoders[m] for m in ("video", "audio", "text"))
    assert isinstance(video, FlatInput) and isinstance(audio, FlatInput)
    assert isinstance(text, TokenInput)
    assert video.out_features == 4 * 16 * 16 and audio.out_features == 32 * 40
    assert text.out_features == 8 * 4
    # no learned per-modality encoder except the token lookup table
    assert [n for n, _ in model.encoders.named_parameters()] == ["text.embedding.weight"]
    first = model.head[0]
    assert first.in_features == video.out_features + audio.out_features + text.out_features
    batch = data.get_batch(np.arange(6))
    out = model(batch)
    assert out.shape == (6, data.num_classes)
    out.sum().backward()
    assert np.abs(model.encoders["text"].embedding.weight.grad).sum() > 0
    # the first layer's columns of every modality get a gradient: all of them are in one MLP
    g = first.weight.grad
    cuts = np.cumsum([0, video.out_features, audio.out_features, text.out_features])
    assert all(np.abs(g[:, lo:hi]).sum() > 0 for lo, hi in zip(cuts[:-1], cuts[1:]))


def test_early_fusion_missing_modality_never_leaks():
    tm.manual_seed(0)
    data = get_dataset("sentiment_prosody", size=6)
    model = build_early(data, hidden=8, modality_dropout=0.0).eval()
    batch = data.get_batch(np.arange(6))
    mask = np.array([[1, 1], [1, 0], [0, 1], [1, 0], [1, 1], [0, 1]], bool)
    ref = model(batch, mask).data
    poisoned = {k: v.copy() for k, v in batch.items()}
    poisoned["audio"][~mask[:, 1]] = np.nan
    poisoned["text"][~mask[:, 0]] = 3
    np.testing.assert_array_equal(model(poisoned, mask).data, ref)


def test_early_fusion_trains_above_the_best_single_modality_ceiling():
    tm.manual_seed(0)
    train, val = bits_dataset(384, seed=0), bits_dataset(256, seed=1)
    model = build_baseline(train, "early", hidden=32, modality_dropout=0.25)
    Trainer(model, train, val, epochs=6, batch_size=32, lr=1e-2,
            reporter=Reporter(quiet=True)).fit()
    rows = {r["subset"]: r["accuracy"] for r in ablation(model, val)}
    assert rows["a+b"] >= 0.85  # best single-modality ceiling: 0.5


def test_baseline_names_and_errors():
    assert BASELINES == ("unimodal", "early")
    data = bits_dataset(8)
    with pytest.raises(ValueError, match="build_unimodal: modality"):
        build_unimodal(data, "c")
    with pytest.raises(ValueError, match="build_baseline: 'unimodal' needs modality"):
        build_baseline(data, "unimodal")
    with pytest.raises(ValueError, match="build_baseline: name"):
        build_baseline(data, "middle")
    with pytest.raises(ValueError, match="build_model: modalities"):
        build_model(data, modalities=("a", "z"))
    with pytest.raises(ValueError, match="build_early: hidden"):
        build_early(data, hidden=0)
    with pytest.raises(ValueError, match="FlatInput"):
        FlatInput((2, 3))(tm.ones(4, 3, 2))


def test_every_model_of_a_sweep_has_one_name():
    data = bits_dataset(8)
    names = model_names(data)
    assert names == (*FUSIONS, "early", "unimodal:a", "unimodal:b")
    tm.manual_seed(0)
    assert build_named(data, "unimodal:b").modalities == ("b",)
    assert isinstance(build_named(data, "early").encoders["a"], FlatInput)
    assert isinstance(build_named(data, "attention").fusion, PooledAttentionFusion)
    assert build_named(data, "late", modality_dropout=0.1).modality_dropout == 0.1
    with pytest.raises(ValueError, match="build_named: name"):
        build_named(data, "middle")
    with pytest.raises(ValueError, match="build_unimodal: modality"):
        build_named(data, "unimodal:c")


def test_one_set_of_encoder_options_serves_every_name_of_a_sweep():
    """A sweep passes the same options to every model; early fusion has no encoders, so the
    encoder options skip it, while an option no builder knows still fails."""
    from tinymm.data import get_dataset
    from tinymm.models import build_named

    ds = get_dataset("shapes_captions", size=8)
    early = build_named(ds, "early", image_activation="leaky_relu")
    assert not any(isinstance(m, tm.nn.LeakyReLU) for m in early.modules())
    alone = build_named(ds, "unimodal:image", image_activation="leaky_relu")
    assert any(isinstance(m, tm.nn.LeakyReLU) for m in alone.modules())
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        build_named(ds, "early", colour="red")
