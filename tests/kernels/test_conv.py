"""conv kernels: Numba twin == NumPy reference; reference gradients == finite differences.

Both twins are compared with the reference kernel run on the same inputs in wider precision
(float64 for float32, long double for float64); each output is a sum of k products, so each
element must lie within γ_k·(the same sum of absolute values) (``tinymm.testing.tolerance``),
whatever order BLAS, einsum or the Numba loops add the products in.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinymm.kernels.reference import conv as ref

from tinymm import kernels
from tinymm.testing import strategies as tst
from tinymm.testing import tolerance as tol

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")

NEEDS = [(True, True, True), (True, False, False), (False, True, True), (False, False, True)]


def _draw_arrays(rng, args, dtype, with_bias):
    x = rng.standard_normal(args.input_shape).astype(dtype)
    w = rng.standard_normal(args.weight_shape).astype(dtype)
    b = rng.standard_normal(args.bias_shape).astype(dtype) if with_bias else None
    g = rng.standard_normal(args.output_shape).astype(dtype)
    return x, w, b, g


def _references(name, x, w, b, g, conv_args, needs=(True, True, True)):
    """(reference, bound) of (y, ∂x, ∂w, ∂b): the longest sum is C·kh·kw (+1 bias) for y,
    O·kh·kw for ∂x, N·H_out·W_out for ∂w and ∂b; γ of the longest serves them all."""
    fwd, bwd = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    taps = int(np.prod(w.shape[2:]))
    k = max(w.shape[1] * taps + 1, w.shape[0] * taps, g.size // max(g.shape[1], 1))
    y_ref, y_bound = tol.multilinear_reference(fwd, x, w, b, *conv_args, n_terms=k)
    grads, bounds = tol.multilinear_reference(bwd, g, x, w, *conv_args, needs, n_terms=k)
    return list(zip((y_ref, *grads), (y_bound, *bounds)))


def _check_twins(name, outs, references):
    """Every backend's (y, ∂x, ∂w, ∂b) within its bound; ``None`` where the reference has none."""
    labels = ("forward", "grad_input", "grad_weight", "grad_bias")
    for backend, results in outs.items():
        for label, got, (want, bound) in zip(labels, results, references):
            if want is None:
                assert got is None
                continue
            assert got.flags.c_contiguous
            tol.assert_close_to_reference(got, want, bound, name=f"{name} {label} ({backend})")


def _assert_twins_agree(dims, args, dtype, with_bias, needs, seed):
    name = f"conv{dims}d"
    x, w, b, g = _draw_arrays(np.random.default_rng(seed), args, dtype, with_bias)
    conv_args = (args.stride, args.padding, args.dilation)
    outs = {}
    for backend in ("numpy", "numba"):
        y = kernels.get(f"{name}_forward", backend)(x, w, b, *conv_args)
        grads = kernels.get(f"{name}_backward", backend)(g, x, w, *conv_args, needs)
        outs[backend] = (y, *grads)
    for got, want in zip(outs["numba"], outs["numpy"]):
        if want is None:
            assert got is None
            continue
        assert got.dtype == want.dtype == dtype
        assert got.shape == want.shape
    _check_twins(name, outs, _references(name, x, w, b, g, conv_args, needs))
    y = outs["numpy"][0]
    assert y.shape == args.output_shape
    for grad, want_shape, need in zip(outs["numpy"][1:], (x.shape, w.shape, (w.shape[0],)), needs):
        assert (grad is not None) == need
        if need:
            assert grad.shape == want_shape


@numba_only
@settings(deadline=None)
@given(args=tst.conv_args(dims=2, max_batch=3, max_in_channels=4, max_out_channels=4,
                          max_size=7, max_kernel=4, max_stride=3, max_padding=2,
                          max_dilation=3),
       dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(),
       needs=st.sampled_from(NEEDS), seed=st.integers(0, 2**16))
def test_conv2d_numba_matches_reference(args, dtype, with_bias, needs, seed):
    _assert_twins_agree(2, args, dtype, with_bias, needs, seed)


@numba_only
@settings(deadline=None)
@given(args=tst.conv_args(dims=1, max_batch=3, max_in_channels=4, max_out_channels=4,
                          max_size=9, max_kernel=4, max_stride=3, max_padding=2,
                          max_dilation=3),
       dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(),
       needs=st.sampled_from(NEEDS), seed=st.integers(0, 2**16))
def test_conv1d_numba_matches_reference(args, dtype, with_bias, needs, seed):
    _assert_twins_agree(1, args, dtype, with_bias, needs, seed)


@numba_only
def test_conv2d_numba_reuses_workspace_across_sizes():
    """A big conv between two small ones must not leave stale columns behind."""
    rng = np.random.default_rng(0)
    fwd = kernels.get("conv2d_forward", "numba")
    small = (rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)))
    big = (rng.standard_normal((4, 8, 12, 12)), rng.standard_normal((6, 8, 3, 3)))
    first = fwd(*small, None, (1, 1), (1, 1), (1, 1))
    fwd(*big, None, (1, 1), (1, 1), (1, 1))
    again = fwd(*small, None, (1, 1), (1, 1), (1, 1))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, ref.conv2d_forward(*small, None, (1, 1), (1, 1), (1, 1)),
                               rtol=1e-12)


@numba_only
def test_conv2d_numba_batch_chunks_give_the_same_result(monkeypatch):
    """Batches whose columns exceed the budget are done a few samples at a time."""
    from tinymm.kernels.jit import conv as jit

    rng = np.random.default_rng(5)
    x, w, b = (rng.standard_normal(s) for s in ((5, 3, 6, 7), (4, 3, 3, 2), (4,)))
    args = ((1, 2), (1, 1), (2, 1))
    y = jit.conv2d_forward(x, w, b, *args)
    g = rng.standard_normal(y.shape)
    grads = jit.conv2d_backward(g, x, w, *args)
    monkeypatch.setattr(jit, "COLUMN_BUDGET", 2 * 3 * 3 * 2 * 4 * 4)  # two samples per chunk
    assert len(jit._chunks(5, 3 * 3 * 2 * 4 * 4)) == 3
    np.testing.assert_allclose(jit.conv2d_forward(x, w, b, *args), y, rtol=1e-12)
    for got, want in zip(jit.conv2d_backward(g, x, w, *args), grads):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_conv2d_reference_matches_direct_sum():
    """The einsum over sliding windows equals the docstring's sum written as loops."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    (sh, sw), (ph, pw), (dh, dw) = (2, 1), (1, 2), (2, 1)
    y = ref.conv2d_forward(x, w, b, (sh, sw), (ph, pw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    want = np.empty_like(y)
    for n, o, i, j in np.ndindex(*y.shape):
        want[n, o, i, j] = b[o] + sum(
            xp[n, c, i * sh + u * dh, j * sw + v * dw] * w[o, c, u, v]
            for c, u, v in np.ndindex(*w.shape[1:]))
    np.testing.assert_allclose(y, want, rtol=1e-12)


def _finite_difference(f, arr, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of arr (in place)."""
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


@settings(deadline=None)
@given(args=tst.conv_args(dims=2, max_batch=2, max_in_channels=2, max_out_channels=2,
                          max_size=5, max_kernel=3, max_stride=2, max_padding=1,
                          max_dilation=2),
       seed=st.integers(0, 2**16))
def test_conv2d_reference_backward_matches_finite_differences(args, seed):
    x, w, b, g = _draw_arrays(np.random.default_rng(seed), args, np.float64, True)
    conv_args = (args.stride, args.padding, args.dilation)

    def loss():  # L = Σ g·y, so ∂L/∂y = g
        return float(np.sum(g * ref.conv2d_forward(x, w, b, *conv_args)))

    gx, gw, gb = ref.conv2d_backward(g, x, w, *conv_args)
    for analytic, arr in ((gx, x), (gw, w), (gb, b)):
        np.testing.assert_allclose(analytic, _finite_difference(loss, arr), rtol=1e-6, atol=1e-7)


def test_conv1d_reference_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 9)), rng.standard_normal((2, 3, 3)), rng.standard_normal(2)
    conv_args = ((2,), (2,), (2,))
    g = rng.standard_normal(ref.conv1d_forward(x, w, b, *conv_args).shape)

    def loss():
        return float(np.sum(g * ref.conv1d_forward(x, w, b, *conv_args)))

    gx, gw, gb = ref.conv1d_backward(g, x, w, *conv_args)
    for analytic, arr in ((gx, x), (gw, w), (gb, b)):
        np.testing.assert_allclose(analytic, _finite_difference(loss, arr), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=numba_only)])
def test_conv1d_is_conv2d_on_height_one(backend):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 10)), rng.standard_normal((4, 3, 3))
    y1 = kernels.get("conv1d_forward", backend)(x, w, None, (3,), (1,), (2,))
    y2 = kernels.get("conv2d_forward", backend)(x[:, :, None], w[:, :, None], None,
                                                (1, 3), (0, 1), (1, 2))
    np.testing.assert_allclose(y1, y2[:, :, 0], rtol=1e-12)
    assert y1.shape == (2, 4, 3)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=numba_only)])
def test_conv2d_keeps_float32(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    y = kernels.get("conv2d_forward", backend)(x, w, b, (1, 1), (1, 1), (1, 1))
    grads = kernels.get("conv2d_backward", backend)(np.ones_like(y), x, w, (1, 1), (1, 1), (1, 1))
    assert y.dtype == np.float32
    assert all(gr.dtype == np.float32 for gr in grads)


@numba_only
@pytest.mark.parametrize("kernel,padding,dilation,height,width", [
    ((3, 3), (1, 1), (1, 1), 6, 5),   # "same" 3x3
    ((3, 3), (0, 1), (1, 1), 6, 5),   # same width, valid height
    ((1, 5), (0, 2), (1, 1), 3, 7),
    ((3, 3), (2, 2), (2, 2), 7, 6),   # dilated "same"
    ((2, 3), (1, 1), (1, 1), 4, 1),   # one column: every shifted tap wraps
    ((5, 5), (2, 2), (1, 1), 2, 3),   # kernel wider than the image
])
def test_conv2d_same_width_path_matches_reference(kernel, padding, dilation, height, width):
    """Stride 1 with W_out == W copies and adds whole shifted planes, then fixes the columns
    that wrap into the neighbouring row; every tap position must still match."""
    from tinymm.kernels.jit import conv as jit

    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 2, height, width))
    w = rng.standard_normal((4, 2, *kernel))
    args = ((1, 1), padding, dilation)
    y = jit.conv2d_forward(x, w, None, *args)
    assert y.shape[3] == width  # the case this path serves
    g = rng.standard_normal(y.shape)
    _check_twins("conv2d", {"numba": (y, *jit.conv2d_backward(g, x, w, *args))},
                 _references("conv2d", x, w, None, g, args))
