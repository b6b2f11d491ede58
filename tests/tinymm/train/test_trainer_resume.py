"""Trainer.resume under changed settings, and damaged checkpoints refused before loading."""

import math

import numpy as np
import pytest
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.models import build_model
from tinymm.train import Reporter, Trainer

TRAIN, VAL = bits_dataset(64), bits_dataset(32, seed=1)
QUIET = Reporter(quiet=True)


def make_trainer(out_dir, seed: int = 0, **options) -> Trainer:
    tm.manual_seed(seed)
    model = build_model(TRAIN, "concat", head_hidden=8)
    settings = {"epochs": 2, "batch_size": 16, "lr": 5e-3, "scheduler": "cosine",
                "reporter": QUIET, **options}
    return Trainer(model, TRAIN, VAL, out_dir=out_dir, **settings)


def test_more_epochs_stretch_the_cosine_schedule(tmp_path):
    make_trainer(tmp_path).fit(restore_best=False)
    longer = make_trainer(tmp_path, epochs=4).resume()
    assert longer.optimizer.param_groups[0]["lr"] == pytest.approx(
        5e-3 * (1 + math.cos(math.pi * 2 / 4)) / 2, rel=1e-12)
    longer.fit(restore_best=False)
    lrs = longer.history["lr"]
    assert lrs[:2] == [5e-3, 5e-3 * (1 + math.cos(math.pi / 2)) / 2]
    assert lrs[2:] == pytest.approx([5e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (2, 3)],
                                    rel=1e-12)
    assert min(lrs) > 0  # the old bug: epoch 3 trained at lr 0 on the 2-epoch cosine


@pytest.mark.parametrize("scheduler, expected", [
    ("none", [1e-3, 1e-3]),
    ("step", [1e-3 * 0.5 ** 2, 1e-3 * 0.5 ** 3]),  # step_size=1, gamma=0.5: epochs 3 and 4
    ("cosine", [1e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (2, 3)]),
])
def test_a_new_lr_is_the_base_of_the_rest_of_the_schedule(scheduler, expected, tmp_path):
    options = dict(scheduler=scheduler, step_size=1, gamma=0.5)
    make_trainer(tmp_path, epochs=2, **options).fit(restore_best=False)
    resumed = make_trainer(tmp_path, epochs=4, lr=1e-3, weight_decay=0.01, **options).resume()
    assert all(g["weight_decay"] == 0.01 for g in resumed.optimizer.param_groups)
    resumed.fit(restore_best=False)
    assert resumed.history["lr"][2:] == pytest.approx(expected, rel=1e-12)


def test_fewer_epochs_than_done_is_refused(tmp_path):
    make_trainer(tmp_path, epochs=2).fit(restore_best=False)
    with pytest.raises(ValueError, match=r"Trainer.resume: the checkpoint has already trained 2 "
                                         r"epochs, more than epochs=1"):
        make_trainer(tmp_path, epochs=1).resume()


@pytest.mark.parametrize("damage, message", [
    (lambda s: s.pop("rng"), r"the checkpoint lacks \['rng'\]"),
    (lambda s: s.update(history=5), r"history is not a dict of lists"),
    (lambda s: s.update(best={}), r"'best' entry is not a dict"),
    (lambda s: s.update(rng={"bit_generator": "PCG64", "state": 1}), r"random state is invalid"),
    (lambda s: s.update(epoch=-3), r"epoch is -3, not an int >= 0"),
    (lambda s: s["optimizer"].update(param_groups=[]), r"load_state_dict: the state dict has 0 "
                                                       r"param groups"),
])
def test_a_damaged_checkpoint_changes_nothing(damage, message, tmp_path):
    make_trainer(tmp_path).fit(restore_best=False)
    state = tm.load(tmp_path / "last.npz")
    damage(state)
    tm.save(state, tmp_path / "last.npz")
    fresh = make_trainer(tmp_path, seed=5)
    before = {k: v.copy() for k, v in fresh.model.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        fresh.resume()
    assert fresh.epoch == 0
    for k, v in fresh.model.state_dict().items():  # the weights were not half-loaded
        np.testing.assert_array_equal(v, before[k])
