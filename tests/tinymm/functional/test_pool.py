"""F.max_pool1d / max_pool2d / avg_pool2d / adaptive_avg_pool2d: PyTorch parity (values,
indices, gradients) on both backends, gradient checks in float64, clear errors.

Max-pool inputs are tie-free (distinct values) so the argmax, and so the gradient, is
unambiguous. Tolerances: assert_matches_torch's defaults (float64 rtol 1e-7 / atol 1e-9,
float32 1e-4 / 1e-5); gradcheck eps 1e-6, rtol 1e-3 / atol 1e-5.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinymm as tm
import tinymm.testing as tmt
from tinymm import kernels
from tinymm.functional.pool import adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool2d
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not kernels.numba_available(), reason="numba is not available"))]
DTYPES = st.sampled_from([np.float32, np.float64])


def _tF():
    return pytest.importorskip("torch").nn.functional


def _distinct(shape, dtype, seed):
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) / n - 0.5).astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(args=tst.pool_args(dims=2, max_size=8, max_kernel=4, max_stride=3, max_padding=2),
       default_stride=st.booleans(), dtype=DTYPES, seed=st.integers(0, 2**16))
def test_max_pool2d_matches_torch(backend, args, default_stride, dtype, seed):
    tF = _tF()
    stride = None if default_stride else args.stride
    kw = dict(kernel_size=args.kernel_size, stride=stride, padding=args.padding)
    x = _distinct(args.input_shape, dtype, seed)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda t: max_pool2d(t, **kw, return_indices=True),
                                 lambda t: tF.max_pool2d(t, **kw, return_indices=True), x)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(args=tst.pool_args(dims=1, max_size=10, max_kernel=4, max_stride=3, max_padding=2),
       dtype=DTYPES, seed=st.integers(0, 2**16))
def test_max_pool1d_matches_torch(backend, args, dtype, seed):
    tF = _tF()
    kw = dict(kernel_size=args.kernel_size[0], stride=args.stride[0], padding=args.padding[0])
    x = _distinct(args.input_shape, dtype, seed)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda t: max_pool1d(t, **kw, return_indices=True),
                                 lambda t: tF.max_pool1d(t, **kw, return_indices=True), x)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(args=tst.pool_args(dims=2, max_size=8, max_kernel=4, max_stride=3, max_padding=2),
       dtype=DTYPES, seed=st.integers(0, 2**16))
def test_avg_pool2d_matches_torch(backend, args, dtype, seed):
    tF = _tF()
    kw = dict(kernel_size=args.kernel_size, stride=args.stride, padding=args.padding)
    x = np.random.default_rng(seed).standard_normal(args.input_shape).astype(dtype)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda t: avg_pool2d(t, **kw), lambda t: tF.avg_pool2d(t, **kw), x)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(shape=tst.shapes(min_dims=4, max_dims=4, max_side=7),
       out_h=st.one_of(st.none(), st.integers(1, 9)), out_w=st.integers(1, 9),
       dtype=DTYPES, seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_matches_torch(backend, shape, out_h, out_w, dtype, seed):
    tF = _tF()
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda t: adaptive_avg_pool2d(t, (out_h, out_w)),
                                 lambda t: tF.adaptive_avg_pool2d(t, (out_h, out_w)), x)
        tmt.assert_matches_torch(lambda t: adaptive_avg_pool2d(t, out_w),
                                 lambda t: tF.adaptive_avg_pool2d(t, out_w), x)


# (tinymm op, torch op name, positional arguments after the input)
CASES = [(max_pool2d, "max_pool2d", (3, 2, 1)), (max_pool2d, "max_pool2d", (2,)),
         (avg_pool2d, "avg_pool2d", (3, 2, 1)), (avg_pool2d, "avg_pool2d", (2, 1, 1)),
         (adaptive_avg_pool2d, "adaptive_avg_pool2d", ((2, 4),))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,torch_name,args", CASES)
def test_unbatched_and_non_contiguous_inputs_match_torch(backend, op, torch_name, args):
    tF = _tF()
    unbatched = _distinct((3, 7, 6), np.float64, 0)
    view = np.transpose(_distinct((6, 5, 3, 2), np.float64, 1), (3, 2, 1, 0))  # (2, 3, 5, 6)
    assert not view.flags.c_contiguous
    with tm.backend(backend):
        for x in (unbatched, view):
            tmt.assert_matches_torch(lambda t: op(t, *args),
                                     lambda t: getattr(tF, torch_name)(t, *args), x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool1d_unbatched_matches_torch(backend):
    x = _distinct((3, 7), np.float64, 2)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda t: max_pool1d(t, 2), lambda t: _tF().max_pool1d(t, 2), x)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=8)
@given(args=tst.pool_args(dims=2, max_size=6, max_kernel=3, max_stride=2, max_padding=1),
       seed=st.integers(0, 2**16))
def test_pool2d_gradcheck(backend, args, seed):
    x = tm.tensor(_distinct(args.input_shape, np.float64, seed), requires_grad=True)
    k, s, p = args.kernel_size, args.stride, args.padding
    with tm.backend(backend):
        assert tm.gradcheck(lambda t: max_pool2d(t, k, s, p), (x,))
        assert tm.gradcheck(lambda t: avg_pool2d(t, k, s, p), (x,))
        assert tm.gradcheck(lambda t: adaptive_avg_pool2d(t, (2, 3)), (x,))
        assert tm.gradcheck(lambda t: max_pool1d(t.reshape(t.shape[0], -1, t.shape[-1]), k[1],
                                                 s[1], p[1]), (x,))


def test_max_pool2d_indices_are_not_differentiable():
    x = tm.randn(1, 2, 4, 4, requires_grad=True)
    out, idx = max_pool2d(x, 2, return_indices=True)
    assert out.requires_grad and not idx.requires_grad
    assert idx.dtype == np.int64
    out.sum().backward()
    assert x.grad.sum() == 2 * 2 * 2  # one 1 per window


# ------------------------------------------------------------------ bad arguments
X = tm.randn(2, 3, 8, 8)


@pytest.mark.parametrize("call,error,pattern", [
    (lambda: max_pool2d(X, 3, padding=2), ValueError,
     r"max_pool2d: padding \(2, 2\) must be at most half of kernel_size \(3, 3\)"),
    (lambda: max_pool2d(X, 0), ValueError, r"max_pool2d: kernel_size must be >= 1"),
    (lambda: max_pool2d(X, 2, stride=0), ValueError, r"max_pool2d: stride must be >= 1"),
    (lambda: max_pool2d(X, 2.0), TypeError, r"max_pool2d: kernel_size must be an int"),
    (lambda: max_pool2d(X, 9), ValueError,
     r"max_pool2d: kernel_size \(9, 9\) is larger than the padded input \(8, 8\)"),
    (lambda: max_pool2d(X, 2, dilation=2), ValueError, r"max_pool2d: dilation=2 is not supported"),
    (lambda: max_pool2d(X, 2, ceil_mode=True), ValueError, r"max_pool2d: ceil_mode=True"),
    (lambda: max_pool2d(tm.randn(8, 8), 2), ValueError, r"max_pool2d: input must be 3-D or 4-D"),
    (lambda: max_pool2d(X.data, 2), TypeError, r"max_pool2d: input must be a Tensor"),
    (lambda: max_pool2d(tm.tensor(np.ones((1, 1, 4, 4), np.int64)), 2), TypeError,
     r"max_pool2d: input must have a floating dtype"),
    (lambda: max_pool1d(X, 2), ValueError, r"max_pool1d: input must be 2-D or 3-D"),
    (lambda: max_pool1d(tm.randn(2, 3, 8), (2, 2)), TypeError, r"max_pool1d: kernel_size"),
    (lambda: avg_pool2d(X, 2, padding=(0, 2)), ValueError,
     r"avg_pool2d: padding \(0, 2\) must be at most half"),
    (lambda: avg_pool2d(X, 2, count_include_pad=False), ValueError,
     r"avg_pool2d: count_include_pad=False is not supported"),
    (lambda: avg_pool2d(X, 2, divisor_override=3), ValueError, r"avg_pool2d: divisor_override"),
    (lambda: avg_pool2d(X, (2, 9)), ValueError, r"avg_pool2d: kernel_size \(2, 9\) is larger"),
    (lambda: adaptive_avg_pool2d(X, 0), ValueError,
     r"adaptive_avg_pool2d: output_size must be >= 1"),
    (lambda: adaptive_avg_pool2d(X, (1, 2, 3)), TypeError, r"adaptive_avg_pool2d: output_size"),
    (lambda: adaptive_avg_pool2d(X, 2.5), TypeError, r"adaptive_avg_pool2d: output_size"),
    (lambda: adaptive_avg_pool2d(tm.randn(8), 2), ValueError,
     r"adaptive_avg_pool2d: input must be 3-D or 4-D"),
])
def test_pool_rejects_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
