"""Modality collapse: OGM-GE coefficients, gradient blending, detection, balanced inits, options."""

import math

import numpy as np
import pytest
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm import nn
from tinymm.models import build_model
from tinymm.models.fusion_attention import AttentionFusion
from tinymm.models.fusion_tensor import LowRankFusion, TensorFusion
from tinymm.tensor import Tensor
from tinymm.train import Reporter, Trainer, balance
from tinymm.train.monitor import clean_accuracy, contributions

TRAIN, VAL = bits_dataset(128), bits_dataset(96, seed=1)
QUIET = Reporter(quiet=True)


# ----------------------------------------------------------------------------- OGM-GE
def test_ogm_slows_the_dominant_modality_only():
    k = balance.ogm_coefficients([0.9, 0.3], alpha=0.5)
    # ratio 3 for the first modality: k = 1 - tanh(0.5 * 2); the lagging one keeps 1
    assert k[0] == pytest.approx(1 - math.tanh(1.0), rel=1e-12)
    assert k[1] == 1.0
    k3 = balance.ogm_coefficients([0.2, 0.6, 0.4], alpha=1.0)
    assert k3[1] == pytest.approx(1 - math.tanh(0.6 / 0.3 - 1.0), rel=1e-12)
    assert k3[0] == k3[2] == 1.0  # ratios 0.4 and 1.0: not ahead of the others
    huge = balance.ogm_coefficients([1e6, 1e-6], alpha=10.0)
    assert np.all((huge > 0) & (huge <= 1))
    assert np.all(balance.ogm_coefficients([0.5, 0.5], 0.5) == 1.0)


def test_ogm_rejects_bad_confidences():
    with pytest.raises(ValueError, match="ogm_coefficients"):
        balance.ogm_coefficients([0.5, float("nan")], 0.5)
    with pytest.raises(ValueError, match="ogm_coefficients"):
        balance.ogm_coefficients([], 0.5)


def test_modulate_gradients_scales_and_adds_matching_noise():
    rng = np.random.default_rng(0)
    a, b = nn.Parameter(np.zeros(20000, np.float32)), nn.Parameter(np.zeros(3, np.float32))
    ga = rng.standard_normal(20000).astype(np.float32) * 3.0
    gb = np.array([1.0, 2.0, 3.0], np.float32)
    a.grad, b.grad = ga.copy(), gb.copy()
    balance.modulate_gradients([[a], [b]], [0.25, 1.0], np.random.default_rng(1), enhance=False)
    np.testing.assert_allclose(a.grad, 0.25 * ga, rtol=1e-6)
    np.testing.assert_array_equal(b.grad, gb)  # k = 1: untouched
    a.grad = ga.copy()
    balance.modulate_gradients([[a], [b]], [0.25, 1.0], np.random.default_rng(1))
    noise = a.grad - 0.25 * ga
    # GE noise has the gradient's own std; the sample std of 20000 draws is within 5 %
    assert noise.std() == pytest.approx(ga.std(), rel=0.05)


# ----------------------------------------------------------------------------- blending
def _ce(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean()


def test_blended_loss_is_the_weighted_sum():
    rng = np.random.default_rng(0)
    fused, la, lb = (rng.standard_normal((5, 3)) for _ in range(3))
    labels = np.array([0, 2, 1, 1, 0])
    present = np.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 1]], bool)
    loss, parts = balance.blended_loss(Tensor(fused), [Tensor(la), Tensor(lb)], labels, present,
                                       aux_weight=0.7)
    ra, rb = present[:, 0], present[:, 1]
    expected = _ce(fused, labels) + 0.7 * (_ce(la[ra], labels[ra]) + _ce(lb[rb], labels[rb]))
    assert float(loss.item()) == pytest.approx(expected, rel=1e-10)
    assert float(parts[0].item()) == pytest.approx(_ce(la[ra], labels[ra]), rel=1e-10)


def test_trainer_blending_trains_aux_heads_and_resumes(tmp_path):
    tm.manual_seed(0)
    model = build_model(TRAIN, "concat", head_hidden=8)
    trainer = Trainer(model, TRAIN, VAL, epochs=2, batch_size=32, lr=1e-2, aux_weight=5.0,
                      out_dir=tmp_path, reporter=QUIET)
    before = [p.data.copy() for p in trainer.aux.parameters()]
    history = trainer.fit()
    # the reported training loss is the fused model's (≈ ln 4 at the start), not the blended
    # one (≈ (1 + 5 * 2) ln 4), so it compares with the validation loss
    assert history["train_loss"][0] < 2 * math.log(4)
    assert any(not np.array_equal(b, p.data) for b, p in zip(before, trainer.aux.parameters()))
    assert tm.load(tmp_path / "last.npz")["aux_heads"] is not None
    tm.manual_seed(0)
    other = Trainer(build_model(TRAIN, "concat", head_hidden=8), TRAIN, VAL, epochs=3,
                    out_dir=tmp_path, reporter=QUIET, aux_weight=0.0)  # without aux heads
    with pytest.raises(ValueError, match="auxiliary heads"):
        other.resume()


# ----------------------------------------------------------------------------- detection
def test_contribution_warning_rule():
    assert balance.contribution_warning(0.47, {"image": 0.08, "text": 0.47}, 256) is not None
    text = balance.contribution_warning(0.50, {"image": 0.08, "text": 0.47}, 256)
    assert "text" in text and "ignores" in text  # 0.03 < 2 * SE (~0.088): not clearly above
    assert balance.contribution_warning(0.90, {"image": 0.30, "text": 0.47}, 256) is None
    assert balance.contribution_warning(0.5, {"image": 0.5}, 256) is None  # one modality


def _noise_b(dataset, seed):
    """bits with modality b replaced by noise: a collapse onto a is the best one can do."""
    from tinymm.data.dataset import MultimodalDataset

    arrays = {m: np.asarray(dataset.arrays[m]).copy() for m in ("a", "b", "label")}
    arrays["b"] = np.random.default_rng(seed).standard_normal(arrays["b"].shape).astype(np.float32)
    return MultimodalDataset(arrays, name="bits-noise", modalities=("a", "b"), num_classes=4,
                             class_names=["00", "01", "10", "11"])


def _fit(train, val, seed=0):
    tm.manual_seed(seed)
    model = build_model(train, "concat", head_hidden=16, modality_dropout=0.3)
    trainer = Trainer(model, train, val, epochs=6, batch_size=16, lr=1e-2, reporter=QUIET)
    trainer.fit()
    return trainer


def test_detection_fires_on_a_collapsed_model_only():
    balanced = _fit(TRAIN, VAL)
    last = balanced.history["val_contribution"][-1]
    assert last["n"] == len(VAL) and last["all"] > max(last["a"], last["b"]) + 0.2
    assert balanced.collapse_warning is None
    collapsed = _fit(_noise_b(TRAIN, 1), _noise_b(VAL, 2))
    assert collapsed.collapse_warning is not None and "rely on a only" in collapsed.collapse_warning
    assert len(collapsed.history["train_accuracy_clean"]) == 6


def test_monitor_matches_the_ablation_and_uses_no_randomness():
    from tinymm.data.dataset import Subset
    from tinymm.train import evaluate

    tm.manual_seed(0)
    model = build_model(TRAIN, "gated", head_hidden=8, modality_dropout=0.5)
    state = tm.random.generator().bit_generator.state
    c = contributions(model, VAL, 64)
    clean = clean_accuracy(model, TRAIN, 64)
    assert tm.random.generator().bit_generator.state == state
    sub = Subset(VAL, np.arange(64))
    assert c["n"] == 64
    assert c["a"] == evaluate(model, sub, subset=["a"])["accuracy"]
    assert c["all"] == evaluate(model, sub)["accuracy"]
    assert clean == evaluate(model, Subset(TRAIN, np.arange(64)))["accuracy"]


# ----------------------------------------------------------------------------- schedules
def test_warmup_dropout_schedule():
    assert balance.warmup_dropout(0, 4, 0.3) == pytest.approx(0.9)
    assert balance.warmup_dropout(2, 4, 0.3) == pytest.approx(0.6)
    assert balance.warmup_dropout(4, 4, 0.3) == 0.3
    assert balance.warmup_dropout(0, 0, 0.3) == 0.3


# ----------------------------------------------------------------------------- init
@pytest.mark.parametrize("make", [lambda: TensorFusion({"x": 12, "y": 7, "z": 5}, dim=6),
                                  lambda: LowRankFusion({"x": 12, "y": 7, "z": 5}, dim=8, rank=3),
                                  lambda: AttentionFusion({"x": 12, "y": 7, "z": 5}, dim=16)])
def test_balanced_init_lets_every_modality_change_the_output(make):
    tm.manual_seed(0)
    fusion = make()
    fusion.balanced_init()
    fusion.eval()
    rng = np.random.default_rng(0)
    # non-negative features, as after an encoder's final ReLU
    feats = [np.abs(rng.standard_normal((4, d))).astype(np.float32) for d in fusion.in_features]
    base = fusion([Tensor(f) for f in feats]).data
    assert np.isfinite(base).all()
    for j, d in enumerate(fusion.in_features):
        moved = [f.copy() for f in feats]
        moved[j] = moved[j] + 0.1 * rng.standard_normal((4, d)).astype(np.float32)
        change = np.abs(fusion([Tensor(f) for f in moved]).data - base).max()
        assert np.isfinite(change) and change > 1e-4 * max(np.abs(base).max(), 1.0), j


def test_balanced_init_attention_starts_uniform():
    tm.manual_seed(0)
    fusion = AttentionFusion({"x": 4, "y": 4}, dim=8, num_heads=2)
    fusion.balanced_init()
    w = fusion.layers[0].self_attn.in_proj_weight.data
    assert not w[:8].any() and w[8:].any()  # W_q zero (uniform scores), W_k and W_v kept


def test_balanced_init_helper_reports_which_fusions_have_one():
    assert balance.balanced_init(build_model(TRAIN, "lowrank", head_hidden=8))
    model = build_model(TRAIN, "concat", head_hidden=8)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    assert not balance.balanced_init(model)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------- options
@pytest.mark.parametrize("options, error, match", [
    ({"modulation": "gradnorm"}, ValueError, "modulation must be one of"),
    ({"ogm_alpha": -1.0}, ValueError, "ogm_alpha must be a finite number >= 0"),
    ({"aux_weight": "1"}, TypeError, "aux_weight must be a number"),
    ({"warmup_epochs": 1.5}, TypeError, "warmup_epochs must be an int"),
    ({"monitor_samples": -1}, ValueError, "monitor_samples must be >= 0"),
])
def test_remedy_options_are_validated(options, error, match):
    model = build_model(TRAIN, "concat", head_hidden=8)
    with pytest.raises(error, match=f"Trainer: {match}"):
        Trainer(model, TRAIN, VAL, reporter=QUIET, **options)


def test_remedies_need_a_multimodal_model():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

    with pytest.raises(ValueError, match="need a MultimodalClassifier"):
        Trainer(Plain(), TRAIN, VAL, reporter=QUIET, modulation="ogm")


def test_ogm_is_the_default_for_multimodal_models_only():
    model = build_model(TRAIN, "concat", head_hidden=8)
    trainer = Trainer(model, TRAIN, VAL, epochs=1, reporter=QUIET)
    assert trainer.modulation == balance.DEFAULT_MODULATION == "ogm" and trainer.aux is None
    assert trainer.config["trainer"]["modulation"] == "ogm"
    trainer.fit()
    assert set(trainer.history["ogm_coefficients"][0]) == {"a", "b"}
    assert Trainer(model, TRAIN, VAL, reporter=QUIET, modulation="none").modulation == "none"

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

    plain = Trainer(Plain(), TRAIN, VAL, reporter=QUIET)
    assert plain.aux is None and plain.modulation == "none"
