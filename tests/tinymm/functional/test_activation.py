"""F.relu, gelu, tanh, sigmoid, softmax, log_softmax, dropout: gradients, parity, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]

POINTWISE = {
    "relu": (F.relu, "relu", {"away_from": (0.0,)}),
    "gelu": (F.gelu, "gelu", {"min_value": -4.0, "max_value": 4.0}),
    "tanh": (F.tanh, "tanh", {}),
    "sigmoid": (F.sigmoid, "sigmoid", {"min_value": -6.0, "max_value": 6.0}),
}


def _torch_fn(name):
    import torch

    return getattr(torch.nn.functional, name)


@pytest.mark.parametrize("name", sorted(POINTWISE))  # every op gets its examples
@given(data=st.data())
def test_pointwise_activation_gradients(name, data):
    fn, _, domain = POINTWISE[name]
    x = data.draw(tst.tensors(tst.shapes(0, 3), **domain), label="x")
    assert_gradients_close(fn, x, names=("input",))


@pytest.mark.parametrize("name", sorted(POINTWISE))
@given(data=st.data())
def test_pointwise_activations_match_torch(name, data):
    pytest.importorskip("torch")
    fn, torch_name, domain = POINTWISE[name]
    x = data.draw(tst.tensors(tst.shapes(0, 3), **domain), label="x")
    assert_matches_torch(fn, _torch_fn(torch_name), x.data, names=("input",))
    assert_matches_torch(fn, _torch_fn(torch_name), x.data.astype(np.float32),
                         names=("input",))


def test_gelu_is_the_exact_erf_form():
    x = tm.tensor(np.array([-2.0, -0.5, 0.0, 1.0, 3.0]))
    from scipy.special import erf

    np.testing.assert_allclose(F.gelu(x).data, x.data * 0.5 * (1 + erf(x.data / np.sqrt(2))))


# ----------------------------------------------------------------------------- softmax
@st.composite
def logits_and_dim(draw, scale=2.0):
    x = draw(tst.tensors(tst.shapes(1, 3), min_value=-scale, max_value=scale), label="x")
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@given(logits_and_dim(), st.booleans())
def test_softmax_gradients(xd, log):
    # reference kernels here; the Numba kernels are held to them by the backends test below
    x, dim = xd
    fn = F.log_softmax if log else F.softmax
    with tm.backend("numpy"):
        assert_gradients_close(lambda t: fn(t, dim), x, names=("input",))


@pytest.mark.parametrize("log", [False, True])
def test_softmax_gradients_numba(log):
    x = tm.tensor(np.random.default_rng(0).standard_normal((2, 3, 2)), requires_grad=True)
    fn = F.log_softmax if log else F.softmax
    with tm.backend("numba"):
        for dim in (0, -1):
            assert_gradients_close(lambda t, dim=dim: fn(t, dim), x, names=("input",))


@pytest.mark.parametrize("backend", BACKENDS)
@given(logits_and_dim(), st.booleans())
def test_softmax_matches_torch(backend, xd, log):
    torch = pytest.importorskip("torch")
    x, dim = xd
    fn, tfn = (F.log_softmax, torch.log_softmax) if log else (F.softmax, torch.softmax)
    with tm.backend(backend):
        assert_matches_torch(lambda t: fn(t, dim), lambda t: tfn(t, dim), x.data)
        assert_matches_torch(lambda t: fn(t, dim), lambda t: tfn(t, dim),
                             x.data.astype(np.float32))


@given(logits_and_dim(), st.booleans())
def test_softmax_backends_agree(xd, log):
    x, dim = xd
    fn = F.log_softmax if log else F.softmax
    assert_backends_agree(lambda t: fn(t, dim), x.data)
    assert_backends_agree(lambda t: fn(t, dim), x.data.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_logits(backend, dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 1000.0]],
                 dtype=dtype)
    with tm.backend(backend), np.errstate(over="raise", invalid="raise", divide="raise"):
        p = F.softmax(tm.tensor(x), dim=1).data
        logp = F.log_softmax(tm.tensor(x), dim=1).data
    shifted = x.astype(np.float64) - x.max(axis=1, keepdims=True)
    want_logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert p.dtype == dtype and logp.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    # float32 logits of 1000 are themselves only exact to ~6e-5 (their ulp)
    atol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(logp, want_logp, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(p, np.exp(want_logp), rtol=1e-4, atol=atol)


@given(logits_and_dim(scale=1000.0))
def test_log_softmax_gradient_for_logits_of_1000(xd):
    x, dim = xd
    with tm.backend("numpy"):
        assert_gradients_close(lambda t: F.log_softmax(t, dim), x, names=("input",))
    for backend in BACKENDS:
        with tm.backend(backend):
            y = F.log_softmax(x, dim)
        assert np.all(np.isfinite(y.data)) and np.all(y.data <= 1e-12)
    assert_backends_agree(lambda t: F.log_softmax(t, dim), x.data, rtol=1e-10, atol=1e-9)


def test_softmax_of_a_scalar_and_rows_sum_to_one():
    assert F.softmax(tm.tensor(3.0), dim=0).item() == 1.0
    x = tm.randn(4, 5, 6)
    np.testing.assert_allclose(F.softmax(x, dim=1).data.sum(axis=1), 1.0, rtol=1e-6)


# ----------------------------------------------------------------------------- dropout
@given(tst.tensors(tst.shapes(1, 3, max_side=5), away_from=(0.0,)),
       st.sampled_from([0.1, 0.5, 0.8]), st.integers(0, 2**16))
def test_dropout_gradient_is_mask_over_keep_probability(x, p, seed):
    tm.manual_seed(seed)
    y = F.dropout(x, p)
    y.backward(np.ones(y.shape))
    kept = y.data != 0
    np.testing.assert_allclose(x.grad, kept / (1 - p))
    np.testing.assert_allclose(y.data, x.data * x.grad)  # same mask forward and backward
    # a fixed seed makes the mask reproducible, so finite differences see the same mask
    assert_gradients_close(lambda t: (tm.manual_seed(seed), F.dropout(t, p))[1], x)


def test_dropout_reproducible_and_keep_rate():
    x = tm.ones(200, 100)
    tm.manual_seed(7)
    a = F.dropout(x, 0.3).data
    tm.manual_seed(7)
    b = F.dropout(x, 0.3).data
    np.testing.assert_array_equal(a, b)
    assert abs((a == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(a[a != 0], 1 / 0.7, rtol=1e-6)
    assert a.dtype == np.float32


def test_dropout_identity_cases():
    x = tm.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.data, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 0)


def test_dropout_backends_agree():
    x = np.random.default_rng(0).standard_normal((5, 6))
    # dropout has no kernel: a softmax after it runs a Numba twin, so the masks are compared
    assert_backends_agree(lambda t: F.softmax(F.dropout(t, 0.4), -1), x, seed=3)


def test_dropout_eval_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert_matches_torch(lambda t: F.dropout(t, 0.5, training=False),
                         lambda t: torch.nn.functional.dropout(t, 0.5, training=False), x)


# ----------------------------------------------------------------------------- bad input
def test_activations_reject_bad_input():
    for name in ("relu", "gelu", "tanh", "sigmoid"):
        with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got ndarray"):
            getattr(F, name)(np.ones(3))
    with pytest.raises(TypeError, match="gelu: input must have a floating dtype, got int64"):
        F.gelu(tm.tensor([1, 2]))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none'.*'tanh'"):
        F.gelu(tm.randn(2), approximate="erf")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_rejects_bad_input(name):
    fn = getattr(F, name)
    with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got list"):
        fn([1.0, 2.0], 0)
    with pytest.raises(TypeError, match=f"{name}: input must have a floating dtype, got int64"):
        fn(tm.tensor([1, 2]), 0)
    with pytest.raises(TypeError, match=f"{name}: dim must be given"):
        fn(tm.randn(2, 3), None)
    with pytest.raises(ValueError, match=f"{name}: dim=2 is out of range for a 2-D tensor"):
        fn(tm.randn(2, 3), 2)
    with pytest.raises(TypeError, match=f"{name}: dim must be an int, got float"):
        fn(tm.randn(2, 3), 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_over_an_empty_dim_is_empty_as_torch(backend):
    with tm.backend(backend):
        assert F.softmax(tm.zeros(3, 0), dim=1).shape == (3, 0)
        assert F.log_softmax(tm.zeros(0, 4), dim=1).shape == (0, 4)


def test_dropout_rejects_bad_input():
    x = tm.randn(2)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(TypeError, match="dropout: p must be a float in \\[0, 1\\], got str"):
        F.dropout(x, "0.5")
    with pytest.raises(TypeError, match="dropout: input must be a Tensor, got list"):
        F.dropout([1.0], 0.5)
    with pytest.raises(TypeError, match="dropout: input must have a floating dtype"):
        F.dropout(tm.tensor([1, 2]), 0.5)
