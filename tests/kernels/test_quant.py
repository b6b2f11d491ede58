"""quant kernels: the Numba twin equals the NumPy reference exactly (integer arithmetic), and
the int8 product approximates the float one within the bound its rounding allows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinymm.kernels.reference import quant as ref

from tinymm import kernels

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")


def _activation_params(x: np.ndarray) -> tuple[float, int]:
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (hi - lo) / 255 if hi > lo else 1.0
    return scale, int(np.clip(round(-lo / scale), 0, 255))


@numba_only
@settings(deadline=None)
@given(n=st.integers(1, 9), k=st.integers(1, 70), c=st.integers(1, 11), seed=st.integers(0, 2**16),
       with_bias=st.booleans(), zero_rows=st.booleans())
def test_int8_linear_numba_equals_reference_exactly(n, k, c, seed, with_bias, zero_rows):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c, k)).astype(np.float32) * rng.uniform(0.01, 10)
    if zero_rows:
        w[0] = 0.0  # an all-zero channel gets scale 1, not a division by zero
    x = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) if with_bias else None
    jit = {name: kernels.get(name, "numba") for name in ref.__all__}
    (qr, sr), (qj, sj) = ref.quantize_weight_per_channel(w), jit["quantize_weight_per_channel"](w)
    np.testing.assert_array_equal(qj, qr)
    np.testing.assert_array_equal(sj, sr)
    assert qj.dtype == np.int8 and sj.dtype == np.float32 and np.abs(qj).max() <= 127
    scale, zero = _activation_params(x)
    xr, xj = ref.quantize_activation(x, scale, zero), jit["quantize_activation"](x, scale, zero)
    np.testing.assert_array_equal(xj, xr)
    (yr, ar), (yj, aj) = ref.int8_linear(xr, scale, zero, qr, sr, bias), \
        jit["int8_linear"](xj, scale, zero, qj, sj, bias)
    np.testing.assert_array_equal(aj, ar)  # int32 accumulators: exact
    assert aj.dtype == np.int32 and yj.dtype == np.float32
    np.testing.assert_array_equal(yj, yr)  # the same float32 multiply (and add) per element


@settings(deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 200), c=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_int8_linear_error_is_within_its_rounding_bound(n, k, c, seed):
    """|y_int8 − y_float| ≤ Σ_k (|x| δw + |w| δx + δx δw) with δw = s_w/2, δx = s_x/2 per element,
    plus float32 rounding of the rescale: the error a round-to-nearest quantiser can make."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c, k)).astype(np.float32)
    x = rng.standard_normal((n, k)).astype(np.float32)
    q, s = ref.quantize_weight_per_channel(w)
    scale, zero = _activation_params(x)
    y, _ = ref.int8_linear(ref.quantize_activation(x, scale, zero), scale, zero, q, s, None)
    exact = x.astype(np.float64) @ w.astype(np.float64).T
    dw, dx = s.astype(np.float64)[None, :, None] / 2, scale / 2
    bound = (np.abs(x)[:, None, :] * dw + np.abs(w)[None] * dx + dx * dw).sum(axis=2)
    bound += 1e-5 * (np.abs(exact) + 1)
    assert np.all(np.abs(y - exact) <= bound)


@numba_only
@settings(deadline=None)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7)),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 2), sw=st.integers(1, 2),
       ph=st.integers(0, 2), pw=st.integers(0, 2), pad=st.integers(0, 255), seed=st.integers(0, 99))
def test_int8_im2col_numba_equals_reference(shape, kh, kw, sh, sw, ph, pw, pad, seed):
    N, C, H, W = shape
    if H + 2 * ph < kh or W + 2 * pw < kw:
        return  # no output position (the callers reject this before the kernel)
    x = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    args = ((kh, kw), (sh, sw), (ph, pw), pad)
    a, b = kernels.get("int8_im2col", "numba")(x, *args), ref.int8_im2col(x, *args)
    assert a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_int8_im2col_rows_are_receptive_fields():
    x = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4)
    rows = ref.int8_im2col(x, (2, 2), (2, 2), (0, 0), 0)
    np.testing.assert_array_equal(rows, [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]])
    padded = ref.int8_im2col(x, (3, 3), (1, 1), (1, 1), 200)
    assert padded.shape == (16, 9) and padded[0, 0] == 200 and padded[0, 4] == 0


def _random_int8_case(rng, n, k, c):
    x_q = rng.integers(0, 256, (n, k)).astype(np.uint8)
    w_q = rng.integers(-127, 128, (c, k)).astype(np.int8)
    return x_q, w_q, rng.uniform(0.5, 2, c).astype(np.float32), rng.standard_normal(c).astype(np.float32)


@numba_only
@pytest.mark.parametrize("n,k,c", [(1, 1, 1), (1, 67, 3), (3, 33, 5), (5, 130, 2), (4, 17, 1), (9, 255, 7)])
def test_int8_linear_blocks_and_remainders_equal_reference(n, k, c):
    """Odd channel counts (a channel paired with itself), rows beyond the 4-row block, K of any
    length: the register-blocked kernel still equals the reference bit for bit, at the extreme
    values (x_q = 255, W_q = ±127) too."""
    rng = np.random.default_rng(n * 1000 + k * 10 + c)
    x_q, w_q, w_scale, bias = _random_int8_case(rng, n, k, c)
    x_q[0] = 255
    w_q[0] = -127
    for zero in (0, 97, 255):
        yr, ar = ref.int8_linear(x_q, 0.02, zero, w_q, w_scale, bias)
        yj, aj = kernels.get("int8_linear", "numba")(x_q, 0.02, zero, w_q, w_scale, bias)
        np.testing.assert_array_equal(aj, ar)
        np.testing.assert_array_equal(yj, yr)
        assert aj[0, 0] == (255 - zero) * -127 * k  # the extreme corner, exact in int32


@numba_only
def test_int8_linear_parallel_path_and_given_weight_sums_equal_reference():
    """Work above PARALLEL_MIN_WORK runs on the thread pool (channel pairs split in shares);
    the result does not depend on it, nor on passing the precomputed weight sums."""
    import numba
    from tinymm.kernels.jit import quant as jit_quant

    rng = np.random.default_rng(7)
    n, k, c = 67, 1031, 61  # N·C·K > 2**22, C odd, K not a multiple of any vector width
    assert n * k * c >= jit_quant.PARALLEL_MIN_WORK
    x_q, w_q, w_scale, bias = _random_int8_case(rng, n, k, c)
    w_sum = jit_quant.int8_weight_sums(w_q)
    np.testing.assert_array_equal(w_sum, ref.int8_weight_sums(w_q))
    yr, ar = ref.int8_linear(x_q, 0.01, 131, w_q, w_scale, None)
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            for ws in (None, w_sum):
                yj, aj = jit_quant.int8_linear(x_q, 0.01, 131, w_q, w_scale, None, ws)
                np.testing.assert_array_equal(aj, ar)
                np.testing.assert_array_equal(yj, yr)
    finally:
        numba.set_num_threads(before)
