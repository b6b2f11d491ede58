"""batch_norm, group_norm and their kernels: PyTorch parity, gradients, backends, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm import kernels
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]


@st.composite
def bn_case(draw, min_per_channel=2):
    """(N, C), (N, C, L) or (N, C, H, W) with well-spread values (distinct: each channel's
    variance is bounded away from 0, so rstd and the finite differences stay tame)."""
    n = draw(st.integers(2, 3))
    c = draw(st.integers(1, 3))
    spatial = draw(st.sampled_from([(), (draw(st.integers(1, 3)),),
                                    (draw(st.integers(1, 2)), draw(st.integers(1, 2)))]))
    x = draw(tst.arrays((n, c) + spatial, np.float64, distinct=True), label="input")
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.uniform(0.5, 1.5, c)
    b = rng.uniform(-1, 1, c)
    return x, w, b


def _stats(c, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("training", [True, False])
@given(case=bn_case(), affine=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_batch_norm_matches_torch(backend, training, case, affine, dtype):
    torch = pytest.importorskip("torch")
    x, w, b = case
    c = x.shape[1]
    rm0, rv0 = _stats(c, dtype)
    arrays = [x.astype(dtype)] + ([w.astype(dtype), b.astype(dtype)] if affine else [])
    mine, theirs = [rm0.copy(), rv0.copy()], [torch.tensor(rm0), torch.tensor(rv0)]

    def tm_fn(x, *wb):
        return F.batch_norm(x, *mine, *wb, training=training, momentum=0.3, eps=1e-3)

    def torch_fn(x, *wb):
        return torch.nn.functional.batch_norm(x, *theirs, *wb, training=training, momentum=0.3,
                                              eps=1e-3)

    with tm.backend(backend):
        assert_matches_torch(tm_fn, torch_fn, *arrays)
    # running statistics: updated (training, unbiased variance) or untouched (eval), as torch
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for ours, ref, start in zip(mine, theirs, (rm0, rv0)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=tol, atol=tol)
        assert ours.dtype == dtype
        if not training:
            np.testing.assert_array_equal(ours, start)


@pytest.mark.parametrize("training", [True, False])
@given(case=bn_case(), affine=st.booleans())
def test_batch_norm_gradients(training, case, affine):
    x, w, b = case
    rm, rv = _stats(x.shape[1])
    args = [tm.tensor(x, requires_grad=True)]
    if affine:
        args += [tm.tensor(w, requires_grad=True), tm.tensor(b, requires_grad=True)]
    with tm.backend("numpy"):  # the numba twin is held to the reference below
        assert_gradients_close(lambda t, *wb: F.batch_norm(t, rm.copy(), rv.copy(), *wb,
                                                           training=training), *args)


def test_batch_norm_gradients_numba():
    rng = np.random.default_rng(3)
    x = tm.tensor(rng.standard_normal((4, 3, 2, 3)), requires_grad=True)
    w = tm.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = tm.tensor(rng.standard_normal(3), requires_grad=True)
    with tm.backend("numba"):
        for training in (True, False):
            assert_gradients_close(lambda t, w, b, training=training: F.batch_norm(
                t, np.zeros(3), np.ones(3), w, b, training=training), x, w, b)


@pytest.mark.parametrize("training", [True, False])
@given(case=bn_case(), dtype=st.sampled_from([np.float32, np.float64]))
def test_batch_norm_backends_agree(training, case, dtype):
    x, w, b = case
    rm, rv = _stats(x.shape[1], dtype)
    assert_backends_agree(lambda t, w, b: F.batch_norm(t, rm.copy(), rv.copy(), w, b,
                                                       training=training),
                          x.astype(dtype), w.astype(dtype), b.astype(dtype))


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_threaded_kernels_match_reference(backend, monkeypatch):
    """The prange twins (used for big inputs) give the serial twins' results."""
    from tinymm.kernels.jit import norm as jit_norm

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    g = rng.standard_normal(x.shape)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    ref_y, ref_m, ref_v, ref_r = kernels.get("batch_norm_forward", "numpy")(x, w, b, None, None,
                                                                            1e-5)
    ref_g = kernels.get("batch_norm_backward", "numpy")(g, x, w, ref_m, ref_r, True, True, True)
    monkeypatch.setattr(jit_norm, "PARALLEL_MIN_SIZE", 1)
    y, m, v, r = jit_norm.batch_norm_forward(x, w, b, None, None, 1e-5)
    grads = jit_norm.batch_norm_backward(g, x, w, m, r, True, True, True)
    for a, e in zip((y, m, v, r) + grads, (ref_y, ref_m, ref_v, ref_r) + ref_g):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-13)


def test_batch_norm_without_running_stats():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    ours = F.batch_norm(tm.tensor(x), None, None, training=True)
    ref = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var must be "
                                         "given when training=False"):
        F.batch_norm(tm.tensor(x), None, None, training=False)


def test_batch_norm_bumps_running_stat_versions_when_tensors_keep_one():
    rm, rv = tm.zeros(2, dtype=np.float64), tm.ones(2, dtype=np.float64)
    before = [getattr(t, "_version", None) for t in (rm, rv)]
    F.batch_norm(tm.randn(4, 2, dtype=np.float64), rm, rv, training=True)
    assert not np.allclose(rm.data, 0)  # updated in place through the Tensor
    for t, v in zip((rm, rv), before):
        if isinstance(v, int):
            assert t._version == v + 1


def test_batch_norm_rejects_bad_input():
    fn = "batch_norm"
    x = tm.randn(4, 3, 2)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(TypeError, match=f"{fn}: input must be a Tensor, got ndarray"):
        F.batch_norm(x.data, rm, rv)
    with pytest.raises(TypeError, match=f"{fn}: input must have a floating dtype, got int64"):
        F.batch_norm(tm.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(ValueError, match=rf"{fn}: input must have shape \(N, C, \*\)"):
        F.batch_norm(tm.randn(3), None, None, training=True)
    with pytest.raises(ValueError, match=rf"{fn}: running_mean must have shape \(3,\).*got \(2,\)"):
        F.batch_norm(x, np.zeros(2), rv)
    with pytest.raises(ValueError, match=f"{fn}: running_mean and running_var must both"):
        F.batch_norm(x, rm, None)
    with pytest.raises(TypeError, match=f"{fn}: weight has dtype float64 but input has float32"):
        F.batch_norm(x, rm, rv, weight=tm.ones(3, dtype=np.float64))
    with pytest.raises(TypeError, match=f"{fn}: training must be a bool"):
        F.batch_norm(x, rm, rv, training=1)
    with pytest.raises(ValueError, match=f"{fn}: eps must be >= 0"):
        F.batch_norm(x, rm, rv, eps=-1.0)
    with pytest.raises(ValueError, match=f"{fn}: eps must be > 0 in training"):
        F.batch_norm(x, rm, rv, training=True, eps=0.0)
    with pytest.raises(TypeError, match=f"{fn}: momentum must be a float"):
        F.batch_norm(x, rm, rv, momentum=None)
    with pytest.raises(ValueError, match=f"{fn}: expected more than 1 value per channel"):
        F.batch_norm(tm.randn(1, 3), None, None, training=True)
    np.testing.assert_array_equal(rm, 0)  # nothing ran


# ----------------------------------------------------------------------------- group norm
@st.composite
def gn_case(draw):
    g = draw(st.integers(1, 3))
    c = g * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    spatial = draw(st.sampled_from([(), (draw(st.integers(1, 3)),), (2, 2)]))
    if c // g * int(np.prod(spatial)) < 2:
        spatial = (2,)
    x = draw(tst.arrays((n, c) + spatial, np.float64, distinct=True), label="input")
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return x, g, rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=gn_case(), affine=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_group_norm_matches_torch(backend, case, affine, dtype):
    torch = pytest.importorskip("torch")
    x, g, w, b = case
    arrays = [x.astype(dtype)] + ([w.astype(dtype), b.astype(dtype)] if affine else [])
    with tm.backend(backend):
        assert_matches_torch(lambda t, *wb: F.group_norm(t, g, *wb, eps=1e-3),
                             lambda t, *wb: torch.nn.functional.group_norm(t, g, *wb, eps=1e-3),
                             *arrays)


@given(case=gn_case())
def test_group_norm_gradients_and_backends(case):
    x, g, w, b = case
    args = [tm.tensor(x, requires_grad=True), tm.tensor(w, requires_grad=True),
            tm.tensor(b, requires_grad=True)]
    with tm.backend("numpy"):
        assert_gradients_close(lambda t, w, b: F.group_norm(t, g, w, b), *args)
    assert_backends_agree(lambda t, w, b: F.group_norm(t, g, w, b), x, w, b)


def test_group_norm_rejects_bad_input():
    fn = "group_norm"
    with pytest.raises(ValueError, match=f"{fn}: num_groups=4 must divide the 6 channels"):
        F.group_norm(tm.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=f"{fn}: num_groups must be >= 1"):
        F.group_norm(tm.randn(2, 6, 3), 0)
    with pytest.raises(ValueError, match=rf"{fn}: weight must have shape \(6,\)"):
        F.group_norm(tm.randn(2, 6, 3), 3, weight=tm.ones(3))
    with pytest.raises(TypeError, match=f"{fn}: input must be a Tensor"):
        F.group_norm(np.ones((2, 6)), 3)
    with pytest.raises(ValueError, match=f"{fn}: input must have shape"):
        F.group_norm(tm.randn(6), 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
def test_norms_accept_non_contiguous_views(backend, layout):
    torch = pytest.importorskip("torch")
    base = np.random.default_rng(4).standard_normal((3, 4, 5, 2))
    x = tst._with_layout(base, layout)
    assert not x.flags.c_contiguous
    rm, rv = _stats(4)
    with tm.backend(backend):
        assert_matches_torch(lambda t: F.batch_norm(t, rm.copy(), rv.copy(), training=True),
                             lambda t: torch.nn.functional.batch_norm(
                                 t, torch.tensor(rm), torch.tensor(rv), training=True), x)
        assert_matches_torch(lambda t: F.group_norm(t, 2),
                             lambda t: torch.nn.functional.group_norm(t, 2), x)
