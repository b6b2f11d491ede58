"""Every schedule of tinymm.optim.lr_scheduler against PyTorch's, step by step.

Two param groups (different lrs), 30 steps; the learning rates (and OneCycleLR's momentum
or beta1) must equal PyTorch's exactly: the same recursion evaluated in the same order in
Python floats. Resume: run part of a schedule, save the optimizer and scheduler state with
tm.save, rebuild both, load, and continue; the result equals PyTorch's uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn
from tinymm.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 30


class Warmup:
    """A callable object with state, saved in LambdaLR's state_dict as PyTorch does."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.epochs)


def linear_then_cosine(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=4),
                                s.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)], [5])


def three_stage(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.ExponentialLR(opt, gamma=0.9),
                                s.MultiStepLR(opt, milestones=[2, 4], gamma=0.5),
                                s.StepLR(opt, step_size=3, gamma=0.7)], [6, 14])


# name -> (optimizer kind, how to build the scheduler for library `lib` on optimizer `opt`)
SCHEDULES = {
    "LambdaLR-fn": ("sgd", lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, lambda e: 0.95 ** e)),
    "LambdaLR-per-group": ("sgd", lambda lib, o: lib.optim.lr_scheduler.LambdaLR(
        o, [lambda e: 1 / (1 + e), Warmup(5)])),
    "StepLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.7)),
    "MultiStepLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(
        o, milestones=[3, 7, 7, 20], gamma=0.3)),
    "MultiStepLR-default": ("adam", lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(o, [5, 10])),
    "ExponentialLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.87)),
    "LinearLR-default": ("sgd", lambda lib, o: lib.optim.lr_scheduler.LinearLR(o)),
    "LinearLR-decay": ("adam", lambda lib, o: lib.optim.lr_scheduler.LinearLR(
        o, start_factor=1.0, end_factor=0.05, total_iters=17)),
    "CosineAnnealingLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=7, eta_min=0.01)),
    "OneCycleLR-sgd": ("sgd-momentum", lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
        o, max_lr=[0.5, 1.0], total_steps=STEPS)),
    "OneCycleLR-adam-linear-3phase": ("adam", lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.2, epochs=5, steps_per_epoch=6, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-no-momentum": ("sgd", lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.3, total_steps=STEPS + 5, cycle_momentum=False)),
    "MultiplicativeLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.MultiplicativeLR(
        o, [lambda e: 0.9, Warmup(3)])),
    "ConstantLR": ("sgd", lambda lib, o: lib.optim.lr_scheduler.ConstantLR(
        o, factor=0.25, total_iters=4)),
    "PolynomialLR": ("adam", lambda lib, o: lib.optim.lr_scheduler.PolynomialLR(
        o, total_iters=20, power=2.0)),
    "CosineAnnealingWarmRestarts": ("sgd", lambda lib, o: lib.optim.lr_scheduler.
                                    CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)),
    "ChainedScheduler": ("sgd", lambda lib, o: lib.optim.lr_scheduler.ChainedScheduler(
        [lib.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=3),
         lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)])),
    "CyclicLR-triangular": ("sgd-momentum", lambda lib, o: lib.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.01, max_lr=[0.1, 0.5], step_size_up=4)),
    "CyclicLR-triangular2-adam": ("adam", lambda lib, o: lib.optim.lr_scheduler.CyclicLR(
        o, base_lr=[0.001, 0.002], max_lr=0.05, step_size_up=3, step_size_down=5,
        mode="triangular2", base_momentum=0.7, max_momentum=0.95)),
    "CyclicLR-exp-range": ("sgd", lambda lib, o: lib.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=2, mode="exp_range", gamma=0.97,
        cycle_momentum=False)),
    "CyclicLR-scale-fn": ("sgd", lambda lib, o: lib.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=3, scale_fn=Warmup(4),
        scale_mode="iterations")),
    "SequentialLR-warmup-cosine": ("sgd", linear_then_cosine),
    "SequentialLR-three-stages": ("adam", three_stage),
}
IDS = sorted(SCHEDULES)

# metric per epoch for ReduceLROnPlateau: improves, stalls, improves a little, stalls ...
METRICS = [1.0, 0.8, 0.8, 0.81, 0.79, 0.79995, 0.8, 0.9, 0.7, 0.7, 0.7, 0.7, 0.71, 0.69,
           0.69, 0.69, 0.69, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
PLATEAUS = {
    "default": {},
    "min-rel": dict(patience=1, factor=0.5),
    "min-abs-cooldown": dict(patience=1, factor=0.5, threshold=0.05, threshold_mode="abs",
                             cooldown=2),
    "max-rel-minlr": dict(mode="max", patience=2, factor=0.2, min_lr=[0.001, 0.05]),
    "max-abs": dict(mode="max", patience=0, threshold=0.01, threshold_mode="abs", eps=1e-3),
}


def make_optimizer(lib, kind: str, params):
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.3}]
    if kind == "adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9 if kind == "sgd-momentum" else 0)


def tiny_params(lib):
    if lib is torch:
        return [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    return [nn.Parameter(np.ones(1, np.float32)) for _ in range(2)]


def group_values(opt) -> list:
    """What a schedule may move: lr, and momentum or beta1."""
    return [(g["lr"], g.get("momentum"), tuple(g["betas"]) if "betas" in g else None)
            for g in opt.param_groups]


def run(scheduler, steps: int, metrics=None) -> list:
    out = [(scheduler.get_last_lr(), group_values(scheduler.optimizer))]
    for i in range(steps):
        scheduler.optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        out.append((scheduler.get_last_lr(), group_values(scheduler.optimizer)))
    return out


def build(lib, name):
    kind, make = SCHEDULES[name]
    opt = make_optimizer(lib, kind, tiny_params(lib))
    return opt, make(lib, opt)


@pytest.mark.parametrize("name", IDS)
def test_every_step_equals_pytorch(name):
    ours, theirs = run(build(tm, name)[1], STEPS), run(build(torch, name)[1], STEPS)
    assert ours == theirs


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("split", [1, 5, 13])
def test_resume_from_state_dict_equals_pytorch_uninterrupted(name, split, tmp_path):
    want = run(build(torch, name)[1], STEPS)
    opt, sched = build(tm, name)
    first = run(sched, split)
    tm.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ck.npz")
    ck = tm.load(tmp_path / "ck.npz")
    opt2, sched2 = build(tm, name)  # a fresh process would build them the same way
    opt2.load_state_dict(ck["optim"])
    sched2.load_state_dict(ck["sched"])
    rest = run(sched2, STEPS - split)
    assert first + rest[1:] == want


def plateau(lib, kwargs):
    opt = make_optimizer(lib, "sgd", tiny_params(lib))
    return lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)


@pytest.mark.parametrize("name", sorted(PLATEAUS))
def test_reduce_on_plateau_equals_pytorch(name):
    kwargs = PLATEAUS[name]
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    ours = run(plateau(tm, kwargs), STEPS, metrics)
    theirs = run(plateau(torch, kwargs), STEPS, metrics)
    assert ours == theirs
    if name != "default":
        assert ours[-1][0] != ours[0][0]  # the metrics do trigger reductions


@pytest.mark.parametrize("name", sorted(PLATEAUS))
def test_reduce_on_plateau_resume_equals_pytorch(name, tmp_path):
    kwargs = PLATEAUS[name]
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    want = run(plateau(torch, kwargs), STEPS, metrics)
    sched = plateau(tm, kwargs)
    first = run(sched, 11, metrics)
    tm.save({"optim": sched.optimizer.state_dict(), "sched": sched.state_dict()},
            tmp_path / "ck.npz")
    ck = tm.load(tmp_path / "ck.npz")
    again = plateau(tm, kwargs)
    again.optimizer.load_state_dict(ck["optim"])
    again.load_state_dict(ck["sched"])
    assert first + run(again, STEPS - 11, metrics[11:])[1:] == want


def test_reduce_on_plateau_takes_a_tensor_metric_and_rejects_others():
    sched = plateau(tm, dict(patience=0, factor=0.5))
    sched.step(tm.tensor(1.0))
    sched.step(tm.tensor(2.0))
    assert sched.get_last_lr() == [0.05, 0.15]
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step: metrics must be a number, "
                                        r"got str"):
        sched.step("low")


@pytest.mark.parametrize("last_epoch", [0, 1, 3, 9, 15])
@pytest.mark.parametrize("current_lrs", [(0.1, 0.3), (0.07, 0.2)])
def test_cosine_built_with_last_epoch_matches_pytorch_step_by_step(last_epoch, current_lrs):
    """Built with last_epoch=k on an optimizer that holds initial_lr (and some current lr),
    PyTorch 2.13 keeps the current lr on construction and then applies its recursive update;
    tinymm does the same, step by step."""
    def build_with(lib, optim_mod, sched_mod):
        opt = make_optimizer(lib, "sgd", tiny_params(lib))
        for group, base, now in zip(opt.param_groups, (0.1, 0.3), current_lrs):
            group["initial_lr"], group["lr"] = base, now
        return sched_mod.CosineAnnealingLR(opt, T_max=7, eta_min=0.01, last_epoch=last_epoch)

    ours = build_with(tm, tm.optim, lr_scheduler)
    theirs = build_with(torch, torch.optim, torch.optim.lr_scheduler)
    for (a, _), (b, _) in zip(run(ours, 20), run(theirs, 20)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "LinearLR-decay",
                                  "CosineAnnealingLR", "ConstantLR", "PolynomialLR"])
def test_step_with_an_epoch_uses_pytorchs_closed_form(name):
    ours, theirs = build(tm, name)[1], build(torch, name)[1]
    for epoch in (3, 11, 4):
        with pytest.warns(UserWarning):
            ours.step(epoch)
        with pytest.warns(UserWarning):
            theirs.step(epoch)
        assert ours.get_last_lr() == theirs.get_last_lr()


def test_warm_restarts_with_fractional_epochs_equal_pytorch():
    ours, theirs = build(tm, "CosineAnnealingWarmRestarts")[1], build(torch, "CosineAnnealingWarmRestarts")[1]
    for epoch in (0.5, 1.25, 2.0, 3.75, 9.5, 20.0, 4.0):
        ours.step(epoch)
        theirs.step(epoch)
        assert ours.get_last_lr() == theirs.get_last_lr()
        assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i, theirs.last_epoch)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts.step: epoch must be a "
                                         r"number >= 0, got -1"):
        ours.step(-1)


def test_lambda_state_dict_keeps_callable_objects_state():
    warm = Warmup(5)
    opt = make_optimizer(tm, "sgd", tiny_params(tm))
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, warm])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"epochs": 5}]
    warm.epochs = 99
    sched.load_state_dict(state)
    assert warm.epochs == 5


def test_bad_arguments_name_the_scheduler():
    opt = make_optimizer(tm, "sgd", tiny_params(tm))
    s = lr_scheduler
    cases = [
        (lambda: s.LambdaLR(opt, [lambda e: 1.0]), ValueError, r"LambdaLR: expected 2 lr_lambdas"),
        (lambda: s.LambdaLR(opt, 0.5), TypeError, r"LambdaLR: lr_lambda must be callable"),
        (lambda: s.MultiStepLR(opt, 3), TypeError, r"MultiStepLR: milestones must be an iterable"),
        (lambda: s.MultiStepLR(opt, [1.5]), TypeError, r"MultiStepLR: milestones\[i\] must be an int"),
        (lambda: s.ExponentialLR(opt, gamma=-1.0), ValueError, r"ExponentialLR: gamma must be >= 0"),
        (lambda: s.LinearLR(opt, start_factor=0.0), ValueError, r"LinearLR: start_factor must be in"),
        (lambda: s.LinearLR(opt, end_factor=1.5), ValueError, r"LinearLR: end_factor must be in"),
        (lambda: s.LinearLR(opt, total_iters=0), ValueError, r"LinearLR: total_iters must be >= 1"),
        (lambda: s.OneCycleLR(opt, max_lr=0.1), ValueError, r"OneCycleLR: give total_steps"),
        (lambda: s.OneCycleLR(opt, max_lr=0.1, total_steps=0), ValueError,
         r"OneCycleLR: total_steps must be >= 1"),
        (lambda: s.OneCycleLR(opt, max_lr=[0.1], total_steps=5), ValueError,
         r"OneCycleLR: max_lr has 1 values but the optimizer has 2 param groups"),
        (lambda: s.OneCycleLR(opt, max_lr=0.1, total_steps=5, pct_start=1), ValueError,
         r"OneCycleLR: pct_start must be a float in \[0, 1\]"),
        (lambda: s.OneCycleLR(opt, max_lr=0.1, total_steps=5, anneal_strategy="exp"), ValueError,
         r"OneCycleLR: anneal_strategy must be 'cos' or 'linear'"),
        (lambda: s.ReduceLROnPlateau(opt, factor=1.0), ValueError,
         r"ReduceLROnPlateau: factor must be >= 0.0 and < 1.0"),
        (lambda: s.ReduceLROnPlateau(opt, mode="low"), ValueError,
         r"ReduceLROnPlateau: mode must be 'min' or 'max'"),
        (lambda: s.ReduceLROnPlateau(opt, threshold_mode="pct"), ValueError,
         r"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs'"),
        (lambda: s.ReduceLROnPlateau(opt, patience=-1), ValueError,
         r"ReduceLROnPlateau: patience must be >= 0"),
        (lambda: s.ReduceLROnPlateau([opt]), TypeError,
         r"ReduceLROnPlateau: optimizer must be a tinymm Optimizer, got list"),
        (lambda: s.SequentialLR(opt, [], []), ValueError, r"SequentialLR: schedulers must be a"),
        (lambda: s.MultiplicativeLR(opt, [1.0, 2.0]), TypeError,
         r"MultiplicativeLR: lr_lambda must be callable"),
        (lambda: s.ConstantLR(opt, factor=1.5), ValueError, r"ConstantLR: factor must be in"),
        (lambda: s.PolynomialLR(opt, total_iters=0), ValueError,
         r"PolynomialLR: total_iters must be >= 1"),
        (lambda: s.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError,
         r"CosineAnnealingWarmRestarts: T_0 must be >= 1"),
        (lambda: s.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5), TypeError,
         r"CosineAnnealingWarmRestarts: T_mult must be an int"),
        (lambda: s.ChainedScheduler([]), ValueError, r"ChainedScheduler: schedulers must be a"),
        (lambda: s.CyclicLR(opt, 0.01, 0.1, mode="sine"), ValueError, r"CyclicLR: mode must be"),
        (lambda: s.CyclicLR(opt, 0.01, 0.1, step_size_up=0), ValueError,
         r"CyclicLR: step_size_up must be >= 1"),
        (lambda: s.CyclicLR(opt, 0.01, [0.1]), ValueError,
         r"CyclicLR: max_lr has 1 values but the optimizer has 2 param groups"),
        (lambda: s.CyclicLR(opt, 0.01, 0.1, scale_fn=3), TypeError,
         r"CyclicLR: scale_fn must be callable"),
        (lambda: s.ChainedScheduler([s.ReduceLROnPlateau(opt)]), ValueError,
         r"ChainedScheduler: schedulers\[0\] is a ReduceLROnPlateau"),
        (lambda: s.SequentialLR(opt, [s.StepLR(opt, 2), s.StepLR(opt, 3)], []), ValueError,
         r"SequentialLR: expected 1 milestones"),
        (lambda: s.SequentialLR(opt, [s.ReduceLROnPlateau(opt)], []), ValueError,
         r"SequentialLR: schedulers\[0\] is a ReduceLROnPlateau"),
        (lambda: s.SequentialLR(opt, [s.StepLR(make_optimizer(tm, "sgd", tiny_params(tm)), 2)],
                                []), ValueError, r"SequentialLR: schedulers\[0\] \(StepLR\) belongs"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()
    one_cycle = s.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match=r"OneCycleLR.step: stepped 3 times, but total_steps is 2"):
        one_cycle.step()
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: expected a dict"):
        s.ReduceLROnPlateau(opt).load_state_dict(None)
