"""RMSprop and Adagrad: PyTorch parity step by step, state dicts, resume, bad input.

Tolerances: each step is a handful of element-wise operations, each rounding to the
working precision u, so the parameters differ from PyTorch's by a few u times the sum of
the step sizes (|Δp| <= lr·O(1/√(1-α)) for RMSprop, lr for Adagrad) plus u·|p|: rtol and
atol of 1e-6 in float32 (u = 6e-8) and 1e-10 / 1e-12 in float64 leave a margin of ~10x.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn, optim

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
STEPS = 6
CASES = [
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.02, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5,
                     weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-6, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def initial(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def gradient(values, t, i):
    """Depends on the parameter and the step; the same arrays for both libraries."""
    rng = np.random.default_rng(100 * t + i)
    return np.asarray(np.sin(3 * values) + 0.5 * rng.standard_normal(values.shape), values.dtype)


def skipped(t, i):
    return t == 2 and i == 1  # one parameter without a gradient at one step


def step_tinymm(opt, params, t):
    opt.zero_grad()
    for i, p in enumerate(params):
        if not skipped(t, i):
            p.grad = gradient(p.data, t, i)
    opt.step()


def run_tinymm(name, kwargs, init, steps, start=0, opt=None, params=None):
    if params is None:
        params = [nn.Parameter(v.copy()) for v in init]
        opt = getattr(optim, name)(params, **kwargs)
    for t in range(start, steps):
        if t == 3:
            opt.param_groups[0]["lr"] *= 0.5  # a scheduler changes lr between steps
        step_tinymm(opt, params, t)
    return params, opt


def run_torch(torch, name, kwargs, init, steps):
    params = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in init]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for t in range(steps):
        if t == 3:
            opt.param_groups[0]["lr"] *= 0.5
        opt.zero_grad()
        for i, p in enumerate(params):
            if not skipped(t, i):
                p.grad = torch.from_numpy(gradient(p.detach().numpy(), t, i))
        opt.step()
    return params, opt


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-6, 1e-6)])
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_every_step_matches_pytorch(name, kwargs, dtype, rtol, atol):
    torch = pytest.importorskip("torch")
    init = initial(dtype)
    params = [nn.Parameter(v.copy()) for v in init]
    opt = getattr(optim, name)(params, **kwargs)
    tparams = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in init]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    for t in range(STEPS):
        if t == 3:
            opt.param_groups[0]["lr"] *= 0.5
            topt.param_groups[0]["lr"] *= 0.5
        step_tinymm(opt, params, t)
        topt.zero_grad()
        for i, p in enumerate(tparams):
            if not skipped(t, i):
                p.grad = torch.from_numpy(gradient(p.detach().numpy(), t, i))
        topt.step()
        for p, q in zip(params, tparams):
            assert p.dtype == dtype
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"step {t}")
    for p, p0 in zip(params, init):
        assert not np.allclose(p.data, p0)  # not vacuous: the parameters moved
    assert [opt.state[p]["step"] for p in params] == [STEPS, STEPS - 1, STEPS, STEPS]
    for values in opt.state.values():  # no silent promotion of the state
        assert all(v.dtype == dtype for v in values.values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_state_dict_has_pytorchs_keys_and_resumes_exactly(name, kwargs, tmp_path):
    torch = pytest.importorskip("torch")
    init = initial(np.float64, seed=1)
    straight, _ = run_tinymm(name, kwargs, init, STEPS)
    first, opt = run_tinymm(name, kwargs, init, 3)
    _, topt = run_torch(torch, name, kwargs, init, 3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    assert all(sd["state"][k].keys() == tsd["state"][k].keys() for k in sd["state"])
    common = set(sd["param_groups"][0]) - {"params"}
    assert common <= set(tsd["param_groups"][0])
    assert {k: sd["param_groups"][0][k] for k in common} == \
        {k: tsd["param_groups"][0][k] for k in common}
    tm.save({"params": [p.data for p in first], "optim": sd}, tmp_path / "ck.npz")
    ck = tm.load(tmp_path / "ck.npz")
    resumed = [nn.Parameter(a) for a in ck["params"]]
    opt2 = getattr(optim, name)(resumed, lr=123.0)  # the options come from the state dict
    opt2.load_state_dict(ck["optim"])
    run_tinymm(name, kwargs, init, STEPS, start=3, opt=opt2, params=resumed)
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_pytorch_state_dict_loads_and_continues(name):
    torch = pytest.importorskip("torch")
    kwargs = dict(CASES[3][1]) if name == "RMSprop" else dict(CASES[7][1])
    init = initial(np.float64, seed=2)
    theirs, topt = run_torch(torch, name, kwargs, init, 3)
    tsd = topt.state_dict()
    ours = [nn.Parameter(q.detach().numpy().copy()) for q in theirs]
    opt = getattr(optim, name)(ours)
    opt.load_state_dict({
        "state": {k: {n: v.numpy() for n, v in s.items()} for k, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"]})
    run_tinymm(name, kwargs, init, STEPS, start=3, opt=opt, params=ours)
    full, _ = run_torch(torch, name, kwargs, init, STEPS)
    for p, r in zip(ours, full):
        np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_bad_arguments_name_the_optimizer():
    p = [nn.Parameter(np.ones(2, np.float32))]
    cases = [
        (lambda: optim.RMSprop(p, lr=-1.0), ValueError, r"RMSprop: lr must be >= 0"),
        (lambda: optim.RMSprop(p, alpha="x"), TypeError, r"RMSprop: alpha must be a real number"),
        (lambda: optim.RMSprop(p, centered=1), TypeError, r"RMSprop: centered must be a bool"),
        (lambda: optim.RMSprop(p, momentum=-0.5), ValueError, r"RMSprop: momentum must be >= 0"),
        (lambda: optim.Adagrad(p, lr_decay=-1.0), ValueError, r"Adagrad: lr_decay must be >= 0"),
        (lambda: optim.Adagrad(p, eps=None), TypeError, r"Adagrad: eps must be a real number"),
        (lambda: optim.Adagrad(p, initial_accumulator_value=-1.0), ValueError,
         r"Adagrad: initial_accumulator_value must be >= 0"),
        (lambda: optim.Adagrad([]), ValueError, r"Adagrad: params is empty"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()
    opt = optim.RMSprop(p)
    p[0].grad = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"RMSprop.step: a parameter of shape \(2,\) has a "
                                         r"gradient of shape \(3,\)"):
        opt.step()
