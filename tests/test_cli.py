"""The `tinymm` command: bad arguments exit 2 with a message; a short run end to end."""

import json
import os
import subprocess
import sys

import pytest

from tinymm.cli import main

TINY = ["--train-size", "48", "--test-size", "24", "--batch-size", "16", "--quiet"]


def run_main(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["train", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["train", "--epochs", "two"], "--epochs: expected a positive integer, got 'two'"),
    (["train", "--lr", "-1"], "--lr: must be a positive finite number"),
    (["train", "--lr", "nan"], "--lr: must be a positive finite number"),
    (["train", "--batch-size", "-3"], "--batch-size: must be a positive integer"),
    (["train", "--modality-dropout", "1.5"], "--modality-dropout: must be in [0, 1)"),
    (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "--fusion", "average"], "--fusion: invalid choice: 'average'"),
    (["train", "--backend", "cuda"], "--backend: invalid choice: 'cuda'"),
    (["train", "--threads", "0"], "--threads: must be a positive integer"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["evaluate"], "CHECKPOINT"),
    (["evaluate", "no/such/file.npz"], "no checkpoint at no/such/file.npz"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_resume_without_a_checkpoint_exits_2(tmp_path, capsys):
    code, _, err = run_main(["train", "--out", str(tmp_path), "--resume"], capsys)
    assert code == 2 and "no checkpoint at" in err


def test_evaluate_rejects_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    code, _, err = run_main(["evaluate", str(bad)], capsys)
    assert code == 2 and "is not a tinymm checkpoint" in err and "pickle" not in err


def test_train_resume_and_evaluate_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_main(["train", "--epochs", "1", "--out", str(out), *TINY], capsys)
    assert code == 0
    assert "| image+text |" in stdout and "ceiling" in stdout
    for name in ("last.npz", "best.npz", "report.json"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == "shapes_captions" and len(report["ablation"]) == 3
    assert report["config"]["run"]["fusion"] == "concat"

    code, stdout, _ = run_main(["train", "--epochs", "2", "--out", str(out), "--resume",
                                "--quiet", "--no-plots"], capsys)
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["history"]["epoch"] == [1, 2]

    code, _, err = run_main(["train", "--out", str(out), "--resume", "--fusion", "gated"],
                            capsys)
    assert code == 2 and "used --fusion concat" in err

    code, stdout, _ = run_main(["evaluate", str(out / "best.npz"), "--out",
                                str(tmp_path / "eval"), "--quiet", "--no-plots"], capsys)
    assert code == 0 and "| image+text |" in stdout
    assert (tmp_path / "eval" / "evaluate-best-test.json").is_file()
    assert not (tmp_path / "eval" / "report.json").exists()


def test_diverging_run_exits_1_with_the_message(tmp_path, capsys):
    code, _, err = run_main(["train", "--lr", "1e30", "--epochs", "2", "--out",
                             str(tmp_path), *TINY], capsys)
    assert code == 1
    assert "loss became" in err and "lower learning rate" in err and "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_datasets_lists_ceilings(capsys):
    code, out, _ = run_main(["datasets"], capsys)
    assert code == 0
    for name in ("shapes_captions", "sentiment_prosody", "spoken_digits", "video_events"):
        assert name in out
    assert "image+text" in out and "0.9159" in out


def test_info_reports_versions_and_warmup(capsys):
    code, out, _ = run_main(["info"], capsys)
    assert code == 0
    assert "numpy" in out and "backend:" in out and "kernel warm-up:" in out


def test_python_dash_m_entry_point(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bad = subprocess.run([sys.executable, "-m", "tinymm", "train", "--epochs", "0"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "--epochs" in bad.stderr and "Traceback" not in bad.stderr
    good = subprocess.run([sys.executable, "-m", "tinymm", "train", "--epochs", "1",
                           "--fusion", "late", "--text-encoder", "rnn", "--no-plots", *TINY],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "runs" / "shapes_captions-late" / "report.json").is_file()
    assert "| image+text |" in good.stdout
