"""Learning curves: nested stratified subsets, intervals, the best-epoch rule, `tinymm curve`."""

import json
import math

import numpy as np
import pytest
from test_cli import run_main  # tests/ is on the path (pyproject's pythonpath)

from tinymm.train.curve import (
    epochs_for,
    nested_subsets,
    paired_difference,
    summarize_curve,
    t_interval,
)


def labels_imbalanced():
    # 4 classes of 50, 30, 15 and 5 samples, shuffled
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    return np.random.default_rng(3).permutation(y)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subsets_are_nested_and_stratified(seed):
    y = labels_imbalanced()
    sizes = [8, 20, 37, 64, 100, None]
    subsets = nested_subsets(y, sizes, seed)
    share = np.bincount(y) / y.size
    for n, idx in zip(sizes, subsets):
        n = y.size if n is None else n
        assert idx.size == n and np.unique(idx).size == n
        counts = np.bincount(y[idx], minlength=4)
        # each class holds its share of the subset to within one sample
        assert np.all(np.abs(counts - n * share) <= 1.0), (n, counts, n * share)
    for small, big in zip(subsets, subsets[1:]):
        assert np.isin(small, big).all()


def test_subsets_depend_on_the_seed_and_are_repeatable():
    y = labels_imbalanced()
    a, b, c = (nested_subsets(y, [20], s)[0] for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_subsets_in_any_size_order():
    y = labels_imbalanced()
    big, small = nested_subsets(y, [60, 10], 0)
    assert np.isin(small, big).all() and small.size == 10


@pytest.mark.parametrize("labels, sizes, seed, error, match", [
    (np.zeros(10, int), [0], 0, ValueError, r"sizes must be ints in \[1, 10\]"),
    (np.zeros(10, int), [11], 0, ValueError, "sizes must be ints"),
    (np.zeros(10, int), [2.5], 0, ValueError, "sizes must be ints"),
    (np.zeros(10), [2], 0, TypeError, "labels must be a 1-D integer array"),
    (np.zeros((2, 5), int), [2], 0, TypeError, "labels must be a 1-D integer array"),
    (np.zeros(10, int), [2], -1, ValueError, "seed must be an int >= 0"),
])
def test_subsets_validate(labels, sizes, seed, error, match):
    with pytest.raises(error, match=f"nested_subsets: {match}"):
        nested_subsets(labels, sizes, seed)


def test_t_interval_by_hand():
    mean, std, half = t_interval([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.302653; std 1; half = t / sqrt(3)
    assert (mean, std) == (2.0, 1.0)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(t_interval([0.5])[2])


def test_epochs_for_small_sets_reach_min_steps():
    assert epochs_for(32, 32, 20, 100, 60) == 60          # capped
    assert epochs_for(128, 32, 20, 100, 60) == 25         # 4 steps per epoch
    assert epochs_for(3000, 32, 20, 100, 60) == 20        # the CLI's epochs


def test_summary_and_paired_difference():
    rows = [{"dataset": "d", "fusion": "concat", "size": 32, "seed": s, "pretrain": p,
             "accuracy": acc, "ceiling": 0.9}
            for s, (a0, a1) in enumerate([(0.5, 0.6), (0.4, 0.55), (0.45, 0.5)])
            for p, acc in (("none", a0), ("contrastive", a1))]
    summary = summarize_curve(rows)
    none = next(r for r in summary if r["pretrain"] == "none")
    assert none["mean"] == pytest.approx(0.45) and none["seeds"] == [0, 1, 2]
    (diff,) = paired_difference(rows)
    assert diff["pairs"] == 3 and diff["mean"] == pytest.approx((0.1 + 0.15 + 0.05) / 3)
    assert diff["half_width"] == pytest.approx(t_interval([0.1, 0.15, 0.05])[2])


def test_fit_like_cli_ends_on_the_best_validation_epoch():
    from tinymm.data import get_dataset
    from tinymm.train import evaluate
    from tinymm.train.runs import fit_like_cli

    train, val = get_dataset("sentiment_prosody", split=("train", "val"), size=(64, 48))
    model, trainer = fit_like_cli(train, val, fusion="concat", seed=0, epochs=4)
    history = trainer.history["val_accuracy"]
    assert trainer.best_epoch == int(np.argmax(history)) + 1        # the first best epoch
    assert evaluate(model, val)["accuracy"] == pytest.approx(max(history))


def test_fit_like_cli_applies_every_default_of_tinymm_train():
    """Each TRAIN_DEFAULTS key reaches the Trainer, build_model or a build step: a default
    that went nowhere would make sweeps train something else than `tinymm train`."""
    from tinymm.cli_parser import TRAIN_DEFAULTS
    from tinymm.train.runs import BUILD_STEPS, split_options

    t_opts, m_opts = split_options(TRAIN_DEFAULTS)
    assert set(t_opts) | set(m_opts) == set(TRAIN_DEFAULTS) - {"seed"}
    assert m_opts["image_activation"] == TRAIN_DEFAULTS["image_activation"]
    assert set(BUILD_STEPS) <= set(m_opts)


def test_fit_like_cli_applies_the_balanced_fusion_init():
    from tinymm.data import get_dataset
    from tinymm.train.runs import fit_like_cli

    train, val = get_dataset("shapes_captions", split=("train", "val"), size=(32, 16))
    seen = {}

    def look(model):
        w = model.fusion.layers[0].self_attn.in_proj_weight.data
        seen["queries"] = float(np.abs(w[:model.fusion.dim]).max())

    for init in ("default", "balanced"):
        fit_like_cli(train, val, fusion="pooled_attention", seed=0, epochs=1, before_fit=look,
                     model_options={"fusion_init": init})
        seen[init] = seen.pop("queries")
    assert seen["balanced"] == 0.0 and seen["default"] > 0.0


def test_fit_like_cli_rejects_unknown_trainer_option():
    from tinymm.train.runs import split_options

    with pytest.raises(ValueError, match="Trainer has no option 'bogus'"):
        split_options({}, {"bogus": 1})


@pytest.mark.parametrize("argv, message", [
    (["curve", "--sizes", "0"], "--sizes: sizes must be positive, got 0"),
    (["curve", "--sizes", "ten"], "--sizes: expected positive integers or 'full', got 'ten'"),
    (["curve", "--sizes", "32", "32"], "--sizes: repeated size"),
    (["curve", "--sizes", "99999"], "exceed the training split of shapes_captions"),
    (["curve", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["curve", "--fusions", "average"], "--fusions: invalid choice: 'average'"),
    (["curve", "--pretrain", "mae"], "--pretrain: invalid choice: 'mae'"),
    (["curve", "--seeds", "0"], "--seeds: must be a positive integer"),
])
def test_curve_cli_errors(argv, message, capsys):
    code, _, err = run_main(argv, capsys)
    assert code == 2 and message in err and "tinymm curve" in err


def test_curve_cli_runs_and_resumes(tmp_path, capsys):
    argv = ["curve", "--dataset", "sentiment_prosody", "--sizes", "16", "32", "--seeds", "1",
            "--max-epochs", "1", "--min-steps", "1", "--epochs", "1", "--val-size", "32",
            "--test-size", "40", "--out", str(tmp_path), "--quiet"]
    code, out, _ = run_main(argv, capsys)
    assert code == 0, out
    lines = (tmp_path / "curve.jsonl").read_text().splitlines()
    assert len(lines) == 2
    saved = json.loads((tmp_path / "curve.json").read_text())
    assert sorted(r["size"] for r in saved["rows"]) == [16, 32]
    assert (tmp_path / "curve.png").is_file()
    assert "| sentiment_prosody | concat | none | 16 | 1 |" in out
    code, out, _ = run_main(argv, capsys)           # everything done: nothing re-trained
    assert code == 0
    assert (tmp_path / "curve.jsonl").read_text().splitlines() == lines


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="imagenet"), "unknown dataset 'imagenet'"),
    (dict(dataset="shapes_captions", fusions=("average",)), "fusions must be a non-empty list"),
    (dict(dataset="shapes_captions", fusions=()), "fusions must be a non-empty list"),
    (dict(dataset="shapes_captions", pretrain="mae"), "pretrain must be 'none' or 'contrastive'"),
    (dict(dataset="shapes_captions", seeds=()), "seeds must be a non-empty list"),
])
def test_learning_curve_validates_before_training(kwargs, match):
    from tinymm.train.curve import learning_curve

    with pytest.raises(ValueError, match=f"learning_curve: {match}"):
        learning_curve(**kwargs)
