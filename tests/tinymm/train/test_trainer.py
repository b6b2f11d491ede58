"""Trainer: determinism, checkpoints, resume, NaN handling, early stopping, reporting."""

import io

import numpy as np
import pytest
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.models import build_model
from tinymm.train import NonFiniteLossError, Reporter, TextBar, Trainer

TRAIN, VAL = bits_dataset(128), bits_dataset(64, seed=1)
QUIET = Reporter(quiet=True)


def make_trainer(out_dir=None, seed: int = 0, **options) -> Trainer:
    tm.manual_seed(seed)
    model = build_model(TRAIN, "gated", head_hidden=8, modality_dropout=0.3)
    settings = {"epochs": 3, "batch_size": 16, "lr": 5e-3, "scheduler": "cosine",
                "reporter": QUIET, **options}
    return Trainer(model, TRAIN, VAL, out_dir=out_dir, config={"run": {"note": "test"}},
                   **settings)


def weights(model) -> dict:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_same_seed_same_run():
    a = make_trainer()  # build and fit one run at a time: both draw from one generator
    ha = a.fit(restore_best=False)
    b = make_trainer()
    hb = b.fit(restore_best=False)
    assert_same_weights(weights(a.model), weights(b.model))
    assert ha["train_loss"] == hb["train_loss"]
    c = make_trainer(seed=1)
    c.fit(restore_best=False)
    assert not np.array_equal(weights(c.model)["head.0.weight"], weights(a.model)["head.0.weight"])


def test_checkpoints_hold_everything(tmp_path):
    trainer = make_trainer(tmp_path, epochs=2)
    history = trainer.fit()
    assert (tmp_path / "last.npz").is_file() and (tmp_path / "best.npz").is_file()
    last = tm.load(tmp_path / "last.npz")
    assert last["format"] == "tinymm-checkpoint" and last["epoch"] == 2
    assert set(last) >= {"model", "optimizer", "scheduler", "config", "history", "rng", "best"}
    assert last["config"]["run"] == {"note": "test"}
    assert last["config"]["trainer"]["epochs"] == 2
    assert last["history"]["val_accuracy"] == history["val_accuracy"]
    best = tm.load(tmp_path / "best.npz")
    assert best["epoch"] == trainer.best_epoch
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_resume_after_a_crash_reproduces_the_uninterrupted_run(tmp_path):
    straight = make_trainer(tmp_path / "straight")
    straight.fit(restore_best=False)

    crashed = make_trainer(tmp_path / "crashed")
    forward, calls = crashed.model.forward, {"n": 0}

    def crash_in_epoch_two(inputs, mask=None):
        if crashed.model.training:
            calls["n"] += 1
            if calls["n"] == len(TRAIN) // 16 + 3:  # a few steps into epoch 2
                raise KeyboardInterrupt
        return forward(inputs, mask)

    crashed.model.forward = crash_in_epoch_two
    with pytest.raises(KeyboardInterrupt):
        crashed.fit()
    assert tm.load(tmp_path / "crashed" / "last.npz")["epoch"] == 1

    tm.manual_seed(123)  # whatever the generator did since, resume restores its state
    resumed = make_trainer(tmp_path / "crashed").resume()
    assert resumed.epoch == 1
    resumed.fit(restore_best=False)
    assert_same_weights(weights(resumed.model), weights(straight.model))
    assert resumed.history["train_loss"] == straight.history["train_loss"]
    assert resumed.history["lr"] == straight.history["lr"]


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, epochs=3)
    forward, calls = trainer.model.forward, {"n": 0}

    def nan_in_epoch_two(inputs, mask=None):
        out = forward(inputs, mask)
        if trainer.model.training:
            calls["n"] += 1
            if calls["n"] > len(TRAIN) // 16 + 1:
                return out * float("nan")
        return out

    trainer.model.forward = nan_in_epoch_two
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 2.*"
                                                 r"last good checkpoint.*epoch 1.*intact"):
        trainer.fit()
    last = tm.load(tmp_path / "last.npz")
    assert last["epoch"] == 1
    assert all(np.isfinite(v).all() for v in last["model"].values())
    assert all(np.isfinite(p.data).all() for p in trainer.model.parameters())  # never applied


def test_nan_before_any_checkpoint_says_so():
    trainer = make_trainer()
    forward = trainer.model.forward
    trainer.model.forward = lambda inputs, mask=None: forward(inputs, mask) * float("inf")
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 1.*No checkpoint"):
        trainer.fit()


def test_early_stopping_and_restore_best(tmp_path):
    trainer = make_trainer(tmp_path, epochs=6, lr=1e-9, patience=1, scheduler="none")
    history = trainer.fit()
    assert trainer.stopped_early and len(history["epoch"]) < 6
    best = tm.load(tmp_path / "best.npz")
    assert_same_weights(weights(trainer.model), best["model"])


def test_reporting_and_quiet(capsys):
    stream = io.StringIO()
    make_trainer(epochs=1, reporter=Reporter(stream=stream, progress="none")).fit()
    assert "epoch   1/1" in stream.getvalue() and "val loss" in stream.getvalue()
    make_trainer(epochs=1).fit()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_text_progress_bar_draws_on_a_terminal_and_clears():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = TextBar(4, "epoch 1/1", stream, min_interval=0.0)
    for _ in range(4):
        bar.set_postfix_str("loss 0.5")
        bar.update()
    assert "[########################] 4/4" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r")
    silent = io.StringIO()  # not a terminal: nothing drawn
    bar = TextBar(4, "x", silent)
    bar.update(4)
    bar.close()
    assert silent.getvalue() == ""


def test_reporter_falls_back_to_the_text_bar_without_tqdm(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name == "tqdm" or name.startswith("tqdm."):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    reporter = Reporter()
    assert reporter.progress == "text"
    assert isinstance(reporter.bar(3), TextBar)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="Trainer: epochs must be > 0"):
        make_trainer(epochs=0)
    with pytest.raises(ValueError, match="Trainer: lr"):
        make_trainer(lr=-1.0)
    with pytest.raises(ValueError, match="Trainer: optimizer must be one of"):
        make_trainer(optimizer="lbfgs")
    with pytest.raises(ValueError, match="Trainer: scheduler must be one of"):
        make_trainer(scheduler="exp")
    with pytest.raises(TypeError, match="Trainer: batch_size must be an int"):
        make_trainer(batch_size=2.5)
    with pytest.raises(ValueError, match="Reporter: progress"):
        Reporter(progress="fancy")
