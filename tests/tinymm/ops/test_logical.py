"""Logical reductions and tests (all, any, isnan, isinf, isfinite, allclose, equal) against
PyTorch, including NaN and inf, and errors naming the function."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.testing import strategies as tst

torch = pytest.importorskip("torch")

SPECIAL = st.sampled_from([0.0, 0.0, 1.0, -2.5, np.nan, np.inf, -np.inf])


@given(tst.arrays(tst.shapes(0, 3), np.float64, SPECIAL), st.data())
def test_logical_ops_match_torch(x, data):
    t = torch.tensor(x)
    ours = tm.tensor(x)
    for name in ("isnan", "isinf", "isfinite"):
        out = getattr(tm, name)(ours)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out.data, getattr(torch, name)(t).numpy())
    np.testing.assert_array_equal(ours.all().data, t.all().numpy())
    np.testing.assert_array_equal(tm.any(ours).data, torch.any(t).numpy())
    if x.ndim:
        dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
        keepdim = data.draw(st.booleans(), label="keepdim")
        for name in ("all", "any"):
            np.testing.assert_array_equal(getattr(ours, name)(dim, keepdim).data,
                                          getattr(t, name)(dim, keepdim).numpy())
    other = x + data.draw(st.sampled_from([0.0, 1e-9, 1e-3]), label="shift")
    for equal_nan in (False, True):
        assert tm.allclose(ours, tm.tensor(other), equal_nan=equal_nan) == torch.allclose(
            t, torch.tensor(other), equal_nan=equal_nan)
    assert tm.equal(ours, tm.tensor(other)) == torch.equal(t, torch.tensor(other))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: tm.all([True]), TypeError, "all: input must be a Tensor"),
    (lambda: tm.zeros(2).any(1), ValueError, "any: dim=1 is out of range"),
    (lambda: tm.zeros(2).all(keepdim=1), TypeError, "all: keepdim must be a bool"),
    (lambda: tm.isnan(np.zeros(2)), TypeError, "isnan: input must be a Tensor"),
    (lambda: tm.allclose(tm.zeros(2), tm.zeros(3)), ValueError, "allclose: shapes"),
    (lambda: tm.equal(tm.zeros(2), [0.0, 0.0]), TypeError, "equal: other must be a Tensor"),
])
def test_invalid_arguments_name_the_function(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
