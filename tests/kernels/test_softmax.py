"""Numba softmax / log-softmax / cross-entropy kernels equal their NumPy reference twins.

Tolerances: both twins are compared with a wider-precision reference computed from the same
inputs, each element within its rounding-error bound (``tests/kernel_bounds.py``, derived
with ``tinymm.testing.tolerance``): the bounds hold whatever order a CPU's vector units sum
a row in, where the earlier fixed rtol 1e-4 / atol 1e-6 failed on an AMD EPYC.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_bounds import (
    check_twins,
    cross_entropy_backward_bound,
    cross_entropy_forward_bound,
    log_softmax_backward_bound,
    log_softmax_forward_bound,
    softmax_backward_bound,
    softmax_forward_bound,
)
from tinymm.kernels.reference import softmax as ref

from tinymm import kernels
from tinymm.testing import strategies as tst

DTYPES = [np.float32, np.float64]
# (forward, backward, forward's bound, backward's bound)
FAMILY = (("softmax_forward", "softmax_backward", softmax_forward_bound, softmax_backward_bound),
          ("log_softmax_forward", "log_softmax_backward", log_softmax_forward_bound,
           log_softmax_backward_bound))


def _pair(name):
    return kernels.get(name, "numba"), kernels.get(name, "numpy")


def _both(name, *args):
    """{"numba": result, "numpy": result} of kernel ``name`` on ``args``."""
    return {b: kernels.get(name, b)(*args) for b in ("numba", "numpy")}


def _check_forward(x, names=("softmax_forward", "log_softmax_forward")):
    bounds = {"softmax_forward": softmax_forward_bound, "log_softmax_forward": log_softmax_forward_bound}
    for name in names:
        check_twins(name, _both(name, x), *bounds[name](x))


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
    for fwd, bwd, fwd_bound, bwd_bound in FAMILY:
        ys = _both(fwd, x)
        assert ys["numba"].dtype == dtype and ys["numba"].shape == x.shape
        check_twins(fwd, ys, *fwd_bound(x))
        y_ref = ys["numpy"]
        dxs = _both(bwd, y_ref, g)
        assert dxs["numba"].dtype == dtype
        check_twins(bwd, dxs, *bwd_bound(y_ref, g))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_kernels_agree_for_logits_of_1000(dtype, data):
    x = data.draw(rows(dtype, scale=1000.0), label="x")
    for name in ("softmax_forward", "log_softmax_forward"):
        assert np.all(np.isfinite(kernels.get(name, "numba")(x)))
    # the bounds' u·(|x| + |m| + |L|) term is the rounding logits of 1000 carry themselves
    _check_forward(x)


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
    _check_cross_entropy(x, t, smoothing, ignore_index, g)


def _check_cross_entropy(x, t, smoothing, ignore_index, g):
    """Both twins of cross-entropy forward and backward within their bounds; ignored rows 0."""
    dtype, n = x.dtype, x.shape[0]
    outs = _both("cross_entropy_forward", x, t, smoothing, ignore_index)
    loss64, loss_bound, logp64, logp_bound = cross_entropy_forward_bound(x, t, smoothing,
                                                                         ignore_index)
    for loss, logp in outs.values():
        assert loss.dtype == dtype and logp.dtype == dtype and loss.shape == (n,)
        np.testing.assert_array_equal(loss[t == ignore_index], 0)
    check_twins("cross_entropy_forward loss", {b: o[0] for b, o in outs.items()}, loss64,
                loss_bound)
    check_twins("cross_entropy_forward logp", {b: o[1] for b, o in outs.items()}, logp64,
                logp_bound)
    logp_ref = outs["numpy"][1]
    dxs = _both("cross_entropy_backward", logp_ref, t, smoothing, ignore_index, g)
    for dx in dxs.values():
        assert dx.dtype == dtype
        np.testing.assert_array_equal(dx[t == ignore_index], 0)
    check_twins("cross_entropy_backward", dxs,
                *cross_entropy_backward_bound(logp_ref, t, smoothing, ignore_index, g))


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
    for name in ("_softmax_rows", "_log_softmax_rows", "_softmax_backward_rows", "_cross_entropy_rows",
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


# ------------------------------------------------------------------ the jit kernels' own parts
def _jit():
    from tinymm.kernels.jit import softmax as jit

    return jit


EXP_RANGE = {np.float32: (-87.0, 2e-7), np.float64: (-708.0, 1e-15)}  # flush-to-0 bound, rtol


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_inside_the_row_loops_over_the_whole_range(dtype):
    """exp as inlined into the vectorised (reassoc) row loops: two backward kernels are exp."""
    lo, rtol = EXP_RANGE[dtype]
    y = np.concatenate([np.linspace(lo * 1.3, 0.0, 200_001), -np.logspace(-30, 2.5, 5001),
                        [lo, lo - 1e-3, lo + 1e-3, -0.0, -np.inf, np.nan]]).astype(dtype)
    c = y.size + 1
    # cross-entropy backward with target 0, no smoothing, grad 1: column j > 0 is exp(logp_j)
    logp = np.concatenate([[0.0], y]).astype(dtype)[None, :]
    e_ce = kernels.get("cross_entropy_backward", "numba")(
        logp, np.array([0]), 0.0, -100, np.ones(1, dtype))[0, 1:]
    # log-softmax backward with grad (1, 0, ..., 0): column j > 0 is -exp(y_j)
    g = np.zeros((1, c), dtype)
    g[0, 0] = 1
    e_ls = -kernels.get("log_softmax_backward", "numba")(logp, g)[0, 1:]
    exact = np.exp(y.astype(np.float64))  # float64 exp is the float32 reference
    for e in (e_ce, e_ls):
        assert e.dtype == dtype
        kept = y >= lo
        np.testing.assert_allclose(e[kept], exact[kept], rtol=rtol, atol=0)
        flushed = (y < lo) | np.isneginf(y)
        np.testing.assert_array_equal(e[flushed], 0)  # incl. -inf: exactly 0
        assert np.isnan(e[np.isnan(y)]).all()
        assert np.all(e[kept & (y <= 0)] <= 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_direct_call_matches_numpy(dtype):
    jit = _jit()
    lo, rtol = EXP_RANGE[dtype]
    for v in np.linspace(lo, 0, 97).astype(dtype):
        np.testing.assert_allclose(jit._exp_poly(v, dtype), np.exp(np.float64(v)), rtol=rtol)
    assert jit._exp_poly(dtype(-np.inf), dtype) == 0
    assert jit._exp_poly(dtype(lo * 2), dtype) == 0
    assert np.isnan(jit._exp_poly(dtype(np.nan), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_row_max_from_bit_patterns(dtype, data):
    """_key_max(max, min of the patterns as signed ints) is the float max, sign bits and all."""
    jit = _jit()
    itype = np.int32 if dtype == np.float32 else np.int64
    n = data.draw(st.integers(1, 12), label="n")
    finite = st.floats(allow_nan=False, width=32 if dtype == np.float32 else 64)
    row = np.array(data.draw(st.lists(finite | st.sampled_from([0.0, -0.0, -np.inf, np.inf]),
                                      min_size=n, max_size=n), label="row"), dtype=dtype)
    keys = row.view(itype)
    m = dtype(jit._key_max(keys.max(), keys.min(), dtype))
    assert m == row.max()
    if m == 0:  # +0 beats -0, -0 only when no +0
        assert np.signbit(m) == (not np.any((row == 0) & ~np.signbit(row)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row", [[-0.0, -np.inf], [-3.0, -1.0, -2.0], [0.0, -0.0], [-0.0, 0.0],
                                 [-1e-45, -0.0, -5.0], [5.0, -7.0], [-np.inf], [np.inf, -1.0]])
def test_row_max_from_bit_patterns_examples(dtype, row):
    jit = _jit()
    row = np.array(row, dtype=dtype)
    keys = row.view(np.int32 if dtype == np.float32 else np.int64)
    m = dtype(jit._key_max(keys.max(), keys.min(), dtype))
    assert m == row.max()
    # +0 > -0 (np.max may return either of them)
    assert np.signbit(m) == (m == 0 and not np.any((row == 0) & ~np.signbit(row)) or m < 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spread", [100.0, 800.0])
def test_softmax_shifts_by_the_exact_row_max(dtype, spread):
    """Rows spanning more than exp's range: a wrong max would overflow or underflow exp."""
    rng = np.random.default_rng(3)
    x = (rng.random((9, 40)) * -spread).astype(dtype)
    x[0, 5], x[1, 7], x[2] = 0.0, -0.0, -x[2]  # max 0, max -0, all non-negative
    x[3] = x[3] - 1e4  # all far below zero
    x[4, :20] = np.abs(x[4, :20]) + 50  # mixed signs
    for name in ("softmax_forward", "log_softmax_forward"):
        assert np.all(np.isfinite(kernels.get(name, "numba")(x))), name
    _check_forward(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_holding_minus_inf(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 300)).astype(dtype)
    x[rng.random(x.shape) < 0.3] = -np.inf
    x[1] = -np.inf
    x[1, 17] = 2.0  # a single finite entry: probability exactly 1
    x[2, :] = -np.inf  # nothing finite: NaN, as the reference (and PyTorch)
    with np.errstate(invalid="ignore"):
        _check_forward(x)  # -inf and NaN entries of the reference must be reproduced exactly
        for name in ("softmax_forward", "log_softmax_forward"):
            assert np.isnan(kernels.get(name, "numba")(x)[2]).all()
        p = kernels.get("softmax_forward", "numba")(x)
        logp = kernels.get("log_softmax_forward", "numba")(x)
    live = np.arange(6) != 2
    inf = np.isneginf(x) & live[:, None]
    np.testing.assert_array_equal(p[inf], 0)
    assert np.all(np.isneginf(logp[inf]))
    assert p[1, 17] == 1 and logp[1, 17] == 0
    # backward through the -inf entries stays finite, cross-entropy too
    g = rng.standard_normal(x.shape).astype(dtype)
    for name, y, bound in (("softmax_backward", p, softmax_backward_bound),
                           ("log_softmax_backward", logp, log_softmax_backward_bound)):
        dxs = _both(name, y[live], g[live])
        assert np.all(np.isfinite(dxs["numba"])), name
        check_twins(name, dxs, *bound(y[live], g[live]))
    t = np.argmax(x[live], axis=1)  # a finite class in each row
    with np.errstate(invalid="ignore"):
        loss, _ = kernels.get("cross_entropy_forward", "numba")(x[live], t, 0.0, -100)
        loss_ref, logp_ref = ref.cross_entropy_forward(x[live], t, 0.0, -100)
        # without label smoothing the loss is finite (as PyTorch's): -log p_t, no 0·(-inf) term
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(loss_ref))
        np.testing.assert_array_equal(loss_ref, -logp_ref[np.arange(len(t)), t])
        _check_cross_entropy(x[live], t, 0.0, -100, np.ones(len(t), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_nan_or_plus_inf_makes_its_row_nan(dtype):
    x = np.random.default_rng(5).standard_normal((5, 64)).astype(dtype)
    x[1, 9] = np.nan
    x[2, 0] = -np.nan  # sign bit set: the row max may skip it, the row is NaN anyway
    x[3, 63] = np.inf  # inf - inf
    with np.errstate(invalid="ignore"):
        for name in ("softmax_forward", "log_softmax_forward"):
            fast, slow = _pair(name)
            y = fast(x)
            assert np.isnan(y[1:4]).all(), name
            assert np.isnan(slow(x)[1:4]).all(), name
    _check_forward(x[[0, 4]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 11])
def test_large_class_counts(dtype, n):
    """10000 classes, as the benchmark's cross-entropy; 1-3 rows hit the pipeline's ends."""
    rng = np.random.default_rng(n)
    c = 10000
    for scale in (3.0, 1000.0):
        x = (rng.standard_normal((n, c)) * scale).astype(dtype)
        g = rng.standard_normal((n, c)).astype(dtype)
        for fwd, bwd, fwd_bound, bwd_bound in FAMILY:
            ys = _both(fwd, x)
            check_twins(fwd, ys, *fwd_bound(x))
            y_ref = ys["numpy"]
            check_twins(bwd, _both(bwd, y_ref, g), *bwd_bound(y_ref, g))
        t = rng.integers(0, c, n)
        t[0] = -100 if n > 1 else t[0]
        gr = rng.standard_normal(n).astype(dtype)
        for eps in (0.0, 0.1):
            _check_cross_entropy(x, t, eps, -100, gr)


def test_out_of_range_targets_raise_instead_of_reading_out_of_bounds():
    x = np.zeros((3, 4), np.float32)
    f, b = kernels.get("cross_entropy_forward", "numba"), kernels.get("cross_entropy_backward",
                                                                       "numba")
    for bad in (4, -1, 1000):
        t = np.array([0, bad, -100])
        with pytest.raises(IndexError, match=rf"cross_entropy_forward: target\[1\] = {bad} "):
            f(x, t, 0.0, -100)
        with pytest.raises(IndexError, match=r"cross_entropy_backward: target\[1\]"):
            b(x, t, 0.0, -100, np.ones(3, np.float32))
    loss, _ = f(x, np.array([0, 3, -100]), 0.0, -100)  # ignore_index itself is fine
    np.testing.assert_allclose(loss, [np.log(4), np.log(4), 0], rtol=1e-6)


def test_non_contiguous_and_empty_inputs():
    x = np.random.default_rng(6).standard_normal((7, 5))
    _check_forward(x.T)
    for name in ("softmax_forward", "log_softmax_forward"):
        fast, _ = _pair(name)
        for shape in ((0, 5), (3, 0)):
            assert fast(np.zeros(shape, np.float32)).shape == shape
    loss, logp = kernels.get("cross_entropy_forward", "numba")(
        np.zeros((0, 5), np.float32), np.zeros(0, np.int64), 0.1, -100)
    assert loss.shape == (0,) and logp.shape == (0, 5)
