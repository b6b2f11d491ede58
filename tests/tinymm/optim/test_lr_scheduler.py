"""StepLR and CosineAnnealingLR: learning rates equal PyTorch's, state dicts, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn, optim
from tinymm.optim import lr_scheduler

SCHEDULES = [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=1, gamma=0.5)),
    ("StepLR", dict(step_size=4, gamma=0.7)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),  # 30 epochs: past T_max, up again
    ("CosineAnnealingLR", dict(T_max=1, eta_min=0.001)),
]
IDS = [f"{n}-{kw}" for n, kw in SCHEDULES]


def _two_groups(lib, params):
    return lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.3}], lr=0.1)


def _lrs(scheduler, epochs):
    out = [scheduler.get_last_lr()]
    for _ in range(epochs):
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=IDS)
def test_lrs_equal_pytorchs_over_30_epochs(name, kwargs):
    torch = pytest.importorskip("torch")
    params = [nn.Parameter(np.ones(1)) for _ in range(2)]
    ours = getattr(lr_scheduler, name)(_two_groups(tm, params), **kwargs)
    tparams = [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    theirs = getattr(torch.optim.lr_scheduler, name)(_two_groups(torch, tparams), **kwargs)
    got, want = _lrs(ours, 30), _lrs(theirs, 30)
    assert got == want  # the same recursion in the same order: equal to the last bit
    assert [g["lr"] for g in ours.optimizer.param_groups] == want[-1]


def test_closed_forms():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    step = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    for epoch, lrs in enumerate(_lrs(step, 12)):
        assert lrs[0] == pytest.approx(0.5 ** (epoch // 3), rel=1e-14)
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for epoch, lrs in enumerate(_lrs(cos, 10)):
        expected = 0.1 + 0.9 * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert lrs[0] == pytest.approx(expected, rel=1e-12)


def test_scheduler_drives_the_optimizer_updates():
    w = nn.Parameter(np.zeros(1))
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = np.array([-1.0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(w.data, [1.0 + 0.5 + 0.25])


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=IDS)
def test_state_dict_resume_equals_uninterrupted(name, kwargs, tmp_path):
    def make():
        opt = optim.Adam([nn.Parameter(np.ones(2))], lr=0.05)
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)

    _, straight = make()
    want = _lrs(straight, 20)

    opt, sched = make()
    first = _lrs(sched, 8)
    tm.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ck.npz")
    ck = tm.load(tmp_path / "ck.npz")
    opt2, sched2 = make()
    opt2.load_state_dict(ck["optim"])
    sched2.load_state_dict(ck["sched"])
    assert sched2.get_last_lr() == first[-1]
    assert first + _lrs(sched2, 12)[1:] == want


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match=r"StepLR: last_epoch=4 resumes a schedule, but param "
                                         r"group 0 has no 'initial_lr'"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    lr_scheduler.StepLR(opt, step_size=2)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    resumed = lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    assert resumed.last_epoch == 5 and resumed.base_lrs == [0.1]


def test_bad_arguments():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match=r"StepLR: step_size must be > 0, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match=r"StepLR: step_size must be a real number, got str"):
        lr_scheduler.StepLR(opt, step_size="2")
    assert lr_scheduler.StepLR(opt, step_size=2.0).step_size == 2.0  # PyTorch accepts floats
    with pytest.raises(ValueError, match=r"StepLR: gamma must be >= 0"):
        lr_scheduler.StepLR(opt, step_size=2, gamma=-0.5)
    with pytest.raises(TypeError, match=r"StepLR: optimizer must be a tinymm Optimizer, got list"):
        lr_scheduler.StepLR([opt], step_size=2)
    with pytest.raises(ValueError, match=r"StepLR: last_epoch must be >= -1, got -2"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=-2)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR: T_max must be >= 1, got 0"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR: eta_min must be >= 0"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=-1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR.load_state_dict: expected a dict"):
        sched.load_state_dict([1, 2])
