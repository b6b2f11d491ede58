"""Bad optimizer arguments raise ValueError/TypeError naming the optimizer and the argument."""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn, optim


def _w(*shape):
    return nn.Parameter(np.ones(shape or (2,)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "pattern"),
    [
        (optim.SGD, dict(lr=-0.1), ValueError, r"SGD: lr must be >= 0.0, got -0.1"),
        (optim.SGD, dict(lr=True), TypeError, r"SGD: lr must be a real number, got bool"),
        (optim.SGD, dict(lr="0.1"), TypeError, r"SGD: lr must be a real number, got str"),
        (optim.SGD, dict(momentum=-0.9), ValueError, r"SGD: momentum must be >= 0"),
        (optim.SGD, dict(dampening=-1.0), ValueError, r"SGD: dampening must be >= 0"),
        (optim.SGD, dict(weight_decay=-1e-4), ValueError, r"SGD: weight_decay must be >= 0"),
        (optim.SGD, dict(nesterov=True), ValueError, r"SGD: nesterov=True requires momentum > 0"),
        (optim.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), ValueError,
         r"SGD: nesterov=True requires momentum > 0 and dampening = 0"),
        (optim.SGD, dict(nesterov=1), TypeError, r"SGD: nesterov must be a bool"),
        (optim.SGD, dict(maximize="yes"), TypeError, r"SGD: maximize must be a bool"),
        (optim.Adam, dict(lr=-1e-3), ValueError, r"Adam: lr must be >= 0"),
        (optim.Adam, dict(betas=(1.0, 0.999)), ValueError,
         r"Adam: betas\[0\] must be >= 0.0 and < 1.0"),
        (optim.Adam, dict(betas=(0.9, -0.1)), ValueError,
         r"Adam: betas\[1\] must be >= 0.0 and < 1.0"),
        (optim.Adam, dict(betas=0.9), TypeError, r"Adam: betas must be a pair of floats"),
        (optim.Adam, dict(betas=(0.9, 0.99, 0.1)), TypeError, r"Adam: betas must be a pair"),
        (optim.Adam, dict(eps=-1e-8), ValueError, r"Adam: eps must be >= 0"),
        (optim.Adam, dict(weight_decay=-0.1), ValueError, r"Adam: weight_decay must be >= 0"),
        (optim.Adam, dict(amsgrad="no"), TypeError, r"Adam: amsgrad must be a bool"),
        (optim.AdamW, dict(lr=-1.0), ValueError, r"AdamW: lr must be >= 0"),
        (optim.AdamW, dict(betas=(0.9, 1.5)), ValueError, r"AdamW: betas\[1\]"),
        (optim.AdamW, dict(weight_decay=-0.01), ValueError, r"AdamW: weight_decay must be >= 0"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        cls([_w()], **kwargs)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_bad_params(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: params is empty"):
        cls([])
    with pytest.raises(ValueError, match=rf"{name}: params is empty"):
        cls(nn.Sequential().parameters())
    with pytest.raises(TypeError, match=rf"{name}: params\[1\] must be a Parameter, got ndarray"):
        cls([_w(), np.ones(3)])
    with pytest.raises(TypeError, match=rf"{name}: params\[0\] must be a Parameter.*named_param"):
        cls(nn.Linear(2, 2).named_parameters())
    with pytest.raises(TypeError, match=rf"{name}: params must be an iterable.*single Parameter"):
        cls(_w())
    with pytest.raises(TypeError, match=rf"{name}: params must be an ordered collection"):
        cls({_w(), _w()})
    with pytest.raises(TypeError, match=rf"{name}: params must be an iterable"):
        cls(3)
    w = _w()
    with pytest.raises(ValueError, match=rf"{name}: a param group lists the same parameter twice"):
        cls([w, w])
    with pytest.raises(ValueError, match=rf"{name}: some parameters appear in more than one"):
        cls([{"params": [w]}, {"params": [_w(), w]}])
    with pytest.raises(ValueError, match=rf"{name}: params\[0\] is not a leaf"):
        cls([w * 2])
    with pytest.raises(TypeError, match=rf"{name}: params\[0\] must have a floating dtype"):
        cls([tm.tensor([1, 2])])
    with pytest.raises(ValueError, match=rf"{name}: a param group must have a 'params' entry"):
        cls([{"lr": 0.1}])
    with pytest.raises(TypeError, match=rf"{name}: a param group's 'params' must be an iterable"):
        cls([{"params": 3}])


def test_bad_group_options_name_the_group():
    opt = optim.SGD([_w()], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD \(param group 1\): lr must be >= 0"):
        opt.add_param_group({"params": [_w()], "lr": -1.0})
    with pytest.raises(TypeError, match=r"SGD.add_param_group: a param group must be a dict"):
        opt.add_param_group([_w()])
    with pytest.raises(ValueError, match=r"Adam \(param group 1\): betas\[0\]"):
        optim.Adam([{"params": [_w()]}, {"params": [_w()], "betas": (2.0, 0.9)}])
    assert len(opt.param_groups) == 1  # the failed additions left nothing behind


def test_plain_tensors_that_are_leaves_are_accepted():
    # PyTorch optimizes any leaf tensor, not only Parameters.
    t = tm.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([t], lr=0.5)
    t.grad = np.ones(3)
    opt.step()
    np.testing.assert_allclose(t.data, 0.5)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_gradient_of_the_wrong_shape(cls):
    w = _w(3)
    opt = cls([w], lr=0.1)
    w.grad = np.ones(4)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.step: a parameter of shape \(3,\) "
                                         r"has a gradient of shape \(4,\)"):
        opt.step()
    np.testing.assert_array_equal(w.data, 1.0)


def test_bad_state_dicts():
    a, b = _w(2), _w(3)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(2), np.ones(3)
    opt.step()
    good = opt.state_dict()
    fn = r"Adam.load_state_dict: "
    with pytest.raises(ValueError, match=fn + "expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    with pytest.raises(ValueError, match=fn + "expected a dict"):
        opt.load_state_dict([1, 2])
    with pytest.raises(ValueError, match=fn + "the state dict has 1 param groups, the optimizer 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(good)
    with pytest.raises(ValueError, match=fn + "param group 0 has 2 parameters in the state dict "
                                              "but 1 in the optimizer"):
        optim.Adam([a]).load_state_dict(good)
    swapped = optim.Adam([b, a])
    with pytest.raises(ValueError, match=fn + r"state\[0\]\['exp_avg'\] has shape \(2,\) but "
                                              r"parameter 0 has shape \(3,\)"):
        swapped.load_state_dict(good)
    assert not swapped.state  # nothing was half-loaded
    extra = {"state": {**good["state"], 7: {"step": 1}}, "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match=fn + "the state dict has state for parameter 7"):
        opt.load_state_dict(extra)
    bad_lr = {"state": good["state"], "param_groups": [{**good["param_groups"][0], "lr": -1.0}]}
    with pytest.raises(ValueError, match=r"Adam.load_state_dict \(param group 0\): lr must be"):
        opt.load_state_dict(bad_lr)


def test_parameter_replaced_by_another_shape_is_caught_before_the_kernel():
    w = _w(3)
    opt = optim.Adam([w], lr=0.1)
    w.grad = np.ones(3)
    opt.step()
    w.data, w.grad = np.ones(5), np.ones(5)  # model surgery behind the optimizer's back
    with pytest.raises(ValueError, match=r"Adam.step: state 'exp_avg' has shape \(3,\) but its "
                                         r"parameter has shape \(5,\)"):
        opt.step()


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_checks_every_parameter_before_it_updates_any(cls):
    # One kernel call updates a whole group, so a bad gradient on the second parameter
    # must leave the first one, and every step count, as they were.
    good, bad = _w(3), _w(2)
    opt = cls([good, bad], lr=0.1)
    good.grad, bad.grad = np.ones(3), np.ones(5)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.step: a parameter of shape \(2,\)"):
        opt.step()
    np.testing.assert_array_equal(good.data, np.ones(3))
    assert all("step" not in opt.state[p] for p in (good, bad))
    bad.grad = np.ones(2)
    opt.step()
    assert opt.state[good]["step"] == opt.state[bad]["step"] == 1
    assert (good.data < 1).all() and (bad.data < 1).all()
