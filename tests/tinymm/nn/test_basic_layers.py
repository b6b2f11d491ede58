"""nn.Linear, Flatten, Identity, activation modules, Dropout, Softmax and loss modules."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm import nn
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]


# ----------------------------------------------------------------------------- Linear
def test_linear_parameters_and_init():
    tm.manual_seed(0)
    lin = nn.Linear(50, 20)
    assert lin.weight.shape == (20, 50) and lin.bias.shape == (20,)
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad
    assert list(dict(lin.named_parameters())) == ["weight", "bias"]
    bound = 1 / math.sqrt(50)  # kaiming_uniform(a=√5) on (out, in) = U(±1/√in), as PyTorch
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.8 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
    assert list(dict(nn.Linear(3, 2, bias=False).named_parameters())) == ["weight"]
    assert nn.Linear(3, 2, dtype=tm.float64).weight.dtype == np.float64
    assert repr(lin) == "Linear(in_features=50, out_features=20, bias=True)"


def test_linear_init_is_reproducible():
    tm.manual_seed(5)
    a = nn.Linear(4, 3).weight.data.copy()
    tm.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(4, 3).weight.data, a)


def _numeric_parameter_grads(module, x, cotangent, eps=1e-6):
    """Central differences of Σ cotangent·module(x) w.r.t. each parameter, perturbed in place."""
    grads = {}
    for name, p in module.named_parameters():
        num = np.zeros(p.shape)
        for j in range(p.data.size):
            flat = p.data.reshape(-1)
            old = flat[j]
            flat[j] = old + eps
            up = np.sum(module(x).data * cotangent)
            flat[j] = old - eps
            down = np.sum(module(x).data * cotangent)
            flat[j] = old
            num.reshape(-1)[j] = (up - down) / (2 * eps)
        grads[name] = num
    return grads


@given(tst.tensors(tst.shapes(1, 3, max_side=3)), st.integers(1, 4), st.booleans())
def test_linear_module_gradients(x, out_features, bias):
    lin = nn.Linear(x.shape[-1], out_features, bias=bias).double()
    assert_gradients_close(lin, x, names=("input",))
    lin.zero_grad()  # the check's own backward reached the parameters too
    g = np.random.default_rng(0).standard_normal(lin(x).shape)
    lin(x).backward(g)
    with tm.no_grad():
        numeric = _numeric_parameter_grads(lin, x, g)
    assert set(numeric) == ({"weight", "bias"} if bias else {"weight"})
    for name, p in lin.named_parameters():
        np.testing.assert_allclose(p.grad, numeric[name], rtol=1e-6, atol=1e-8, err_msg=name)


def _torch_twin(module, torch_module):
    """Copy tinymm parameters into the torch module (state dicts are interchangeable)."""
    import torch

    torch_module.load_state_dict({k: torch.from_numpy(v.copy())
                                  for k, v in module.state_dict().items()})
    return torch_module.double()


@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_matches_torch_forward_and_every_gradient(bias):
    torch = pytest.importorskip("torch")
    tm.manual_seed(1)
    lin = nn.Linear(4, 3, bias=bias).double()
    tlin = _torch_twin(lin, torch.nn.Linear(4, 3, bias=bias))
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    g = np.random.default_rng(1).standard_normal((2, 5, 3))
    xt, xm = torch.tensor(x, requires_grad=True), tm.tensor(x, requires_grad=True)
    y, yt = lin(xm), tlin(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lin.weight.grad, tlin.weight.grad.numpy(), rtol=1e-10)
    if bias:
        np.testing.assert_allclose(lin.bias.grad, tlin.bias.grad.numpy(), rtol=1e-10)
    back = nn.Linear(4, 3, bias=bias)  # and back: torch's state dict loads into tinymm
    back.load_state_dict(tlin.state_dict())
    np.testing.assert_allclose(back.weight.data, lin.weight.data, rtol=1e-6)


def test_linear_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Linear: in_features must be >= 1, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match="Linear: out_features must be an int, got float"):
        nn.Linear(3, 2.5)
    with pytest.raises(ValueError, match=r"linear: input has 5 features"):
        nn.Linear(3, 2)(tm.randn(2, 5))


# ----------------------------------------------------------------------------- shape modules
def test_flatten_and_identity():
    x = tm.randn(2, 3, 4, 5, requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    ident = nn.Identity(54, unused="x")
    assert ident(x) is x
    assert_gradients_close(nn.Flatten(), x.double())


def test_flatten_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    for args in ((), (0, 1), (1, 2), (0, -1)):
        assert_matches_torch(nn.Flatten(*args), torch.nn.Flatten(*args), x)


def test_flatten_rejects_bad_arguments():
    with pytest.raises(TypeError, match="Flatten: start_dim must be an int, got float"):
        nn.Flatten(start_dim=1.5)
    with pytest.raises(TypeError, match="Flatten: end_dim must be an int"):
        nn.Flatten(end_dim="x")
    with pytest.raises(ValueError, match="flatten: start_dim=3 is out of range"):
        nn.Flatten(3)(tm.randn(2, 3))


# ----------------------------------------------------------------------------- activations
ACTIVATIONS = {
    "ReLU": ({}, {"away_from": (0.0,)}),
    "GELU": ({}, {}),
    "Tanh": ({}, {}),
    "Sigmoid": ({}, {}),
    "Softmax": ({"dim": 1}, {}),
    "LogSoftmax": ({"dim": -1}, {}),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(data=st.data())
def test_activation_modules_gradients(name, data):
    kwargs, domain = ACTIVATIONS[name]
    x = data.draw(tst.tensors(tst.shapes(2, 3, max_side=3), **domain), label="x")
    with tm.backend("numpy"):  # the Numba twins are held to torch on both backends below
        assert_gradients_close(getattr(nn, name)(**kwargs), x, names=("input",))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_modules_match_torch(backend, name):
    torch = pytest.importorskip("torch")
    kwargs, _ = ACTIVATIONS[name]
    x = np.random.default_rng(0).uniform(-3, 3, (3, 4, 2))
    with tm.backend(backend):
        assert_matches_torch(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), x)


def test_activation_module_reprs_and_errors():
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)" and repr(nn.ReLU()) == "ReLU()"
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU(approximate="erf")
    with pytest.raises(TypeError, match="softmax: dim must be given"):
        nn.Softmax()(tm.randn(2, 3))
    with pytest.raises(TypeError, match="log_softmax: dim must be given"):
        nn.LogSoftmax()(tm.randn(2, 3))
    with pytest.raises(TypeError, match="relu: input must be a Tensor, got ndarray"):
        nn.ReLU()(np.ones(2))


# ----------------------------------------------------------------------------- Dropout
def test_dropout_module_train_and_eval():
    drop = nn.Dropout(0.25)
    assert repr(drop) == "Dropout(p=0.25)" and drop.training
    x = tm.ones(100, 100, requires_grad=True)
    tm.manual_seed(3)
    y = drop(x)
    assert abs((y.data == 0).mean() - 0.25) < 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad, (y.data != 0) / 0.75)
    drop.eval()
    assert drop(x) is x


def test_dropout_module_eval_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert_matches_torch(nn.Dropout(0.5).eval(), torch.nn.Dropout(0.5).eval(), x)


def test_dropout_module_rejects_bad_p():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match="Dropout: p must be a float"):
        nn.Dropout("0.5")


# ----------------------------------------------------------------------------- losses
LOSS_CASES = {
    "CrossEntropyLoss": [{}, {"reduction": "sum", "label_smoothing": 0.2},
                         {"reduction": "none", "ignore_index": 1}],
    "MSELoss": [{}, {"reduction": "sum"}, {"reduction": "none"}],
    "BCEWithLogitsLoss": [{}, {"reduction": "sum"}, {"reduction": "none"}],
}


def _loss_inputs(name, rng):
    x = rng.standard_normal((4, 3))
    if name == "CrossEntropyLoss":
        return x, np.array([0, 2, 1, 1])
    if name == "MSELoss":
        return x, rng.standard_normal((4, 3))
    return x, rng.uniform(0, 1, (4, 3))


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_modules_gradients(name):
    rng = np.random.default_rng(0)
    x, t = _loss_inputs(name, rng)
    target = t if name == "CrossEntropyLoss" else tm.tensor(t)
    with tm.backend("numpy"):
        for kw in LOSS_CASES[name]:
            assert_gradients_close(lambda a, kw=kw: getattr(nn, name)(**kw)(a, target),
                                   tm.tensor(x, requires_grad=True), names=("input",))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_modules_match_torch(backend, name):
    torch = pytest.importorskip("torch")
    x, t = _loss_inputs(name, np.random.default_rng(1))
    with tm.backend(backend):
        for kw in LOSS_CASES[name]:
            assert_matches_torch(getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw), x, t,
                                 names=("input", "target"))


def test_loss_modules_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        nn.MSELoss(reduction="avg")(tm.randn(2), tm.randn(2))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        nn.CrossEntropyLoss(reduction="avg")(tm.randn(2, 3), np.array([0, 1]))
    with pytest.raises(TypeError, match="cross_entropy: ignore_index must be an int"):
        nn.CrossEntropyLoss(ignore_index=0.5)(tm.randn(2, 3), np.array([0, 1]))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: target shape"):
        nn.BCEWithLogitsLoss()(tm.randn(2), tm.randn(3))
