"""F.conv1d / F.conv2d: PyTorch parity (forward and every gradient) on both backends,
gradient checks in float64, both backends agree, and clear errors for bad arguments.

Tolerances: assert_matches_torch's defaults (float64 rtol 1e-7 / atol 1e-9, float32 1e-4 /
1e-5); gradcheck: central differences, eps 1e-6, rtol 1e-3 / atol 1e-5.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinymm as tm
import tinymm.testing as tmt
from tinymm import kernels
from tinymm.functional.conv import conv1d, conv2d
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not kernels.numba_available(), reason="numba is not available"))]


def _arrays(args, dtype, seed, with_bias=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(args.input_shape).astype(dtype)
    w = rng.standard_normal(args.weight_shape).astype(dtype)
    b = rng.standard_normal(args.bias_shape).astype(dtype)
    return (x, w, b) if with_bias else (x, w)


def _torch_conv(dims):
    torch = pytest.importorskip("torch")
    return getattr(torch.nn.functional, f"conv{dims}d")


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(args=tst.conv_args(dims=2, max_batch=2, max_in_channels=3, max_out_channels=3,
                          max_size=7, max_kernel=3, max_stride=3, max_padding=2,
                          max_dilation=2),
       dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(backend, args, dtype, with_bias, seed):
    tconv = _torch_conv(2)
    conv_kw = dict(stride=args.stride, padding=args.padding, dilation=args.dilation)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda *t: conv2d(*t, **conv_kw),
                                 lambda *t: tconv(*t, **conv_kw),
                                 *_arrays(args, dtype, seed, with_bias),
                                 names=("input", "weight", "bias")[:2 + with_bias])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None)
@given(args=tst.conv_args(dims=1, max_batch=2, max_in_channels=3, max_out_channels=3,
                          max_size=9, max_kernel=4, max_stride=3, max_padding=2,
                          max_dilation=2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_conv1d_matches_torch(backend, args, dtype, seed):
    tconv = _torch_conv(1)
    # conv1d takes plain ints as well as 1-tuples
    conv_kw = dict(stride=args.stride[0], padding=args.padding, dilation=args.dilation[0])
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda *t: conv1d(*t, **conv_kw),
                                 lambda *t: tconv(*t, **conv_kw),
                                 *_arrays(args, dtype, seed), names=("input", "weight", "bias"))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((2, 4), 1), ((3, 2), (2, 3))])
def test_conv2d_string_padding_matches_torch(backend, kernel, dilation):
    tconv = _torch_conv(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, *kernel))
    for padding in ("same", "valid"):
        with tm.backend(backend):
            tmt.assert_matches_torch(
                lambda a, b, padding=padding: conv2d(a, b, padding=padding, dilation=dilation),
                lambda a, b, padding=padding: tconv(a, b, padding=padding, dilation=dilation),
                x, w, names=("input", "weight"))
    with tm.backend(backend):
        assert conv2d(tm.tensor(x), tm.tensor(w), padding="same",
                      dilation=dilation).shape == (2, 4, 7, 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_unbatched_input_matches_torch(backend):
    rng = np.random.default_rng(1)
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda x, w, b: conv2d(x, w, b, padding=1),
                                 lambda x, w, b: _torch_conv(2)(x, w, b, padding=1),
                                 rng.standard_normal((3, 5, 5)), rng.standard_normal((2, 3, 3, 3)),
                                 rng.standard_normal(2))
        tmt.assert_matches_torch(lambda x, w: conv1d(x, w, stride=2),
                                 lambda x, w: _torch_conv(1)(x, w, stride=2),
                                 rng.standard_normal((3, 8)), rng.standard_normal((2, 3, 3)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv2d_non_contiguous_input_matches_torch(backend):
    rng = np.random.default_rng(2)
    x = np.transpose(rng.standard_normal((6, 5, 3, 2)), (3, 2, 1, 0))  # (2, 3, 5, 6) view
    w = rng.standard_normal((4, 3, 3, 3))[:, :, ::-1]  # reversed view
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    with tm.backend(backend):
        tmt.assert_matches_torch(lambda a, b: conv2d(a, b, stride=(2, 1), padding=(0, 1)),
                                 lambda a, b: _torch_conv(2)(a, b, stride=(2, 1), padding=(0, 1)),
                                 x, w)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=8)
@given(args=tst.conv_args(dims=2, max_batch=2, max_in_channels=2, max_out_channels=2,
                          max_size=5, max_kernel=3, max_stride=2, max_padding=1,
                          max_dilation=2),
       seed=st.integers(0, 2**16))
def test_conv2d_gradcheck(backend, args, seed):
    x, w, b = (tm.tensor(a, requires_grad=True) for a in _arrays(args, np.float64, seed))
    kw = dict(stride=args.stride, padding=args.padding, dilation=args.dilation)
    with tm.backend(backend):
        assert tm.gradcheck(lambda *t: conv2d(*t, **kw), (x, w, b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv1d_gradcheck(backend):
    rng = np.random.default_rng(3)
    x, w, b = (tm.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 9), (2, 3, 3), (2,)))
    with tm.backend(backend):
        assert tm.gradcheck(lambda *t: conv1d(*t, stride=2, padding=2, dilation=2), (x, w, b))
        assert tm.gradcheck(lambda *t: conv1d(*t, padding="same"), (x, w, b))


@pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")
@settings(deadline=None)
@given(args=tst.conv_args(dims=2, max_batch=3, max_in_channels=4, max_out_channels=4,
                          max_size=8, max_kernel=4, max_stride=3, max_padding=2,
                          max_dilation=2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_conv2d_backends_agree(args, dtype, seed):
    kw = dict(stride=args.stride, padding=args.padding, dilation=args.dilation)
    tmt.assert_backends_agree(lambda *t: conv2d(*t, **kw), *_arrays(args, dtype, seed),
                              names=("input", "weight", "bias"))


def test_conv2d_only_weight_requires_grad():
    """The first layer of a network: no gradient for the image, still one for w and b."""
    rng = np.random.default_rng(4)
    x = tm.tensor(rng.standard_normal((2, 3, 6, 6)))
    w = tm.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = tm.tensor(rng.standard_normal(4), requires_grad=True)
    conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad is None
    assert w.grad.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(b.grad, np.full(4, 2 * 6 * 6))


def test_conv2d_keeps_float32():
    x = tm.randn(1, 2, 5, 5, requires_grad=True)
    w = tm.randn(3, 2, 3, 3, requires_grad=True)
    y = conv2d(x, w)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


# ------------------------------------------------------------------ bad arguments
X = tm.randn(2, 3, 8, 8)
W = tm.randn(8, 3, 3, 3)


@pytest.mark.parametrize("call,error,pattern", [
    (lambda: conv2d(tm.randn(2, 4, 8, 8), W), ValueError,
     r"conv2d: input has 4 channels but weight expects 3 \(weight shape \(8, 3, 3, 3\)\)"),
    (lambda: conv2d(X, W, stride=0), ValueError, r"conv2d: stride must be >= 1"),
    (lambda: conv2d(X, W, stride=1.5), TypeError, r"conv2d: stride"),
    (lambda: conv2d(X, W, padding=-1), ValueError, r"conv2d: padding must be >= 0"),
    (lambda: conv2d(X, W, padding="full"), ValueError, r"conv2d: padding must be .*'full'"),
    (lambda: conv2d(X, W, stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' is not supported for strided"),
    (lambda: conv2d(X, W, dilation=(1, 0)), ValueError, r"conv2d: dilation must be >= 1"),
    (lambda: conv2d(tm.randn(2, 3, 2, 8), W), ValueError,
     r"conv2d: kernel size \(3, 3\) .* larger than the padded input \(2, 8\)"),
    (lambda: conv2d(X, W, dilation=4), ValueError, r"conv2d: kernel size .*dilated to \(9, 9\)"),
    (lambda: conv2d(tm.randn(8, 8), W), ValueError, r"conv2d: input must be 3-D or 4-D"),
    (lambda: conv2d(X, tm.randn(8, 3, 3)), ValueError, r"conv2d: weight must be 4-D"),
    (lambda: conv2d(X.double(), W), TypeError, r"conv2d: .*input is float64, weight is float32"),
    (lambda: conv2d(X, W, tm.randn(7)), ValueError, r"conv2d: bias must have shape \(8,\)"),
    (lambda: conv2d(X, W, tm.randn(8).double()), TypeError, r"conv2d: .*bias is float64"),
    (lambda: conv2d(X.data, W), TypeError, r"conv2d: input must be a Tensor"),
    (lambda: conv2d(X, W.data), TypeError, r"conv2d: weight must be a Tensor"),
    (lambda: conv2d(tm.tensor(np.ones((1, 3, 4, 4), np.int64)), W), TypeError,
     r"conv2d: input must have a floating dtype"),
    (lambda: conv2d(X, W, groups=3), ValueError, r"conv2d: out_channels .* must be divisible by groups=3"),
    (lambda: conv1d(tm.randn(2, 3, 8), tm.randn(4, 2, 3)), ValueError,
     r"conv1d: input has 3 channels but weight expects 2 \(weight shape \(4, 2, 3\)\)"),
    (lambda: conv1d(tm.randn(2, 3, 8), tm.randn(4, 3, 3), stride=(1, 1)), TypeError,
     r"conv1d: stride must be an int or a sequence of 1 ints"),
    (lambda: conv1d(X, W), ValueError, r"conv1d: input must be 2-D or 3-D"),
])
def test_conv_rejects_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
