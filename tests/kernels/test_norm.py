"""Layer-norm kernels: Numba twin == NumPy reference; reference backward == finite differences.

Tolerances: both twins are compared with the layer norm computed in wider precision from
the same inputs, within its first-order rounding-error bounds (``tests/kernel_bounds.py``,
which grow with the conditioning |μ|/σ of each row); finite differences (float64, central,
h=1e-6) rtol 1e-6, atol 1e-8.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_bounds import layer_norm_backward_bound, layer_norm_forward_bound
from tinymm.kernels.jit import threads as jit_threads
from tinymm.kernels.reference import norm as ref

from tinymm import kernels
from tinymm.testing import tolerance as tol


def _check_twins(results, x, weight, bias, gy):
    """Each backend's (y, μ, rstd, dx[, dγ][, dβ]) within its bound of the wide reference."""
    (y, mean, rstd), fwd_bounds = layer_norm_forward_bound(x, weight, bias, 1e-5)
    labels = ("y", "mean", "rstd", "grad_x", "grad_weight", "grad_bias")
    labels = labels[:4] + tuple(n for n, k in zip(labels[4:], (weight, bias)) if k is not None)
    for backend, arrays in results.items():
        # backward ran on the backend's own μ and rstd: its reference takes the same inputs
        grads, grad_bounds = layer_norm_backward_bound(gy, x, weight, arrays[1], arrays[2],
                                                       weight is not None, bias is not None)
        refs = (y, mean, rstd, *grads)
        for label, got, want, bound in zip(labels, arrays, refs, (*fwd_bounds, *grad_bounds)):
            tol.assert_close_to_reference(got, want, bound, name=f"layer_norm {label} ({backend})")


@settings(deadline=None)
@given(
    R=st.integers(1, 70),
    D=st.integers(1, 40),
    affine=st.sampled_from(["both", "weight", "bias", "none"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    offset=st.sampled_from([0.0, 5.0, -1000.0]),
    seed=st.integers(0, 2**16),
    threaded=st.booleans(),
)
def test_numba_matches_reference(R, D, affine, dtype, offset, seed, threaded):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((R, D)) * rng.uniform(0.5, 3) + offset).astype(dtype)
    weight = rng.standard_normal(D).astype(dtype) if affine in ("both", "weight") else None
    bias = rng.standard_normal(D).astype(dtype) if affine in ("both", "bias") else None
    gy = rng.standard_normal((R, D)).astype(dtype)
    results = {}
    saved = jit_threads.MIN_CHUNK
    for backend in ("numba", "numpy"):
        jit_threads.MIN_CHUNK = 1 if threaded else saved  # small inputs run in one piece otherwise
        try:
            y, mean, rstd = kernels.get("layer_norm_forward", backend)(x, weight, bias, 1e-5)
            grads = kernels.get("layer_norm_backward", backend)(
                gy, x, weight, mean, rstd, weight is not None, bias is not None
            )
        finally:
            jit_threads.MIN_CHUNK = saved
        assert (grads[1] is None) == (weight is None) and (grads[2] is None) == (bias is None)
        arrays = (y, mean, rstd) + tuple(g for g in grads if g is not None)
        assert all(a.dtype == dtype for a in arrays)
        results[backend] = arrays
    _check_twins(results, x, weight, bias, gy)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_forward_statistics(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10)) * 2 + 3
    y, mean, rstd = kernels.get("layer_norm_forward", backend)(x, None, None, 1e-5)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-12)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.var(1) + 1e-5), rtol=1e-12)  # biased var
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(1), x.var(1) / (x.var(1) + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_constant_rows_are_finite(backend):
    """A constant row has σ² = 0: eps keeps rstd finite, y = β."""
    x = np.full((3, 5), 7.0, np.float32)
    bias = np.arange(5, dtype=np.float32)
    y, _, rstd = kernels.get("layer_norm_forward", backend)(x, np.ones(5, np.float32), bias, 1e-5)
    np.testing.assert_allclose(y, np.broadcast_to(bias, (3, 5)), atol=1e-6)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(np.float32(1e-5)), rtol=1e-6)


def _numeric_grad(f, x, h=1e-6):
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return grad


@pytest.mark.parametrize("affine", [True, False])
def test_reference_backward_matches_finite_differences(affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6))
    weight = rng.standard_normal(6) if affine else None
    bias = rng.standard_normal(6) if affine else None
    gy = rng.standard_normal((4, 6))

    def loss():
        return float((ref.layer_norm_forward(x, weight, bias, 1e-5)[0] * gy).sum())

    _, mean, rstd = ref.layer_norm_forward(x, weight, bias, 1e-5)
    gx, gw, gb = ref.layer_norm_backward(gy, x, weight, mean, rstd, affine, affine)
    np.testing.assert_allclose(gx, _numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    if affine:
        np.testing.assert_allclose(gw, _numeric_grad(loss, weight), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, _numeric_grad(loss, bias), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("D", [63, 64, 127, 128, 129, 300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_matches_reference_on_wide_rows(D, dtype):
    """Rows long enough for the vectorised sums' main loop and remainder (the property test
    above stays below 41 columns)."""
    rng = np.random.default_rng(D)
    x = (rng.standard_normal((37, D)) * 2 + 1).astype(dtype)
    weight, bias = rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype)
    gy = rng.standard_normal((37, D)).astype(dtype)
    results = {}
    for backend in ("numba", "numpy"):
        y, mean, rstd = kernels.get("layer_norm_forward", backend)(x, weight, bias, 1e-5)
        grads = kernels.get("layer_norm_backward", backend)(gy, x, weight, mean, rstd, True, True)
        results[backend] = (y, mean, rstd, *grads)
    _check_twins(results, x, weight, bias, gy)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_a_row_poisons_only_that_row(backend, bad):
    """The fast-math flags exclude nnan/ninf: a NaN or ±inf makes its own row NaN (as the
    reference), the other rows stay exact."""
    x = np.random.default_rng(2).standard_normal((4, 70))
    x[1, 33] = bad
    y, mean, rstd = kernels.get("layer_norm_forward", backend)(x, None, None, 1e-5)
    assert np.all(np.isnan(y[1]))
    assert np.isnan(mean[1]) or np.isnan(rstd[1])
    others = [0, 2, 3]
    (y_ref, _, _), (bound, _, _) = layer_norm_forward_bound(x[others], None, None, 1e-5)
    tol.assert_close_to_reference(y[others], y_ref, bound, name=f"layer_norm y ({backend})")
