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
