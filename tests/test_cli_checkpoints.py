"""The `tinymm` command around checkpoints, through the installed command itself.

Resume (every option applied or refused), damaged and foreign checkpoints (one line, exit
2), evaluate writing its own files labelled with its split, --version. The damage kinds
come from checkpoint_damage.FILE_DAMAGE (the same files tm.load is attacked with) and
CHECKPOINT_DAMAGE below (valid tm.save archives holding a wrong checkpoint). Every kind
runs through `tinymm.cli.main` in-process (fast); a representative subset runs through
the real command in a subprocess.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from checkpoint_damage import FILE_DAMAGE

import tinymm as tm
from tinymm.cli import main

TINY = ["--train-size", "48", "--test-size", "24", "--batch-size", "16", "--quiet"]
LR = 3e-3  # the default learning rate, which the run below keeps


def tinymm_command() -> str:
    path = Path(sys.executable).with_name("tinymm")
    return str(path) if path.exists() else shutil.which("tinymm")


def tinymm(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([tinymm_command(), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def assert_one_line_error(code: int, out: str, err: str, command: str, *needles: str) -> None:
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err  # exactly one line
    assert err.startswith(f"tinymm {command}: error: "), err
    assert "usage:" not in err and "Traceback" not in err and "allow_pickle" not in err
    for needle in needles:
        assert needle in err, err
    assert out == ""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 2-epoch run with the default cosine schedule, trained by the real command."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = tinymm("train", "--epochs", 2, "--out", out, *TINY)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A private copy of the trained run, free to damage or resume."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def in_process(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- the basics
def test_version():
    result = tinymm("--version")
    assert result.returncode == 0 and result.stdout == f"tinymm {tm.__version__}\n"


def test_runtime_errors_are_one_line_usage_errors_show_the_usage(tmp_path):
    missing = tinymm("evaluate", tmp_path / "none.npz")
    assert_one_line_error(missing.returncode, missing.stdout, missing.stderr, "evaluate",
                          "no checkpoint at")
    resume = tinymm("train", "--out", tmp_path, "--resume")
    assert_one_line_error(resume.returncode, resume.stdout, resume.stderr, "train",
                          "--resume: no checkpoint at")
    usage = tinymm("train", "--epochs", "0")  # argparse's own errors keep the usage
    assert usage.returncode == 2 and usage.stderr.startswith("usage: tinymm train")


def test_help_says_what_resume_does():
    text = tinymm("train", "--help").stdout
    flat = " ".join(text.split())
    assert "--resume" in flat and "extends the run" in flat and "refused" in flat


# ----------------------------------------------------------------------------- resume
def test_resume_with_more_epochs_stretches_the_cosine_schedule(run):
    result = tinymm("train", "--out", run, "--resume", "--epochs", 4, "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr
    state = tm.load(run / "last.npz")
    lrs = state["history"]["lr"]
    assert state["epoch"] == 4 and len(lrs) == 4
    assert lrs[:2] == [LR, LR * (1 + math.cos(math.pi / 2)) / 2]  # the 2-epoch run's
    # epochs 3 and 4 follow the cosine of the new length 4, not lr 0 from the old length 2
    assert lrs[2] == pytest.approx(LR * (1 + math.cos(math.pi * 2 / 4)) / 2, rel=1e-12)
    assert lrs[3] == pytest.approx(LR * (1 + math.cos(math.pi * 3 / 4)) / 2, rel=1e-12)
    assert state["config"]["run"]["epochs"] == 4
    assert state["scheduler"]["T_max"] == 4


def test_resume_applies_every_option_it_can(run):
    result = tinymm("train", "--out", run, "--resume", "--epochs", 3, "--lr", 1e-3,
                    "--batch-size", 8, "--weight-decay", 0.01, "--patience", 5,
                    "--modality-dropout", 0.1, "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr
    state = tm.load(run / "last.npz")
    run_config, trainer = state["config"]["run"], state["config"]["trainer"]
    assert {k: run_config[k] for k in ("epochs", "lr", "batch_size", "weight_decay", "patience",
                                       "modality_dropout")} == \
        {"epochs": 3, "lr": 1e-3, "batch_size": 8, "weight_decay": 0.01, "patience": 5,
         "modality_dropout": 0.1}
    assert trainer["batch_size"] == 8 and trainer["patience"] == 5
    assert all(g["weight_decay"] == 0.01 for g in state["optimizer"]["param_groups"])
    # epoch 3 of 3 at the new base lr, on the cosine of the 3-epoch run
    assert state["history"]["lr"][2] == pytest.approx(1e-3 * (1 + math.cos(math.pi * 2 / 3)) / 2,
                                                      rel=1e-12)


@pytest.mark.parametrize("option, value", [
    ("--dataset", "video_events"), ("--fusion", "gated"), ("--text-encoder", "rnn"),
    ("--train-size", 50), ("--test-size", 30), ("--optimizer", "sgd"),
    ("--scheduler", "step"), ("--seed", 3),
])
def test_resume_refuses_options_that_define_the_run(option, value, trained, capsys):
    code, out, err = in_process(["train", "--out", trained, "--resume", option, value], capsys)
    assert_one_line_error(code, out, err, "train", f"used {option} ", f"not {value}")


def test_resume_accepts_the_run_own_values_and_refuses_fewer_epochs(trained, capsys):
    code, out, err = in_process(["train", "--out", trained, "--resume", "--epochs", 1], capsys)
    assert_one_line_error(code, out, err, "train", "already trained 2 epochs")
    code, out, err = in_process(["train", "--out", trained, "--resume", "--epochs", 2,
                                 "--fusion", "concat", "--seed", 0, "--optimizer", "adam",
                                 "--no-plots", "--quiet"], capsys)
    assert code == 0, err  # nothing left to train: the same run, reported again


def test_refused_option_through_the_real_command(trained):
    result = tinymm("train", "--out", trained, "--resume", "--lr", 1e-3, "--seed", 7)
    assert_one_line_error(result.returncode, result.stdout, result.stderr, "train",
                          "used --seed 0, not 7")


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_writes_its_own_files_and_names_its_split(run):
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert "report.json" in before and "curves.png" in before
    result = tinymm("evaluate", run / "best.npz", "--split", "train", "--quiet")
    assert result.returncode == 0, result.stderr
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.name in before}
    assert after == before  # the training run's report and plots are untouched
    assert "train accuracy" in result.stdout and "test accuracy" not in result.stdout
    report = json.loads((run / "evaluate-best-train.json").read_text())
    assert report["split"] == "train" and report["num_samples"] == 48
    assert report["checkpoint"] == str(run / "best.npz")
    assert (run / "evaluate-best-train-confusion.png").is_file()
    assert not (run / "evaluate-best-train-curves.png").exists()  # training curves stay the run's
    test = tinymm("evaluate", run / "last.npz", "--no-plots", "--quiet")
    assert test.returncode == 0 and "test accuracy" in test.stdout
    assert json.loads((run / "evaluate-last-test.json").read_text())["split"] == "test"


# ----------------------------------------------------------------------------- damaged files
def _set(path, value):
    def edit(state):
        node = state
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _delete(path):
    def edit(state):
        node = state
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return edit


def _first_weight(edit):
    def apply(state):
        key = next(iter(state["model"]))
        state["model"][key] = edit(state["model"][key])
    return apply


def _python_trainer(state):
    del state["config"]["run"]


def _optimizer_shape(state):
    moments = state["optimizer"]["state"][0]
    moments["exp_avg"] = np.zeros(moments["exp_avg"].size + 1, np.float32)


CHECKPOINT_DAMAGE = {  # name: (edit of the loaded checkpoint, commands it matters to)
    "a-plain-state-dict": (lambda s: s.clear() or s.update(w=np.ones(3)), ("evaluate", "train")),
    "python-trainer": (_python_trainer, ("evaluate", "train")),
    "run-is-a-list": (_set(("config", "run"), [1, 2]), ("evaluate", "train")),
    "run-missing-field": (_delete(("config", "run", "fusion")), ("evaluate", "train")),
    "run-bad-value": (_set(("config", "run", "batch_size"), "big"), ("evaluate", "train")),
    "run-unknown-dataset": (_set(("config", "run", "dataset"), "imagenet"), ("evaluate", "train")),
    "epoch-negative": (_set(("epoch",), -1), ("evaluate", "train")),
    "model-not-a-dict": (_set(("model",), [1, 2]), ("evaluate", "train")),
    "model-wrong-shape": (_first_weight(lambda w: np.zeros(w.size + 1, w.dtype)),
                          ("evaluate", "train")),
    "model-wrong-dtype-complex": (_first_weight(lambda w: w.astype(np.complex64)),
                                  ("evaluate", "train")),
    "model-wrong-dtype-text": (_first_weight(lambda w: np.full(w.shape, "x")), ("evaluate", "train")),
    "model-missing-key": (lambda s: s["model"].pop(next(iter(s["model"]))), ("evaluate", "train")),
    "model-extra-key": (_set(("model", "extra.weight"), np.ones(2, np.float32)),
                        ("evaluate", "train")),
    "optimizer-missing": (_delete(("optimizer",)), ("train",)),
    "optimizer-wrong-shape": (_optimizer_shape, ("train",)),
    "optimizer-groups": (_set(("optimizer", "param_groups"), []), ("train",)),
    "history-not-a-dict": (_set(("history",), 5), ("train",)),
    "best-missing-fields": (_set(("best",), {}), ("train",)),
    "rng-invalid": (_set(("rng",), {"bit_generator": "PCG64", "state": "x"}), ("train",)),
}

CASES = [(kind, cmd) for kind in sorted(FILE_DAMAGE) for cmd in ("evaluate", "train")] + \
    [(kind, cmd) for kind, (_, cmds) in sorted(CHECKPOINT_DAMAGE.items()) for cmd in cmds]
REAL_COMMAND = {("text", "evaluate"), ("random-bytes", "evaluate"), ("python-trainer", "evaluate"),
                ("model-wrong-shape", "evaluate"), ("truncated-half", "train"),
                ("python-trainer", "train"), ("optimizer-wrong-shape", "train")}


def damage(run: Path, kind: str, name: str) -> Path:
    path = run / name
    if kind in FILE_DAMAGE:
        path.write_bytes(FILE_DAMAGE[kind](path.read_bytes()))
    else:
        state = tm.load(path)
        CHECKPOINT_DAMAGE[kind][0](state)
        tm.save(state, path)
    return path


@pytest.mark.parametrize("kind, cmd", CASES, ids=[f"{c}-{k}" for k, c in CASES])
def test_a_damaged_checkpoint_is_one_line_and_exit_2(kind, cmd, run, capsys):
    path = damage(run, kind, "last.npz")
    argv = ["evaluate", path, "--no-plots", "--quiet"] if cmd == "evaluate" else \
        ["train", "--out", run, "--resume", "--no-plots", "--quiet"]
    if (kind, cmd) in REAL_COMMAND:
        result = tinymm(*argv)
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = in_process(argv, capsys)
    assert_one_line_error(code, out, err, cmd, "last.npz")
    if kind in ("empty", "text", "random-bytes", "single-npy", "plain-npz", "a-plain-state-dict"):
        assert "not a tinymm checkpoint" in err or "not a training checkpoint" in err, err
    if kind == "python-trainer":
        assert "Python Trainer" in err
    assert not (run / "evaluate-last-test.json").exists()


def test_the_subprocess_cases_are_cases():
    assert REAL_COMMAND <= set(CASES)


def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    code, out, err = in_process(["train", "--out", tmp_path / "taken", "--epochs", 1, *TINY],
                                capsys)
    assert_one_line_error(code, out, err, "train", "cannot use", "as the output folder")


def test_a_failing_checkpoint_write_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import tinymm.train.trainer as trainer_module

    def disk_full(obj, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer_module, "save", disk_full)
    code, out, err = in_process(["train", "--out", tmp_path, "--epochs", 1, "--no-plots", *TINY],
                                capsys)
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert "Traceback" not in err and not (tmp_path / "report.json").exists()
