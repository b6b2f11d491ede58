"""activation kernels: Numba twin == NumPy reference, and PyTorch's ReLU semantics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tinymm.kernels.reference import activation as ref

import tinymm as tm
from tinymm import kernels

numba_only = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")


@numba_only
@settings(deadline=None)
@given(x=hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(max_dims=4),
                    elements=st.floats(width=32, allow_nan=True, allow_infinity=True)),
       seed=st.integers(0, 2**16))
def test_relu_numba_matches_reference(x, seed):
    g = np.random.default_rng(seed).standard_normal(x.shape).astype(x.dtype)
    fwd, bwd = (kernels.get(n, "numba") for n in ("relu_forward", "relu_backward"))
    y = fwd(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, ref.relu_forward(x))  # NaN == NaN here
    np.testing.assert_array_equal(bwd(g, x), ref.relu_backward(g, x))


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=numba_only)])
def test_relu_semantics_match_pytorch(backend):
    """Forward keeps NaN; backward is a selection: no gradient through x <= 0 or NaN, and an
    infinite gradient there gives 0, not inf * 0 = NaN."""
    x = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0, np.nan, np.inf, -np.inf], np.float32)
    g = np.array([1.0, np.inf, -np.inf, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)
    y = kernels.get("relu_forward", backend)(x)
    np.testing.assert_array_equal(y, np.array([0, 0, 0, 1e-30, 3, np.nan, np.inf, 0], np.float32))
    dx = kernels.get("relu_backward", backend)(g, x)
    np.testing.assert_array_equal(dx, [0, 0, 0, 2, 3, 0, 5, 0])


def test_relu_non_contiguous_and_integer_inputs():
    base = np.arange(-6.0, 6.0).reshape(3, 4)
    t = tm.tensor(base, requires_grad=True)
    y = t.T.relu()  # a transposed (non-contiguous) input
    y.backward(tm.ones(4, 3, dtype=np.float64))
    np.testing.assert_array_equal(y.data, np.maximum(base.T, 0))
    np.testing.assert_array_equal(t.grad, (base > 0).astype(float))
    np.testing.assert_array_equal(tm.tensor(np.array([-1, 2])).relu().data, [0, 2])


def test_relu_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7))
    g = rng.standard_normal((5, 7))
    t = tm.tensor(x, requires_grad=True)
    t.relu().backward(tm.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=numba_only)])
def test_relu_keeps_zero_dimensional_arrays(backend):
    x = np.array(-0.5)
    assert kernels.get("relu_forward", backend)(x).shape == ()
    assert kernels.get("relu_backward", backend)(np.array(2.0), np.array(0.5)).shape == ()
