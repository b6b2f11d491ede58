"""The vpmaddubsw int8 kernel (kernels/jit/quant_avx2.py): exact against the NumPy twin for
7-bit activations, chosen only when it is exact, and never compiled on a CPU without AVX2."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinymm.kernels.reference import quant as ref

from tinymm import kernels

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")


def _host_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _avx2():
    from tinymm.kernels.jit import quant_avx2

    if not quant_avx2.AVAILABLE:
        pytest.skip("this CPU (or Numba's target) has no AVX2; the int32-lane kernel runs instead")
    return quant_avx2


@numba_only
def test_available_follows_the_cpu():
    """AVAILABLE is the host's AVX2 flag (Linux reports it in /proc/cpuinfo), unless Numba is
    told to compile for another CPU."""
    import numba
    from tinymm.kernels.jit import quant_avx2

    flags = _host_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo to compare with")
    portable = bool(numba.config.CPU_NAME or numba.config.CPU_FEATURES)
    assert quant_avx2.AVAILABLE == ("avx2" in flags and not portable)


@numba_only
@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 13), k=st.integers(32, 140), c=st.integers(1, 9),
       zero=st.integers(0, 127), seed=st.integers(0, 2**16), with_bias=st.booleans())
def test_vpmaddubsw_path_equals_reference_exactly(n, k, c, zero, seed, with_bias):
    """Rows beyond a multiple of 4 (the 1 × 2 blocks; batch 1 is all of them), K beyond a
    multiple of 32, an odd last channel: the int32 accumulators and the rescaled outputs equal
    the NumPy twin bit for bit."""
    quant_avx2 = _avx2()
    from tinymm.kernels.jit import quant as jit_quant

    rng = np.random.default_rng(seed)
    x_q = rng.integers(0, 128, (n, k)).astype(np.uint8)
    w_q = rng.integers(-127, 128, (c, k)).astype(np.int8)
    scale = rng.uniform(0.5, 2, c).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) if with_bias else None
    assert jit_quant.avx2_applies(x_q) and quant_avx2.STEP == 32
    yr, ar = ref.int8_linear(x_q, 0.03, zero, w_q, scale, bias)
    yj, aj = jit_quant._int8_linear(x_q, 0.03, zero, w_q, scale, bias, None, path="avx2")
    np.testing.assert_array_equal(aj, ar)
    np.testing.assert_array_equal(yj, yr)


@numba_only
@pytest.mark.parametrize("w_extreme", [127, -127, -128])
def test_vpmaddubsw_cannot_saturate_at_the_extremes(w_extreme):
    """x_q = 127 everywhere and W_q at ±127 (and -128, which the quantiser never writes): each
    int16 pair sum is ±32 258 or -32 512, inside int16, so the result stays exact."""
    _avx2()
    from tinymm.kernels.jit import quant as jit_quant

    k = 96
    x_q = np.full((4, k), 127, np.uint8)
    w_q = np.full((3, k), w_extreme, np.int8)
    ones = np.ones(3, np.float32)
    _, acc = jit_quant._int8_linear(x_q, 1.0, 0, w_q, ones, None, None, path="avx2")
    assert (acc == 127 * w_extreme * k).all()


@numba_only
def test_8_bit_activations_take_the_exact_int32_lane_kernel():
    """One value of 128 or more and the vpmaddubsw pair sums could saturate: int8_linear must
    not use it (and the answer is still exact)."""
    from tinymm.kernels.jit import quant as jit_quant

    rng = np.random.default_rng(3)
    x_q = rng.integers(0, 128, (8, 64)).astype(np.uint8)
    w_q = np.full((2, 64), -127, np.int8)
    assert jit_quant.avx2_applies(x_q) == _avx2_available()
    x_q[5, 7:9] = 255                       # 255·(-127)·2 would saturate int16
    assert not jit_quant.avx2_applies(x_q)
    assert not jit_quant.avx2_applies(np.zeros((3, 31), np.uint8))  # K < 32: no full step
    ones = np.ones(2, np.float32)
    _, acc = kernels.get("int8_linear", "numba")(x_q, 1.0, 0, w_q, ones, None)
    np.testing.assert_array_equal(acc, ref.int8_linear(x_q, 1.0, 0, w_q, ones, None)[1])


def _avx2_available() -> bool:
    from tinymm.kernels.jit import quant_avx2

    return quant_avx2.AVAILABLE


@numba_only
def test_vpmaddubsw_row_blocks_equal_reference():
    """Several ~128 KiB row blocks (the last one partial) and a leftover row."""
    quant_avx2 = _avx2()
    from tinymm.kernels.jit import quant as jit_quant

    n, k, c = 261, 1500, 5
    assert n // ((quant_avx2.ROW_BLOCK_BYTES // k) // 4 * 4) >= 3
    rng = np.random.default_rng(5)
    x_q = rng.integers(0, 128, (n, k)).astype(np.uint8)
    w_q = rng.integers(-127, 128, (c, k)).astype(np.int8)
    scale = np.full(c, 0.25, np.float32)
    yr, ar = ref.int8_linear(x_q, 0.01, 17, w_q, scale, None)
    yj, aj = jit_quant._int8_linear(x_q, 0.01, 17, w_q, scale, None, None, path="avx2")
    np.testing.assert_array_equal(aj, ar)
    np.testing.assert_array_equal(yj, yr)


@numba_only
def test_vpmaddubsw_parallel_path_equals_reference():
    import numba

    _avx2()
    from tinymm.kernels.jit import quant as jit_quant

    rng = np.random.default_rng(11)
    n, k, c = 67, 1031, 61
    assert n * k * c >= jit_quant.PARALLEL_MIN_WORK
    x_q = rng.integers(0, 128, (n, k)).astype(np.uint8)
    w_q = rng.integers(-127, 128, (c, k)).astype(np.int8)
    scale = np.full(c, 0.5, np.float32)
    yr, ar = ref.int8_linear(x_q, 0.01, 64, w_q, scale, None)
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, 2, before} & set(range(1, numba.config.NUMBA_NUM_THREADS + 1))):
            numba.set_num_threads(threads)
            yj, aj = jit_quant.int8_linear(x_q, 0.01, 64, w_q, scale, None)
            np.testing.assert_array_equal(aj, ar)
            np.testing.assert_array_equal(yj, yr)
    finally:
        numba.set_num_threads(before)


@numba_only
@settings(deadline=None, max_examples=40)
@given(qmax=st.sampled_from([127, 255]), seed=st.integers(0, 2**16))
def test_quantize_activation_clips_to_qmax_in_both_twins(qmax, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((5, 37)) * 3).astype(np.float32)
    scale, zero = 6.0 / qmax, qmax // 2
    a = ref.quantize_activation(x, scale, zero, qmax)
    b = kernels.get("quantize_activation", "numba")(x, scale, zero, qmax)
    np.testing.assert_array_equal(a, b)
    assert a.max() <= qmax and a.dtype == np.uint8
