"""F.linear: y = x Wᵀ + b over the last dim — gradients, PyTorch parity, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst


@st.composite
def linear_case(draw):
    """input (..., in) with 0-2 leading dims (1-D input included), weight, optional bias."""
    d_in, d_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(tst.shapes(0, 2, max_side=3))
    x = draw(tst.tensors(lead + (d_in,)), label="input")
    w = draw(tst.tensors((d_out, d_in)), label="weight")
    b = draw(st.none() | tst.tensors((d_out,)), label="bias")
    return x, w, b


@given(linear_case())
def test_linear_gradients(case):
    x, w, b = case
    if b is None:
        assert_gradients_close(F.linear, x, w, names=("input", "weight"))
    else:
        assert_gradients_close(F.linear, x, w, b, names=("input", "weight", "bias"))


@given(linear_case())
def test_linear_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, w, b = case
    arrays = [x.data, w.data] + ([] if b is None else [b.data])
    names = ("input", "weight", "bias")[:len(arrays)]
    assert_matches_torch(F.linear, torch.nn.functional.linear, *arrays, names=names)
    assert_matches_torch(F.linear, torch.nn.functional.linear,
                         *[a.astype(np.float32) for a in arrays], names=names)


def test_linear_output_shape_and_dtype():
    assert F.linear(tm.ones(2, 5, 3), tm.ones(4, 3)).shape == (2, 5, 4)
    y = F.linear(tm.ones(3), tm.ones(4, 3), tm.zeros(4))
    assert y.shape == (4,) and y.dtype == np.float32
    np.testing.assert_array_equal(y.data, 3.0)


def test_linear_with_frozen_weight_gives_only_input_gradient():
    x = tm.randn(2, 3, requires_grad=True)
    w = tm.randn(4, 3)
    F.linear(x, w).sum().backward()
    assert w.grad is None
    np.testing.assert_allclose(x.grad, np.ones((2, 4), np.float32) @ w.data, rtol=1e-6)


def test_linear_rejects_bad_input():
    x, w = tm.randn(2, 3), tm.randn(4, 3)
    with pytest.raises(TypeError, match="linear: input must be a Tensor, got ndarray"):
        F.linear(x.data, w)
    with pytest.raises(TypeError, match="linear: weight must be a Tensor, got list"):
        F.linear(x, [[1.0]])
    with pytest.raises(TypeError, match="linear: bias must be a Tensor, got ndarray"):
        F.linear(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"linear: input has 2 features \(shape \(3, 2\)\) but "
                                         r"weight expects 3 \(weight shape \(4, 3\)\)"):
        F.linear(tm.randn(3, 2), w)
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D, got shape \(3,\)"):
        F.linear(x, tm.randn(3))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\), got \(3,\)"):
        F.linear(x, w, tm.randn(3))
    with pytest.raises(ValueError, match="linear: input must be at least 1-D"):
        F.linear(tm.tensor(1.0), w)
    with pytest.raises(TypeError, match="linear: input must have a floating dtype"):
        F.linear(tm.tensor([[1, 2, 3]]), w)
    with pytest.raises(TypeError, match="linear: expected one dtype .*input is float64, "
                                        "weight is float32"):
        F.linear(x.double(), w)
