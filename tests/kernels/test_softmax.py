"""Numba softmax / log-softmax / cross-entropy kernels equal their NumPy reference twins.

Tolerances: float64 rtol 1e-10 (atol 1e-12); float32 rtol 1e-4 (atol 1e-6) — the jit
kernels use fastmath exp, the reference NumPy's.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tinymm.kernels.reference import softmax as ref

from tinymm import kernels
from tinymm.testing import strategies as tst

DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-6}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}


def _pair(name):
    return kernels.get(name, "numba"), kernels.get(name, "numpy")


@st.composite
def rows(draw, dtype, scale=5.0):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    return draw(tst.arrays((n, c), dtype, min_value=-scale, max_value=scale))


def test_every_softmax_kernel_has_a_numba_twin():
    assert set(ref.__all__) <= set(kernels.jit_names())
    for name in ref.__all__:
        fast, slow = _pair(name)
        assert fast is not slow


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_softmax_and_log_softmax_forward_backward(dtype, data):
    x = data.draw(rows(dtype), label="x")
    g = data.draw(tst.arrays(x.shape, dtype), label="grad")
    for fwd, bwd in (("softmax_forward", "softmax_backward"),
                     ("log_softmax_forward", "log_softmax_backward")):
        (f_fast, f_ref), (b_fast, b_ref) = _pair(fwd), _pair(bwd)
        y_fast, y_ref = f_fast(x), f_ref(x)
        assert y_fast.dtype == dtype and y_fast.shape == x.shape
        np.testing.assert_allclose(y_fast, y_ref, **TOL[dtype])
        dx_fast = b_fast(y_ref, g)
        assert dx_fast.dtype == dtype
        np.testing.assert_allclose(dx_fast, b_ref(y_ref, g), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_kernels_agree_for_logits_of_1000(dtype, data):
    x = data.draw(rows(dtype, scale=1000.0), label="x")
    for name in ("softmax_forward", "log_softmax_forward"):
        fast, slow = _pair(name)
        y = fast(x)
        assert np.all(np.isfinite(y))
        # float32 logits of 1000 carry ~6e-5 of rounding themselves
        atol = 2e-4 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(y, slow(x), rtol=TOL[dtype]["rtol"], atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), smoothing=st.sampled_from([0.0, 0.1, 0.5]),
       ignore_index=st.sampled_from([-100, 0, 2]))
def test_cross_entropy_forward_backward(dtype, data, smoothing, ignore_index):
    x = data.draw(rows(dtype), label="logits")
    n, c = x.shape
    t = data.draw(tst.arrays((n,), np.int64, min_value=0, max_value=c - 1), label="target")
    if ignore_index == -100 and n > 1:
        t[0] = -100
    g = data.draw(tst.arrays((n,), dtype), label="grad_rows")
    (f_fast, f_ref), (b_fast, b_ref) = _pair("cross_entropy_forward"), \
        _pair("cross_entropy_backward")
    loss_fast, logp_fast = f_fast(x, t, smoothing, ignore_index)
    loss_ref, logp_ref = f_ref(x, t, smoothing, ignore_index)
    assert loss_fast.dtype == dtype and logp_fast.dtype == dtype and loss_fast.shape == (n,)
    np.testing.assert_allclose(loss_fast, loss_ref, **TOL[dtype])
    np.testing.assert_allclose(logp_fast, logp_ref, **TOL[dtype])
    np.testing.assert_array_equal(loss_fast[t == ignore_index], 0)
    dx_fast = b_fast(logp_ref, t, smoothing, ignore_index, g)
    assert dx_fast.dtype == dtype
    np.testing.assert_allclose(dx_fast, b_ref(logp_ref, t, smoothing, ignore_index, g),
                               **TOL[dtype])
    np.testing.assert_array_equal(dx_fast[t == ignore_index], 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_softmax_backward_is_the_jacobian(dtype):
    x = np.random.default_rng(0).standard_normal((3, 4))
    g = np.random.default_rng(1).standard_normal((3, 4))
    y = ref.softmax_forward(x)
    jac = np.einsum("ni,ij->nij", y, np.eye(4)) - np.einsum("ni,nj->nij", y, y)
    np.testing.assert_allclose(ref.softmax_backward(y, g), np.einsum("nij,nj->ni", jac, g))
    logp = ref.log_softmax_forward(x)
    jac_log = np.eye(4)[None] - y[:, None, :]
    np.testing.assert_allclose(ref.log_softmax_backward(logp, g),
                               np.einsum("nji,nj->ni", jac_log, g))


def test_warmup_compiles_both_dtypes():
    from tinymm.kernels.jit import softmax as jit

    jit.warmup()
    for name in ("_softmax_rows", "_softmax_backward_rows", "_cross_entropy_rows",
                 "_cross_entropy_backward_rows"):
        sigs = getattr(jit, name).signatures
        dtypes = {str(s[0].dtype) for s in sigs}
        assert {"float32", "float64"} <= dtypes, (name, dtypes)


def test_backend_selection_picks_the_kernel_table():
    import tinymm as tm

    before = tm.get_backend()
    with tm.backend("numpy"):
        assert tm.get_backend() == "numpy"
        assert kernels.get("softmax_forward") is ref.softmax_forward
        with tm.backend("numba"):
            assert kernels.get("softmax_forward") is kernels.get("softmax_forward", "numba")
        assert tm.get_backend() == "numpy"
    assert tm.get_backend() == before
    with pytest.raises(ValueError, match=r"backend: backend must be one of \('numba', "
                                         r"'numpy'\); got 'cuda'"):
        with tm.backend("cuda"):
            pass
    with pytest.raises(TypeError, match="set_backend: backend must be a str.*got int"):
        tm.set_backend(1)
    with pytest.raises(ValueError, match="set_backend: backend must be one of"):
        tm.set_backend("torch")
    with pytest.raises(KeyError, match="kernels.get: no kernel named 'softmax'"):
        kernels.get("softmax")
