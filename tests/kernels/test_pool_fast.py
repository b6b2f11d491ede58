"""The 2×2 / stride-2 max-pool fast paths (value pass + index recovery, values-only forward)
against the reference on data full of ties, NaNs, infinities and signed zeros; the same
results on one thread as on two; and the values-only dispatch of ``F.max_pool2d``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm import kernels

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")
ARGS = ((2, 2), (2, 2), (0, 0))
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan])


def _tricky(rng, shape, dtype):
    """Values drawn from a few specials: most windows hold ties, many a NaN or ±inf."""
    return rng.choice(SPECIAL, size=shape).astype(dtype)


@numba_only
@settings(deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_max_pool2d_2x2_stride2_matches_reference_on_ties_and_nans(n, c, h, w, dtype, seed):
    x = _tricky(np.random.default_rng(seed), (n, c, h, w), dtype)
    o_ref, i_ref = kernels.get("max_pool2d_forward", "numpy")(x, *ARGS)
    o_jit, i_jit = kernels.get("max_pool2d_forward", "numba")(x, *ARGS)
    np.testing.assert_array_equal(i_jit, i_ref)  # exact: indices pick elements
    np.testing.assert_array_equal(o_jit, o_ref)  # NaN == NaN for assert_array_equal
    picked = np.take_along_axis(x.reshape(n, c, -1), i_jit.reshape(n, c, -1), -1)
    assert np.array_equal(np.signbit(o_jit).reshape(n, c, -1), np.signbit(picked))  # -0 / +0
    for backend in ("numpy", "numba"):
        values = kernels.get("max_pool2d_values", backend)(x, *ARGS)
        assert values.dtype == dtype
        np.testing.assert_array_equal(values, o_ref)
    values = kernels.get("max_pool2d_values", "numba")(x, *ARGS)
    assert np.array_equal(np.signbit(values), np.signbit(o_jit))  # the same element's bits


@numba_only
@pytest.mark.parametrize("args", [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1)),
                                  ((2, 2), (1, 1), (0, 0))])
def test_max_pool2d_values_matches_forward_values(args):
    x = _tricky(np.random.default_rng(3), (2, 3, 7, 6), np.float64)
    want = kernels.get("max_pool2d_forward", "numpy")(x, *args)[0]
    for backend in ("numpy", "numba"):
        np.testing.assert_array_equal(kernels.get("max_pool2d_values", backend)(x, *args), want)


@numba_only
def test_pool_kernels_give_the_same_bits_on_one_and_two_threads():
    """The planes are split over Numba's thread count; each chunk owns its planes."""
    numba = pytest.importorskip("numba")
    from tinymm.kernels.jit import threads

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64, 32, 32)).astype(np.float32)  # 256K elements: split below
    g = rng.standard_normal((4, 64, 16, 16)).astype(np.float32)

    def run():
        out, idx = kernels.get("max_pool2d_forward", "numba")(x, *ARGS)
        return (out, idx, kernels.get("max_pool2d_values", "numba")(x, *ARGS),
                kernels.get("max_pool2d_backward", "numba")(g, idx, x.shape),
                kernels.get("avg_pool2d_forward", "numba")(x, *ARGS),
                kernels.get("avg_pool2d_backward", "numba")(g, x.shape, *ARGS))

    before, min_chunk = numba.get_num_threads(), threads.MIN_CHUNK
    threads.MIN_CHUNK = 1 << 16
    try:
        numba.set_num_threads(1)
        one = run()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run()
    finally:
        numba.set_num_threads(before)
        threads.MIN_CHUNK = min_chunk
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_max_pool2d_without_grad_runs_the_values_only_kernel():
    x = tm.tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32))
    with kernels.trace() as ran:
        y = F.max_pool2d(x, 2)  # the input does not require grad
    assert [name for name, *_ in ran] == ["max_pool2d_values"]
    assert not y.requires_grad
    xg = tm.tensor(x.numpy(), requires_grad=True)
    with tm.no_grad(), kernels.trace() as ran:
        y2 = F.max_pool2d(xg, 2)
    assert [name for name, *_ in ran] == ["max_pool2d_values"]
    assert not y2.requires_grad
    with kernels.trace() as ran:
        y3 = F.max_pool2d(xg, 2)  # a gradient is needed: values and argmax
    assert [name for name, *_ in ran] == ["max_pool2d_forward"]
    np.testing.assert_array_equal(y.numpy(), y3.detach().numpy())
    np.testing.assert_array_equal(y2.numpy(), y3.detach().numpy())
    y3.sum().backward()
    assert np.asarray(xg.grad).sum() == pytest.approx(2 * 3 * 3 * 3)  # one 1 per window


@numba_only
@pytest.mark.parametrize("shape, args", [
    ((2, 3, 7, 9), ((2, 2), (2, 2), (0, 0))),   # MaxPool2d(2), odd sizes: a row and column left
    ((2, 3, 8, 8), ((3, 3), (2, 2), (1, 1))),   # overlapping windows
    ((1, 2, 8, 8), ((2, 2), (2, 2), (1, 1))),   # padded
    ((1, 2, 9, 8), ((1, 1), (2, 2), (0, 0))),   # 1x1 windows, stride 2
])
def test_max_pool2d_backward_matches_reference_on_ties_and_nans(shape, args):
    """The scatter backward on indices from data full of ties and NaNs, windows that tile
    the input, overlap, or are padded."""
    rng = np.random.default_rng(7)
    x = _tricky(rng, shape, np.float64)
    _, idx = kernels.get("max_pool2d_forward", "numpy")(x, *args)
    g = rng.standard_normal(idx.shape)
    want = kernels.get("max_pool2d_backward", "numpy")(g, idx, x.shape)
    got = kernels.get("max_pool2d_backward", "numba")(g, idx, x.shape)
    # a gx element is 0, one g, or (overlapping windows) a sum of at most 4 of them, which the
    # twins may add in different orders: γ_4 · Σ|g| <= 4·(4ε)·max|g|
    np.testing.assert_allclose(got, want, rtol=0, atol=16 * np.finfo(np.float64).eps * np.abs(g).max())
    assert got.shape == x.shape

