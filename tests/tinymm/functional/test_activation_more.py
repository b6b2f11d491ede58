"""LeakyReLU, ELU, SiLU, Softplus, Mish, Hardtanh and tanh-GELU: functional and module forms
against PyTorch on both backends, float64 gradient checks, Numba vs NumPy, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm import nn
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]

# name -> (tinymm call, torch call name and kwargs, kinks kept away from by the strategies)
CASES = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), ("leaky_relu", {"negative_slope": 0.2}), (0.0,)),
    "leaky_relu_default": (F.leaky_relu, ("leaky_relu", {}), (0.0,)),
    "elu": (lambda x: F.elu(x, 1.7), ("elu", {"alpha": 1.7}), (0.0,)),
    "silu": (F.silu, ("silu", {}), ()),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), ("softplus", {"beta": 2.0, "threshold": 3.0}),
                 (1.5,)),
    "softplus_default": (F.softplus, ("softplus", {}), ()),
    "mish": (F.mish, ("mish", {}), ()),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.2), ("hardtanh", {"min_val": -0.5, "max_val": 1.2}),
                 (-0.5, 1.2)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), ("gelu", {"approximate": "tanh"}), ()),
}


def _tensors(name, dtype=np.float64, lo=-4.0, hi=4.0):
    return tst.tensors(tst.shapes(0, 3), dtype, min_value=lo, max_value=hi,
                       away_from=CASES[name][2], margin=0.01)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_gradients(name, data):
    x = data.draw(_tensors(name), label="input")
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_gradients_close(CASES[name][0], x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_matches_torch(backend, name, data, dtype):
    torch = pytest.importorskip("torch")
    x = data.draw(_tensors(name, dtype, -30.0, 30.0), label="input")
    fn, (tname, kw), _ = CASES[name]
    with tm.backend(backend):
        assert_matches_torch(fn, lambda t: getattr(torch.nn.functional, tname)(t, **kw), x.data)


NO_NUMBA_TWIN = {"softplus", "softplus_default"}  # a logarithm per element: reference only


@pytest.mark.parametrize("name", sorted(set(CASES) - NO_NUMBA_TWIN))
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_backends_agree(name, data, dtype):
    x = data.draw(_tensors(name, dtype, -30.0, 30.0), label="input")
    assert_backends_agree(CASES[name][0], x.data)


@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_inputs_match_torch(backend):
    """±inf, NaN, huge and tiny values: same outputs (NaN where torch gives NaN)."""
    torch = pytest.importorskip("torch")
    x = np.array([-np.inf, -1e30, -100.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 100.0, 1e30, np.inf,
                  np.nan])
    with tm.backend(backend), np.errstate(all="ignore"):
        for name, (fn, (tname, kw), _) in CASES.items():
            ours = fn(tm.tensor(x)).data
            ref = getattr(torch.nn.functional, tname)(torch.tensor(x), **kw).numpy()
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12, equal_nan=True,
                                       err_msg=name)


def test_float16_is_refused_naming_the_function():
    x = tm.tensor(np.array([-1.0, 0.5, 2.0], np.float16))
    for name in ("silu", "elu", "leaky_relu", "softplus", "mish", "hardtanh"):
        with pytest.raises(TypeError, match=f"{name}: input has dtype float16"):
            getattr(F, name)(x)


MODULES = [
    (lambda: nn.LeakyReLU(0.3), "LeakyReLU", {"negative_slope": 0.3}, "LeakyReLU(negative_slope=0.3)"),
    (lambda: nn.ELU(0.5), "ELU", {"alpha": 0.5}, "ELU(alpha=0.5)"),
    (nn.SiLU, "SiLU", {}, "SiLU()"),
    (lambda: nn.Softplus(beta=0.5, threshold=10), "Softplus", {"beta": 0.5, "threshold": 10},
     "Softplus(beta=0.5, threshold=10.0)"),
    (nn.Mish, "Mish", {}, "Mish()"),
    (lambda: nn.Hardtanh(-2, 3), "Hardtanh", {"min_val": -2, "max_val": 3},
     "Hardtanh(min_val=-2.0, max_val=3.0)"),
    (lambda: nn.GELU("tanh"), "GELU", {"approximate": "tanh"}, "GELU(approximate='tanh')"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make, tname, kw, text", MODULES)
def test_modules_match_torch(backend, make, tname, kw, text):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(-5, 5, (3, 4)).astype(np.float32)
    module = make()
    assert repr(module) == text
    with tm.backend(backend):
        assert_matches_torch(module, getattr(torch.nn, tname)(**kw), x)


def test_defaults_equal_torch():
    torch = pytest.importorskip("torch")
    assert nn.LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope == 0.01
    assert nn.ELU().alpha == torch.nn.ELU().alpha == 1.0
    s, ts = nn.Softplus(), torch.nn.Softplus()
    assert (s.beta, s.threshold) == (ts.beta, ts.threshold) == (1.0, 20.0)
    h, th = nn.Hardtanh(), torch.nn.Hardtanh()
    assert (h.min_val, h.max_val) == (th.min_val, th.max_val) == (-1.0, 1.0)
    assert nn.GELU().approximate == "none"


def test_reject_bad_input():
    for name in ("leaky_relu", "elu", "silu", "softplus", "mish", "hardtanh"):
        fn = getattr(F, name)
        with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got ndarray"):
            fn(np.ones(3))
        with pytest.raises(TypeError, match=f"{name}: input must have a floating dtype, got int64"):
            fn(tm.tensor([1, 2]))
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a float, got str"):
        F.leaky_relu(tm.randn(2), "0.1")
    with pytest.raises(ValueError, match="elu: alpha must be finite, got nan"):
        F.elu(tm.randn(2), float("nan"))
    with pytest.raises(ValueError, match="softplus: beta must be non-zero"):
        F.softplus(tm.randn(2), beta=0)
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(2.0\) must be <= max_val \(1.0\)"):
        F.hardtanh(tm.randn(2), 2.0, 1.0)
    with pytest.raises(TypeError, match="silu: inplace must be a bool"):
        F.silu(tm.randn(2), inplace="yes")
    with pytest.raises(ValueError, match=r"Hardtanh: min_val \(1\) must be <= max_val \(0\)"):
        nn.Hardtanh(1, 0)
    with pytest.raises(TypeError, match="ELU: alpha must be a float"):
        nn.ELU(None)
    with pytest.raises(ValueError, match="Softplus: beta must be non-zero"):
        nn.Softplus(beta=0.0)


def test_inplace_is_accepted_and_returns_what_torch_returns():
    x = tm.tensor([-1.0, 2.0])
    y = F.leaky_relu(x, 0.5, inplace=True)
    np.testing.assert_array_equal(y.data, [-0.5, 2.0])
    np.testing.assert_array_equal(nn.ELU(inplace=True)(x).data, F.elu(x).data)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_elu_numba_twin_is_relatively_accurate_near_zero(dtype, rtol):
    """α(e^x − 1) without cancellation: tiny negative inputs keep their relative accuracy."""
    x = -np.logspace(-12, 1, 500).astype(dtype)
    with tm.backend("numpy"):
        ref = F.elu(tm.tensor(x), 1.3).data
    with tm.backend("numba"):
        ours = F.elu(tm.tensor(x), 1.3).data
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=0)
