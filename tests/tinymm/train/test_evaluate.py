"""Metrics, the modality ablation, robustness curves, the JSON report and the plots."""

import json

import numpy as np
import pytest
from multimodal_support import single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.data import MultimodalDataset
from tinymm.models import build_model
from tinymm.train import (
    ablation,
    accuracy,
    build_report,
    confusion_matrix,
    format_ablation,
    macro_f1,
    matplotlib_available,
    predict,
    robustness_curve,
    save_plots,
    write_report,
)


def bits_dataset(n: int, seed: int = 0, dim: int = 6) -> MultimodalDataset:
    """4 classes = 2 bits; "a" (a vector) shows the first bit, "t" (tokens) the second."""
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n) % 4)
    centres = np.random.default_rng(100).standard_normal((2, dim)) * 1.5
    a = (centres[label // 2] + 0.4 * rng.standard_normal((n, dim))).astype(np.float32)
    t = np.zeros((n, 3), np.int64)
    t[:, 0] = 2 + label % 2
    t[:, 1] = rng.integers(4, 6, n)
    return MultimodalDataset({"a": a, "t": t, "label": label}, name="bits",
                             modalities=("a", "t"), num_classes=4,
                             class_names=["00", "01", "10", "11"],
                             ceilings={"a": 0.5, "t": 0.5, "a+t": 1.0},
                             vocab=["<pad>", "<unk>", "zero", "one", "x", "y"])


def test_metrics_by_hand():
    pred, target = np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 0])
    assert accuracy(pred, target) == pytest.approx(4 / 6)
    cm = confusion_matrix(pred, target, 3)
    np.testing.assert_array_equal(cm, [[1, 0, 1], [0, 1, 0], [0, 1, 2]])
    # F1: class 0: 2*1/(2+0+1)=2/3, class 1: 2/(2+1+0)=2/3, class 2: 4/(4+1+1)=2/3
    assert macro_f1(pred, target, 3) == pytest.approx(2 / 3)
    assert macro_f1(np.array([0]), np.array([0]), 5) == 1.0  # unseen classes left out
    with pytest.raises(ValueError, match="accuracy: pred and target"):
        accuracy(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(TypeError, match="macro_f1|confusion_matrix"):
        macro_f1(np.zeros(3), np.zeros(3, int), 2)
    with pytest.raises(ValueError, match="confusion_matrix: classes"):
        confusion_matrix(np.array([3]), np.array([0]), 3)


@pytest.fixture(scope="module")
def trained():
    from tinymm.train import Reporter, Trainer

    tm.manual_seed(0)
    train, test = bits_dataset(256), bits_dataset(128, seed=1)
    model = build_model(train, "concat", text_encoder="gru", head_hidden=16, embed_dim=8,
                        text_hidden=8, modality_dropout=0.3)
    trainer = Trainer(model, train, test, epochs=5, batch_size=32, lr=1e-2,
                      reporter=Reporter(quiet=True))
    trainer.fit()
    return model, test, trainer.history


def test_ablation_rows_follow_the_ceilings(trained):
    model, test, _ = trained
    rows = ablation(model, test)
    assert [r["subset"] for r in rows] == ["a", "t", "a+t"]
    by = {r["subset"]: r for r in rows}
    assert by["a+t"]["accuracy"] > 0.9
    for single in ("a", "t"):
        assert abs(by[single]["accuracy"] - 0.5) < 0.12
        assert by[single]["gap"] == pytest.approx(0.5 - by[single]["accuracy"])
    table = format_ablation(rows, chance=0.25)
    assert "| a+t" in table and "ceiling" in table and "1.0000" in table


def test_predict_subset_masks_the_other_modalities(trained):
    model, test, _ = trained
    only_a, labels = predict(model, test, subset=["a"])
    scrambled = test.with_arrays({**test.arrays, "t": test.arrays["t"][::-1].copy()})
    again, _ = predict(model, scrambled, subset=["a"])
    np.testing.assert_array_equal(only_a, again)
    with pytest.raises(ValueError, match="predict: subset names unknown"):
        predict(model, test, subset=["video"])


def test_robustness_curve_falls_with_noise_and_repeats(trained):
    model, test, _ = trained
    curve = robustness_curve(model, test, "a", levels=(0.0, 1.0, 4.0))
    assert [r["level"] for r in curve] == [0.0, 1.0, 4.0]
    assert curve[0]["accuracy"] > curve[-1]["accuracy"]
    assert curve == robustness_curve(model, test, "a", levels=(0.0, 1.0, 4.0))  # repeatable
    tokens = robustness_curve(model, test, "t", levels=(0.0, 1.0))
    assert tokens[1]["accuracy"] < tokens[0]["accuracy"]
    with pytest.raises(ValueError, match="robustness_curve: unknown modality"):
        robustness_curve(model, test, "video")


def test_report_json_and_plots(trained, tmp_path):
    model, test, history = trained
    report = build_report(model, test, history=history, config={"run": {"x": 1}},
                          levels=(0.0, 0.5))
    assert report["accuracy"] > 0.9 and len(report["confusion_matrix"]) == 4
    assert set(report["robustness"]) == {"a", "t"}
    write_report(report, tmp_path / "report.json")
    loaded = json.loads((tmp_path / "report.json").read_text())
    assert loaded["ablation"][2]["subset"] == "a+t"
    assert loaded["config"] == {"run": {"x": 1}}
    written = save_plots(report, tmp_path)
    if matplotlib_available():
        assert {p.name for p in written} == {"curves.png", "confusion.png", "ablation.png",
                                             "robustness.png"}
        assert all(p.stat().st_size > 1000 for p in written)
    else:
        assert written == []
