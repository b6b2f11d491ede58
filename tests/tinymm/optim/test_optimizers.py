"""SGD, Adam and AdamW: PyTorch parity on both kernel backends, state dicts, param groups."""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn, optim

BACKENDS = ["numpy", "numba"]
SHAPES = [(3, 4), (5,), (2, 3, 2), ()]

# (optimizer name, options): every update-rule branch is covered at least once.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CASES]


def _initial(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grad(values, t, i):
    """A gradient that depends on the parameter and the step, the same in both libraries."""
    rng = np.random.default_rng(100 * t + i)
    g = np.sin(3 * values) + 0.5 * rng.standard_normal(values.shape)
    return np.asarray(g, dtype=values.dtype)  # asarray: a 0-d parameter gets a 0-d array


def _skip(t, i):
    return t == 2 and i == 1  # one parameter without a gradient at one step: it is skipped


def _step_tinymm(opt, params, t):
    opt.zero_grad()
    for i, p in enumerate(params):
        if not _skip(t, i):
            p.grad = _grad(p.data, t, i)
    opt.step()


def _run_tinymm(name, kwargs, init, steps, backend):
    params = [nn.Parameter(v.copy()) for v in init]
    opt = getattr(optim, name)(params, **kwargs)
    with tm.backend(backend):
        for t in range(steps):
            if t == 3:
                opt.param_groups[0]["lr"] *= 0.5  # schedulers change lr between steps
            _step_tinymm(opt, params, t)
    return params, opt


def _run_torch(torch, name, kwargs, init, steps):
    params = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in init]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for t in range(steps):
        if t == 3:
            opt.param_groups[0]["lr"] *= 0.5
        opt.zero_grad()
        for i, p in enumerate(params):
            if not _skip(t, i):
                p.grad = torch.from_numpy(_grad(p.detach().numpy(), t, i))
        opt.step()
    return params, opt


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_matches_pytorch_float64(name, kwargs, backend):
    torch = pytest.importorskip("torch")
    init = _initial(np.float64)
    ours, opt = _run_tinymm(name, kwargs, init, 5, backend)
    theirs, _ = _run_torch(torch, name, kwargs, init, 5)
    for p, q, p0 in zip(ours, theirs, init):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert not np.allclose(p.data, p0)  # the test is not vacuous: parameters moved
    if name != "SGD":  # parameter 1 missed one step; its own step count says so
        assert [opt.state[p]["step"] for p in ours] == [5, 4, 5, 5]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_matches_pytorch_float32(name, kwargs, backend):
    torch = pytest.importorskip("torch")
    init = _initial(np.float32)
    ours, opt = _run_tinymm(name, kwargs, init, 5, backend)
    theirs, _ = _run_torch(torch, name, kwargs, init, 5)
    for p, q in zip(ours, theirs):
        assert p.dtype == np.float32  # no silent promotion of parameters or state
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6, atol=1e-6)
    for values in opt.state.values():
        assert all(v.dtype == np.float32 for v in values.values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_state_dict_save_load_continue_equals_uninterrupted(name, kwargs, backend, tmp_path):
    init = _initial(np.float64, seed=1)
    straight, _ = _run_tinymm(name, kwargs, init, 5, backend)

    first, opt = _run_tinymm(name, kwargs, init, 3, backend)
    tm.save({"params": [p.data for p in first], "optim": opt.state_dict()}, tmp_path / "ck.npz")
    ck = tm.load(tmp_path / "ck.npz")
    resumed = [nn.Parameter(a) for a in ck["params"]]
    opt2 = getattr(optim, name)(resumed, lr=123.0)  # lr and options come from the state dict
    opt2.load_state_dict(ck["optim"])
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with tm.backend(backend):
        for t in (3, 4):
            if t == 3:
                opt2.param_groups[0]["lr"] *= 0.5
            _step_tinymm(opt2, resumed, t)
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_format_is_pytorchs():
    torch = pytest.importorskip("torch")
    init = _initial(np.float32)
    ours, opt = _run_tinymm("Adam", dict(lr=0.01, amsgrad=True), init, 2, "numba")
    theirs, topt = _run_torch(torch, "Adam", dict(lr=0.01, amsgrad=True), init, 2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys() == {0, 1, 2, 3}
    assert sd["state"][0].keys() == tsd["state"][0].keys()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    common = {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"}
    assert {k: sd["param_groups"][0][k] for k in common} == \
        {k: tsd["param_groups"][0][k] for k in common}
    # a snapshot: later steps do not change it
    before = sd["state"][0]["exp_avg"].copy()
    _step_tinymm(opt, ours, 9)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    assert sd["state"][0]["step"] == 2


@pytest.mark.parametrize(("name", "kwargs"), [CASES[3], CASES[10], CASES[12]],
                         ids=[IDS[3], IDS[10], IDS[12]])
def test_state_dicts_cross_over_to_and_from_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    init = _initial(np.float64, seed=2)
    # PyTorch runs 3 steps; tinymm loads its state and both run 2 more.
    theirs, topt = _run_torch(torch, name, kwargs, init, 3)
    tsd = topt.state_dict()
    ours = [nn.Parameter(q.detach().numpy().copy()) for q in theirs]
    opt = getattr(optim, name)(ours)
    opt.load_state_dict({
        "state": {k: {n: (v.numpy() if n != "step" else v) for n, v in s.items()}
                  for k, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    })
    opt.param_groups[0]["lr"] *= 0.5  # as _run_torch does before step 3
    for t in (3, 4):
        _step_tinymm(opt, ours, t)
    # ... and PyTorch loads tinymm's state (arrays -> tensors) and runs the same 2 steps.
    mine, first_opt = _run_tinymm(name, kwargs, init, 3, "numba")
    sd = first_opt.state_dict()
    back = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in mine]
    topt2 = getattr(torch.optim, name)(back)
    topt2.load_state_dict({
        "state": {k: {n: (torch.from_numpy(v) if isinstance(v, np.ndarray)
                          else torch.tensor(float(v))) for n, v in s.items()}
                  for k, s in sd["state"].items()},
        "param_groups": sd["param_groups"],
    })
    topt2.param_groups[0]["lr"] *= 0.5
    for t in (3, 4):
        topt2.zero_grad()
        for i, p in enumerate(back):
            p.grad = torch.from_numpy(_grad(p.detach().numpy(), t, i))
        topt2.step()
    full, _ = _run_torch(torch, name, kwargs, init, 5)
    for p, q, r in zip(ours, back, full):
        np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(q.detach().numpy(), r.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_param_groups_use_their_own_options(backend):
    torch = pytest.importorskip("torch")
    init = _initial(np.float64, seed=3)

    def groups(ps):
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1, "weight_decay": 0.3}]

    ours = [nn.Parameter(v.copy()) for v in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in init]
    opt = optim.AdamW(groups(ours), lr=0.01)
    topt = torch.optim.AdamW(groups(theirs), lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert opt.state_dict()["param_groups"][1]["params"] == [2, 3]
    with tm.backend(backend):
        for t in range(4):
            for i, (p, q) in enumerate(zip(ours, theirs)):
                p.grad = _grad(p.data, t, i)
                q.grad = torch.from_numpy(_grad(q.detach().numpy(), t, i))
            opt.step()
            topt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10)


def test_add_param_group_and_duplicate_checks():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.5})  # a single tensor is accepted
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["momentum"] == 0.5  # filled from the defaults
    with pytest.raises(ValueError, match="SGD.add_param_group.*more than one param group"):
        opt.add_param_group({"params": [a]})


def test_skips_parameters_without_grad_and_creates_no_state():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(2))
    assert b not in opt.state and opt.state[a]["step"] == 1
    assert opt.state_dict()["state"].keys() == {0}


def test_zero_grad_set_to_none_and_to_zero():
    a = nn.Parameter(np.ones(3))
    opt = optim.SGD([a], lr=0.1)
    a.grad = np.full(3, 2.0)
    kept = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is kept and not a.grad.any()
    opt.zero_grad()
    assert a.grad is None


def test_step_with_closure_returns_its_loss_and_records_a_graph():
    w = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tm.no_grad():  # the closure re-enables gradients, as in PyTorch
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_parameter_and_gradient_are_updated_in_place(backend):
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    w = nn.Parameter(base.T)  # a transposed view: not C-contiguous
    ref = nn.Parameter(base.T.copy())
    grad = np.linspace(-1, 1, 12).reshape(4, 3)
    with tm.backend(backend):
        for p, g in ((w, np.asfortranarray(grad)), (ref, grad)):
            opt = optim.Adam([p], lr=0.1, weight_decay=0.1)
            p.grad = g
            opt.step()
            opt.step()
    np.testing.assert_array_equal(w.data, ref.data)
    np.testing.assert_array_equal(base.T, ref.data)  # the original memory was updated in place


def test_gradient_of_another_dtype_is_cast_to_the_parameter_dtype():
    w = nn.Parameter(np.ones(4, np.float32))
    opt = optim.Adam([w], lr=0.1)
    w.grad = np.full(4, 0.5)  # float64 gradient
    opt.step()
    assert w.dtype == np.float32 and opt.state[w]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(w.data, 0.9, rtol=1e-6)


def test_state_follows_model_to_another_dtype():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    model.double()
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    for p in model.parameters():
        assert p.dtype == np.float64 and opt.state[p]["exp_avg"].dtype == np.float64


def test_trains_a_small_model():
    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = tm.tensor(np.random.default_rng(0).uniform(-1, 1, (64, 2)).astype(np.float32))
    y = (x[:, :1] * x[:, 1:]).detach()
    opt = optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_repr_lists_groups():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.5)
    text = repr(opt)
    assert text.startswith("SGD (") and "lr: 0.5" in text and "Parameter Group 0" in text
