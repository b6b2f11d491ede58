"""pool kernels: Numba twin == NumPy reference; reference gradients == finite differences;
PyTorch's tie rule (first maximum in row-major window order) on both twins."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinymm.kernels.reference import pool as ref

from tinymm import kernels
from tinymm.testing import strategies as tst
from tinymm.testing import tolerance as tol

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")
BACKENDS = ["numpy", pytest.param("numba", marks=numba_only)]

# numba vs reference: max-pool picks elements (exact). Averages and the scatter-adds of the
# backward passes are sums of at most k terms (k = window size, or the windows overlapping
# one input) and a division by k (or a product with 1/k): both twins must lie within
# γ_{k+2}·(the same sum of absolute values) of the reference in wider precision
# (tinymm.testing.tolerance), whatever order they add in.


def _distinct(rng, shape, dtype):
    """Tie-free values: a shuffled grid, well apart in float32 too."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / max(n, 1) - 0.5).astype(dtype)


def _pool(args):
    """kernel_size, stride, padding of a PoolArgs as the kernels take them."""
    return args.kernel_size, args.stride, args.padding


def _agree(name, results, op, *inputs, n_terms):
    """Every backend's result (``{"numba": ..., "numpy": ...}``) within the bound of the
    linear kernel ``op`` (its reference twin) on ``inputs``, sums of at most ``n_terms``."""
    want, bound = tol.multilinear_reference(op, *inputs, n_terms=int(n_terms) + 2)
    for backend, got in results.items():
        assert got.dtype == inputs[0].dtype
        assert got.shape == want.shape
        tol.assert_close_to_reference(got, want, bound, name=f"{name} ({backend})")


@numba_only
@settings(deadline=None)
@given(args=tst.pool_args(dims=2, max_batch=2, max_channels=3, max_size=8, max_kernel=4,
                          max_stride=3, max_padding=2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_max_pool2d_numba_matches_reference(args, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _distinct(rng, args.input_shape, dtype)
    outs = {b: kernels.get("max_pool2d_forward", b)(x, *_pool(args)) for b in ("numpy", "numba")}
    (o_ref, i_ref), (o_jit, i_jit) = outs["numpy"], outs["numba"]
    assert o_ref.shape == args.output_shape
    np.testing.assert_array_equal(o_jit, o_ref)
    np.testing.assert_array_equal(i_jit, i_ref)
    assert o_jit.dtype == dtype and i_jit.dtype == np.int64
    g = rng.standard_normal(o_ref.shape).astype(dtype)
    gx = {b: kernels.get("max_pool2d_backward", b)(g, i_ref, x.shape) for b in ("numpy", "numba")}
    _agree("max_pool2d_backward", gx, ref.max_pool2d_backward, g, i_ref, x.shape,
           n_terms=np.prod(args.kernel_size))


@numba_only
@settings(deadline=None)
@given(args=tst.pool_args(dims=1, max_batch=2, max_channels=3, max_size=10, max_kernel=4,
                          max_stride=3, max_padding=2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_max_pool1d_numba_matches_reference(args, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _distinct(rng, args.input_shape, dtype)
    (o_ref, i_ref), (o_jit, i_jit) = (kernels.get("max_pool1d_forward", b)(x, *_pool(args))
                                      for b in ("numpy", "numba"))
    assert o_ref.shape == args.output_shape
    np.testing.assert_array_equal(o_jit, o_ref)
    np.testing.assert_array_equal(i_jit, i_ref)
    g = rng.standard_normal(o_ref.shape).astype(dtype)
    gx = {b: kernels.get("max_pool1d_backward", b)(g, i_ref, x.shape) for b in ("numpy", "numba")}
    _agree("max_pool1d_backward", gx, ref.max_pool1d_backward, g, i_ref, x.shape,
           n_terms=np.prod(args.kernel_size))


@numba_only
@settings(deadline=None)
@given(args=tst.pool_args(dims=2, max_batch=2, max_channels=3, max_size=8, max_kernel=4,
                          max_stride=3, max_padding=2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_avg_pool2d_numba_matches_reference(args, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(args.input_shape).astype(dtype)
    y = {b: kernels.get("avg_pool2d_forward", b)(x, *_pool(args)) for b in ("numpy", "numba")}
    assert y["numpy"].shape == args.output_shape
    k = np.prod(args.kernel_size)
    _agree("avg_pool2d_forward", y, ref.avg_pool2d_forward, x, *_pool(args), n_terms=k)
    g = rng.standard_normal(args.output_shape).astype(dtype)
    gx = {b: kernels.get("avg_pool2d_backward", b)(g, x.shape, *_pool(args))
          for b in ("numpy", "numba")}
    _agree("avg_pool2d_backward", gx, ref.avg_pool2d_backward, g, x.shape, *_pool(args), n_terms=k)


@numba_only
@settings(deadline=None)
@given(shape=tst.shapes(min_dims=4, max_dims=4, max_side=7),
       out_h=st.integers(1, 9), out_w=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_numba_matches_reference(shape, out_h, out_w, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    y = {b: kernels.get("adaptive_avg_pool2d_forward", b)(x, (out_h, out_w))
         for b in ("numpy", "numba")}
    assert y["numpy"].shape == shape[:2] + (out_h, out_w)
    k = shape[2] * shape[3]  # a bin is at most the whole plane, and so are the bins overlapping
    _agree("adaptive_avg_pool2d_forward", y, ref.adaptive_avg_pool2d_forward, x, (out_h, out_w),
           n_terms=k)
    g = rng.standard_normal(y["numpy"].shape).astype(dtype)
    gx = {b: kernels.get("adaptive_avg_pool2d_backward", b)(g, x.shape)
          for b in ("numpy", "numba")}
    _agree("adaptive_avg_pool2d_backward", gx, ref.adaptive_avg_pool2d_backward, g, x.shape,
           n_terms=k)


def _finite_difference(f, arr, eps=1e-6):
    grad = np.empty_like(arr)
    for idx in np.ndindex(*arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        plus = f()
        arr[idx] = old - eps
        minus = f()
        arr[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("kind", ["max", "avg"])  # each pool gets its examples
@settings(deadline=None)
@given(args=tst.pool_args(dims=2, max_batch=2, max_channels=2, max_size=6, max_kernel=3,
                          max_stride=2, max_padding=1),
       seed=st.integers(0, 2**16))
def test_pool2d_reference_backward_matches_finite_differences(args, kind, seed):
    rng = np.random.default_rng(seed)
    x = _distinct(rng, args.input_shape, np.float64)  # gaps >> eps: no argmax flips
    g = rng.standard_normal(args.output_shape)
    if kind == "max":
        def forward():
            return ref.max_pool2d_forward(x, *_pool(args))[0]
        gx = ref.max_pool2d_backward(g, ref.max_pool2d_forward(x, *_pool(args))[1], x.shape)
    else:
        def forward():
            return ref.avg_pool2d_forward(x, *_pool(args))
        gx = ref.avg_pool2d_backward(g, x.shape, *_pool(args))
    numeric = _finite_difference(lambda: float(np.sum(g * forward())), x)
    np.testing.assert_allclose(gx, numeric, rtol=1e-6, atol=1e-7)


@settings(deadline=None)
@given(shape=tst.shapes(min_dims=4, max_dims=4, max_side=5),
       out_h=st.integers(1, 6), out_w=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_reference_backward_matches_finite_differences(shape, out_h, out_w,
                                                                          seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape[:2] + (out_h, out_w))
    numeric = _finite_difference(
        lambda: float(np.sum(g * ref.adaptive_avg_pool2d_forward(x, (out_h, out_w)))), x)
    np.testing.assert_allclose(ref.adaptive_avg_pool2d_backward(g, x.shape), numeric,
                               rtol=1e-6, atol=1e-7)


def test_adaptive_bins_follow_pytorch():
    # H=5 -> 3 bins: [0, 2), [1, 4), [3, 5)  (floor(i·5/3), ceil((i+1)·5/3))
    assert ref.adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert ref.adaptive_bins(4, 2) == [(0, 2), (2, 4)]
    assert ref.adaptive_bins(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]  # upsampling repeats


# ------------------------------------------------------------------ PyTorch's tie rule
TIES = np.array([[[[1.0, 3.0, 3.0, 1.0, 0.0],
                   [3.0, 0.0, 2.0, 2.0, 0.0],
                   [np.nan, 1.0, np.nan, 5.0, 5.0],
                   [-np.inf, -np.inf, -np.inf, -np.inf, -np.inf]]]])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    # kernel, stride, padding, expected flat indices into the 4x5 plane (row-major order)
    ((2, 2), (2, 2), (0, 0), [[1, 2], [10, 12]]),     # 2x2 fast path: first 3, first 2, NaN
    ((2, 2), (1, 1), (1, 1), [[0, 1, 1, 2, 3, 4],     # padded: first real max, never padding
                              [5, 1, 1, 2, 8, 4],
                              [10, 10, 12, 12, 13, 14],
                              [10, 10, 12, 12, 13, 14],
                              [15, 15, 16, 17, 18, 19]]),  # only −inf: first real element
    ((3, 3), (1, 2), (1, 1), [[1, 1, 8], [10, 12, 13], [10, 12, 13], [10, 12, 13]]),
    ((3, 3), (1, 1), (0, 0), [[12, 12, 12], [12, 12, 12]]),  # two NaNs: the last one wins
])
def test_max_pool2d_tie_rule(backend, dtype, case):
    """Ties: first maximum in row-major window order. NaN wins; the last NaN if several.
    A window of only −inf reports its first real element (never a padding position)."""
    kernel, stride, padding, expected = case
    out, idx = kernels.get("max_pool2d_forward", backend)(TIES.astype(dtype), kernel, stride,
                                                          padding)
    np.testing.assert_array_equal(idx[0, 0], np.array(expected))
    flat = TIES.astype(dtype).reshape(-1)
    np.testing.assert_array_equal(out[0, 0], flat[idx[0, 0]])  # value at the chosen index


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool2d_all_minus_inf_window_picks_first_real_element(backend):
    x = np.full((1, 1, 3, 3), -np.inf)
    out, idx = kernels.get("max_pool2d_forward", backend)(x, (3, 3), (2, 2), (1, 1))
    assert np.all(out == -np.inf)
    np.testing.assert_array_equal(idx[0, 0], [[0, 1], [3, 4]])  # window starts, clipped to x


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool2d_backward_accumulates_overlapping_windows(backend):
    """With stride < kernel one element can be the max of several windows: grads add up."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the max of all four 2x2 windows
    out, idx = kernels.get("max_pool2d_forward", backend)(x, (2, 2), (1, 1), (0, 0))
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    gx = kernels.get("max_pool2d_backward", backend)(g, idx, x.shape)
    assert gx[0, 0, 1, 1] == 10.0
    assert gx.sum() == 10.0


def test_max_pool_tie_rule_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as tF
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((2, 2), (1, 1), (1, 1)),
                                    ((3, 3), (1, 2), (1, 1)), ((3, 2), (2, 1), (1, 1)),
                                    ((3, 3), (1, 1), (0, 0))]:
        _, want = tF.max_pool2d(torch.from_numpy(TIES), kernel, stride, padding,
                                return_indices=True)
        for backend in ("numpy", "numba") if kernels.numba_available() else ("numpy",):
            _, idx = kernels.get("max_pool2d_forward", backend)(TIES, kernel, stride, padding)
            np.testing.assert_array_equal(idx, want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_pool_kernels_keep_float32(backend):
    x = np.arange(2 * 3 * 6 * 5, dtype=np.float32).reshape(2, 3, 6, 5)
    out, idx = kernels.get("max_pool2d_forward", backend)(x, (2, 2), (2, 2), (0, 0))
    assert out.dtype == np.float32
    assert kernels.get("max_pool2d_backward", backend)(out, idx, x.shape).dtype == np.float32
    avg = kernels.get("avg_pool2d_forward", backend)(x, (3, 3), (1, 1), (1, 1))
    assert avg.dtype == np.float32
    assert kernels.get("avg_pool2d_backward", backend)(avg, x.shape, (3, 3), (1, 1),
                                                       (1, 1)).dtype == np.float32
    ada = kernels.get("adaptive_avg_pool2d_forward", backend)(x, (4, 3))
    assert ada.dtype == np.float32
    assert kernels.get("adaptive_avg_pool2d_backward", backend)(ada, x.shape).dtype == np.float32


# ------------------------------------------------------------------ fast paths, exhaustively
def _max_pool1d_cases():
    """Every (L, kernel, stride, padding) with L <= 11, k <= 5, s <= 4, p <= k // 2 that
    gives an output: interior-only rows, clipped ends, windows wider than the stride."""
    for L in range(1, 12):
        for k in range(1, 6):
            for s in range(1, 5):
                for p in range(k // 2 + 1):
                    if k <= L + 2 * p:
                        yield L, k, s, p


@numba_only
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool1d_numba_matches_reference_on_every_small_window(dtype):
    """The 1-D kernel's branches (constant strides 1 and 2, other strides, clipped ends)."""
    rng = np.random.default_rng(7)
    count = 0
    for L, k, s, p in _max_pool1d_cases():
        x = _distinct(rng, (2, 3, L), dtype)
        args = (k,), (s,), (p,)
        o_jit, i_jit = kernels.get("max_pool1d_forward", "numba")(x, *args)
        o_ref, i_ref = kernels.get("max_pool1d_forward", "numpy")(x, *args)
        assert o_jit.shape == (2, 3, (L + 2 * p - k) // s + 1)
        np.testing.assert_array_equal(o_jit, o_ref, err_msg=f"L={L} k={k} s={s} p={p}")
        np.testing.assert_array_equal(i_jit, i_ref, err_msg=f"L={L} k={k} s={s} p={p}")
        assert o_jit.dtype == dtype and i_jit.dtype == np.int64
        g = rng.standard_normal(o_ref.shape).astype(dtype)
        _agree("max_pool1d_backward", {"numba": kernels.get("max_pool1d_backward", "numba")(
            g, i_jit, x.shape), "numpy": kernels.get("max_pool1d_backward", "numpy")(
            g, i_ref, x.shape)}, ref.max_pool1d_backward, g, i_ref, x.shape, n_terms=k)
        count += 1
    assert count == 432  # the generator really ran every case


ROW = np.array([1.0, 3.0, 3.0, 1.0, np.nan, 2.0, np.nan, 0.0, -np.inf, -np.inf, -np.inf, 5.0,
                5.0, 4.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (2, 1, 1), (3, 1, 1), (3, 2, 1), (4, 3, 2),
                                   (3, 3, 0), (5, 1, 2)])
def test_max_pool1d_tie_rule_matches_torch(backend, dtype, k, s, p):
    """Ties, NaNs and all −inf windows, through every 1-D branch: PyTorch's indices."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as tF
    if backend == "numba" and not kernels.numba_available():
        pytest.skip("numba is not available")
    x = np.stack([ROW, ROW[::-1]])[None].astype(dtype)  # (1, 2, 14)
    out, idx = kernels.get("max_pool1d_forward", backend)(x, (k,), (s,), (p,))
    want_out, want_idx = tF.max_pool1d(torch.from_numpy(x), k, s, p, return_indices=True)
    np.testing.assert_array_equal(idx, want_idx.numpy())
    np.testing.assert_array_equal(out, want_out.numpy())  # NaN == NaN here


@numba_only
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool2d_2x2_fast_path_matches_reference(dtype):
    """2x2 / stride 2 / no padding, odd and even sizes: an odd last row or column is in no
    window, and backward must write 0 there (gx starts as np.empty)."""
    rng = np.random.default_rng(3)
    for H in range(2, 8):
        for W in range(2, 8):
            x = rng.standard_normal((2, 3, H, W)).astype(dtype)
            args = (2, 2), (2, 2), (0, 0)
            y = {b: kernels.get("avg_pool2d_forward", b)(x, *args) for b in ("numpy", "numba")}
            assert y["numba"].shape == (2, 3, H // 2, W // 2)
            _agree("avg_pool2d_forward", y, ref.avg_pool2d_forward, x, *args, n_terms=4)
            g = rng.standard_normal(y["numpy"].shape).astype(dtype)
            for _ in range(2):  # twice: the second gx may reuse the first's (non-zero) memory
                gx = {b: kernels.get("avg_pool2d_backward", b)(g, x.shape, *args)
                      for b in ("numpy", "numba")}
                np.testing.assert_array_equal(gx["numba"], gx["numpy"])
            assert np.all(gx["numba"][:, :, 2 * (H // 2):, :] == 0)
            assert np.all(gx["numba"][:, :, :, 2 * (W // 2):] == 0)


@numba_only
def test_max_pool_scatter_refuses_an_argmax_outside_the_plane():
    from tinymm.kernels.jit import pool as jit

    g = np.ones((1, 1, 2, 2), np.float32)
    bad = np.array([[[[0, 1], [2, 16]]]], np.int64)  # the plane has 4x4 = 16 entries
    with pytest.raises(IndexError, match="argmax outside"):
        jit.max_pool2d_backward(g, bad, (1, 1, 4, 4))
    with pytest.raises(IndexError, match="argmax outside"):
        jit.max_pool2d_backward(g, -bad, (1, 1, 4, 4))
