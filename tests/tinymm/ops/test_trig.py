"""sin and cos: values and gradients against PyTorch and finite differences; integer inputs
give float32, as in PyTorch."""

import numpy as np
import pytest
from hypothesis import given, settings

import tinymm as tm
import tinymm.testing as tmt
from tinymm.testing import strategies as tst


@pytest.mark.parametrize("name", ["sin", "cos"])
@settings(deadline=None)
@given(x=tst.tensors(shape=tst.shapes(max_dims=3), min_value=-6, max_value=6))
def test_gradient_matches_finite_differences(name, x):
    tmt.assert_gradients_close(getattr(tm, name), x)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_matches_torch_as_function_and_method(name):
    x = np.linspace(-7, 7, 29)
    tmt.assert_matches_torch(getattr(tm, name), lambda t: getattr(t, name)(), x)
    t = tm.tensor(x)
    np.testing.assert_array_equal(getattr(t, name)().data, getattr(tm, name)(t).data)
    assert getattr(tm, name)(tm.arange(4)).dtype == np.float32


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="sin: input must be a Tensor"):
        tm.sin([1.0, 2.0])
