"""`tinymm train`'s modality-collapse options: validation, and what lands in report.json."""

import json

import pytest
from test_cli import run_main  # tests/ is on the path (pyproject's pythonpath)

TINY = ["--train-size", "48", "--test-size", "24", "--batch-size", "16", "--quiet", "--no-plots"]


@pytest.mark.parametrize("argv, message", [
    (["train", "--modulation", "gradnorm"], "--modulation: invalid choice: 'gradnorm'"),
    (["train", "--ogm-alpha", "-0.5"], "--ogm-alpha: must be a finite number >= 0"),
    (["train", "--aux-weight", "inf"], "--aux-weight: must be a finite number >= 0"),
    (["train", "--warmup-epochs", "-1"], "--warmup-epochs: must be >= 0"),
    (["train", "--fusion-init", "xavier"], "--fusion-init: invalid choice: 'xavier'"),
    (["train", "--monitor-samples", "many"], "--monitor-samples: expected an integer >= 0"),
    (["train", "--image-activation", "tanh"], "--image-activation: invalid choice: 'tanh'"),
])
def test_bad_remedy_options_exit_2(argv, message, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_remedies_and_monitoring_reach_the_report(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run_main(["train", "--epochs", "2", "--fusion", "lowrank", "--out", str(out),
                           "--modulation", "ogm", "--aux-weight", "0.5", "--warmup-epochs", "1",
                           "--fusion-init", "balanced", "--monitor-samples", "16", *TINY], capsys)
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    run = report["config"]["run"]
    assert (run["modulation"], run["aux_weight"], run["warmup_epochs"], run["fusion_init"]) == \
        ("ogm", 0.5, 1, "balanced")
    history = report["history"]
    assert history["modality_dropout"][0] == pytest.approx(0.9)  # the warm-up's first epoch
    assert all(0 <= a <= 1 for a in history["train_accuracy_clean"])
    assert history["val_contribution"][-1]["n"] == 16
    assert set(history["ogm_coefficients"][-1]) == {"image", "text"}
    assert all(0 < k <= 1 for k in history["ogm_coefficients"][-1].values())


def test_image_activation_is_recorded_and_old_runs_rebuild_with_relu(tmp_path, capsys):
    import tinymm as tm
    from tinymm import nn
    from tinymm.cli import load_run_model

    def activations(model):
        return {type(m).__name__ for m in model.encoders["image"].modules()
                if isinstance(m, (nn.ReLU, nn.LeakyReLU))}

    out = tmp_path / "run"
    code, _, _ = run_main(["train", "--epochs", "1", "--out", str(out),
                           "--image-activation", "leaky_relu", *TINY], capsys)
    assert code == 0
    model, state, run, _ = load_run_model(str(out / "last.npz"), "test")
    assert run["image_activation"] == "leaky_relu" and activations(model) == {"LeakyReLU"}
    # a resumed run keeps its model: another activation is refused, naming the option
    code, _, err = run_main(["train", "--resume", "--out", str(out), "--epochs", "2",
                             "--image-activation", "relu", *TINY], capsys)
    assert code != 0 and "--image-activation" in err and "Traceback" not in err
    # a run config written before the option existed was trained with ReLU
    del state["config"]["run"]["image_activation"]
    tm.save(state, tmp_path / "old.npz")
    old, _, old_run, _ = load_run_model(str(tmp_path / "old.npz"), "test")
    assert old_run["image_activation"] == "relu" and activations(old) == {"ReLU"}


def test_a_pooled_attention_checkpoint_from_before_mean_pooling_reads_its_summary_token(
        tmp_path, capsys):
    import tinymm as tm
    from tinymm.cli import load_run_model

    out = tmp_path / "run"
    code, _, _ = run_main(["train", "--epochs", "1", "--out", str(out), "--fusion", "attention",
                           *TINY], capsys)
    assert code == 0
    model, state, run, _ = load_run_model(str(out / "last.npz"), "test")
    assert run["attention_pool"] == "mean" and model.fusion.pool == "mean"
    del state["config"]["run"]["attention_pool"]           # as a run of yesterday wrote it
    tm.save(state, tmp_path / "old.npz")
    old, _, _, _ = load_run_model(str(tmp_path / "old.npz"), "test")
    assert old.fusion.pool == "cls"
