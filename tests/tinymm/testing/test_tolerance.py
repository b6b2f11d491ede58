"""The rounding-error bounds hold for any summation order, and still catch wrong results.

The headline test replays issue 10's finding 2 (log-softmax backward over 10000 classes,
whose Numba and NumPy twins differed by 1.3e-6 on an AMD EPYC): the kernels' formulas are
evaluated in float32 with the row sums forced into six orders a CPU could use, and every
one lies inside the bound, while the old fixed ``rtol=1e-4, atol=1e-6`` between two of them
fails.
"""

import numpy as np
import pytest
from kernel_bounds import log_softmax_backward_bound, softmax_backward_bound
from tinymm.kernels.reference import softmax as ref

from tinymm.testing import tolerance as tol


# ------------------------------------------------------------------ forced summation orders
def _sequential(t):
    """Left to right, one accumulator (a scalar loop)."""
    return np.cumsum(t, axis=1, dtype=t.dtype)[:, -1:]


def _reversed(t):
    return _sequential(t[:, ::-1])


def _pairwise(t):
    """NumPy's own reduction: pairwise over blocks of 128, 8-way unrolled inside."""
    return t.sum(axis=1, keepdims=True)


def _lanes(width):
    """``width`` accumulators, each summing every width-th term, then added left to right:
    what a vectorised loop with reassoc does (8 float32 lanes on AVX2, 16 on AVX-512)."""
    def blocked(t):
        n, c = t.shape
        pad = (-c) % width
        padded = np.concatenate([t, np.zeros((n, pad), t.dtype)], axis=1)
        lanes = np.cumsum(padded.reshape(n, -1, width), axis=1, dtype=t.dtype)[:, -1, :]
        return _sequential(lanes)
    blocked.__name__ = f"lanes_{width}"
    return blocked


def _largest_first(t):
    """Terms sorted by decreasing magnitude: the order with the largest partial sums."""
    order = np.argsort(-np.abs(t), axis=1)
    return _sequential(np.take_along_axis(t, order, axis=1))


ORDERS = [_sequential, _reversed, _pairwise, _lanes(8), _lanes(16), _largest_first]


def _log_softmax_backward(y, g, row_sum):
    """The kernels' formula dx = g − exp(y)·Σg in y's dtype, with Σ taken by ``row_sum``."""
    return g - np.exp(y) * row_sum(g)


def _softmax_backward(y, g, row_sum):
    return y * (g - row_sum(g * y))


def _finding_2():
    """The rows of tests/kernels/test_softmax.py::test_large_class_counts[11-float32]."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((11, 10000)) * 3.0).astype(np.float32)
    g = rng.standard_normal((11, 10000)).astype(np.float32)
    return x, g


@pytest.mark.parametrize("op, forward, bound, naive_fails", [
    (_log_softmax_backward, ref.log_softmax_forward, log_softmax_backward_bound, True),
    # Σ g·y over probabilities ~1e-4 is small: its orders agree to the naive tolerance too
    (_softmax_backward, ref.softmax_forward, softmax_backward_bound, False),
], ids=["log_softmax_backward", "softmax_backward"])
def test_every_summation_order_is_inside_the_bound(op, forward, bound, naive_fails):
    x, g = _finding_2()
    y = forward(x)
    reference, allowed = bound(y, g)
    results = {}
    for row_sum in ORDERS:
        results[row_sum.__name__] = op(y, g, row_sum)
        ratio = tol.assert_close_to_reference(results[row_sum.__name__], reference, allowed,
                                              name=row_sum.__name__)
        assert ratio <= 1
    # the orders really differ, by more than the naive fixed tolerance allows
    naive_failures = 0
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if not np.allclose(results[a], results[b], rtol=1e-4, atol=1e-6):
                naive_failures += 1
    assert (naive_failures > 0) == naive_fails


def test_the_bound_is_tight_enough_to_catch_a_dropped_term():
    """On a short row the bound is a few ulps: a sum missing one term is far outside it."""
    rng = np.random.default_rng(0)
    y = ref.log_softmax_forward(rng.standard_normal((4, 7)).astype(np.float32))
    g = rng.standard_normal((4, 7)).astype(np.float32)
    reference, allowed = log_softmax_backward_bound(y, g)
    tol.assert_close_to_reference(_log_softmax_backward(y, g, _pairwise), reference, allowed)
    dropped = _log_softmax_backward(y, g, lambda t: _pairwise(t[:, 1:]))
    with pytest.raises(AssertionError, match="exceed their rounding-error bound"):
        tol.assert_close_to_reference(dropped, reference, allowed, name="dropped")


# ------------------------------------------------------------------ the building blocks
def test_unit_roundoff_and_gamma():
    assert tol.unit_roundoff(np.float32) == 2.0 ** -24
    assert tol.unit_roundoff(np.float64) == 2.0 ** -53
    u = 2.0 ** -24
    assert tol.gamma(10, np.float32) == pytest.approx(10 * u / (1 - 10 * u), rel=1e-15)
    np.testing.assert_allclose(tol.gamma(np.array([0, 1]), np.float32), [0, u / (1 - u)])
    with pytest.raises(ValueError, match="gamma: n·u must be < 1"):
        tol.gamma(2 ** 25, np.float32)
    with pytest.raises(TypeError, match="unit_roundoff: expected a floating dtype, got int64"):
        tol.unit_roundoff(np.int64)


def test_sum_and_dot_bounds_hold_and_scale_with_the_terms():
    rng = np.random.default_rng(1)
    t = rng.standard_normal((5, 3000)).astype(np.float32)
    reference = tol.reference_inputs(t).sum(axis=1)
    bound = tol.sum_bound(t, axis=1, dtype=np.float32)
    expected = tol.SAFETY * tol.gamma(2999, np.float32) * np.abs(t.astype(np.float64)).sum(axis=1)
    np.testing.assert_allclose(bound, expected, rtol=1e-12)
    for row_sum in ORDERS:
        tol.assert_close_to_reference(row_sum(t)[:, 0], reference, bound, name=row_sum.__name__)
    a, b = t[:, :100], t[:, 100:200]
    dot = (a * b).sum(axis=1)
    tol.assert_close_to_reference(dot, (a.astype(np.float64) * b).sum(axis=1),
                                  tol.dot_bound(a, b, axis=1, dtype=np.float32))


def test_multilinear_and_normwise_matmul_bounds():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 400)).astype(np.float32)
    w = rng.standard_normal((400, 9)).astype(np.float32)
    reference = x.astype(np.float64) @ w.astype(np.float64)
    componentwise = tol.multilinear_bound(np.matmul, x, w, n_terms=400, dtype=np.float32)
    normwise = tol.matmul_normwise_bound(x, w, np.float32)
    assert componentwise.shape == (16, 9) and np.all(componentwise <= normwise)
    for got in (x @ w, np.einsum("ik,kj->ij", x, w), (x[:, :, None] * w).sum(axis=1)):
        tol.assert_close_to_reference(got, reference, componentwise, name="x @ w")
        assert np.linalg.norm(got - reference) <= normwise
    wrong = x @ w
    wrong[3, 4] += 1e-3 * np.abs(wrong).max()
    with pytest.raises(AssertionError, match=r"x @ w: 1 of 144 elements .* worst at \(3, 4\)"):
        tol.assert_close_to_reference(wrong, reference, componentwise, name="x @ w")


def test_elementwise_bound_covers_one_rounding_and_the_function_error():
    x = np.linspace(-20, 5, 1001).astype(np.float32)
    reference = np.exp(x.astype(np.float64))
    ratio = tol.assert_close_to_reference(
        np.exp(x), reference, tol.elementwise_bound(reference, np.float32,
                                                    ulps=tol.TRANSCENDENTAL_ULPS))
    assert 0 < ratio < 1
    # exp(fl(x - 3)): the rounding of the argument is the perturbation term u·|x - 3|
    shifted = np.exp(x - np.float32(3.0))
    ref_shifted = np.exp(x.astype(np.float64) - 3.0)
    bound = tol.elementwise_bound(ref_shifted, np.float32, ulps=tol.TRANSCENDENTAL_ULPS,
                                  perturbation=ref_shifted * np.abs(x.astype(np.float64) - 3))
    tol.assert_close_to_reference(shifted, ref_shifted, bound)
    assert tol.reference_dtype(np.float32) == np.float64
    assert np.finfo(tol.reference_dtype(np.float64)).eps <= np.finfo(np.float64).eps


def test_assert_close_to_reference_reports_the_worst_element():
    reference = np.array([[1.0, 2.0], [3.0, 4.0]])
    actual = np.array([[1.0, 2.1], [3.5, 4.0]], np.float32)
    with pytest.raises(AssertionError) as info:
        tol.assert_close_to_reference(actual, reference, np.array([[1e-3], [1.0]]), name="probs")
    msg = str(info.value)
    assert msg.startswith("probs: 1 of 4 elements exceed their rounding-error bound; worst at (0, 1)")
    assert "bound 0.001" in msg and "ratio 100" in msg
    assert tol.assert_close_to_reference(actual, reference, 1.0) == pytest.approx(0.5)


def test_assert_close_to_reference_special_values_and_shapes():
    reference = np.array([np.nan, -np.inf, 1.0])
    tol.assert_close_to_reference(np.array([np.nan, -np.inf, 1.0], np.float32), reference, 0.0)
    with pytest.raises(AssertionError, match=r"r: 1 non-finite reference element\(s\) not "
                                             r"reproduced; first at \(1,\)"):
        tol.assert_close_to_reference(np.array([np.nan, -1e30, 1.0]), reference, 1.0, name="r")
    with pytest.raises(AssertionError, match="exceed"):  # NaN where the reference is finite
        tol.assert_close_to_reference(np.array([np.nan, -np.inf, np.nan]), reference, 1.0)
    with pytest.raises(AssertionError, match=r"r: shape \(2,\) but the reference has shape \(3,\)"):
        tol.assert_close_to_reference(np.zeros(2), reference, 1.0, name="r")
    # subnormal results: half a subnormal spacing per operation is allowed, no more
    tiny = np.finfo(np.float32).smallest_subnormal
    tol.assert_close_to_reference(np.float32([tiny]), np.array([0.0]), 0.0)
    with pytest.raises(AssertionError, match="exceed"):
        tol.assert_close_to_reference(np.float32([1e-40]), np.array([0.0]), 0.0)
