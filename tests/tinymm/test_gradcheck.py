"""tm.gradcheck: True on correct gradients, GradcheckError naming the input on wrong ones."""

import numpy as np
import pytest
from hypothesis import given

import tinymm as tm
import tinymm.functional as F
from tinymm.testing import strategies as tst


class Cube(tm.Function):
    """x³ with a switchable (deliberately wrong) derivative."""

    factor = 3.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Cube.factor * x * x


@pytest.fixture
def cube():
    yield Cube
    Cube.factor = 3.0


@given(tst.tensors(tst.shapes(0, 3)), tst.tensors(tst.shapes(0, 3)))
def test_gradcheck_passes_on_correct_ops(x, y):
    assert tm.gradcheck(lambda a, b: (a * a).sum() + (b.tanh() * 2).sum(), (x, y)) is True
    assert tm.gradcheck(lambda a: Cube.apply(a), x) is True


def test_gradcheck_names_the_wrong_input_and_element(cube):
    cube.factor = 2.0
    x = tm.tensor(np.array([[0.5, -1.0], [2.0, 0.0]]), requires_grad=True)
    y = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(tm.GradcheckError, match=r"gradient of input 1 \(shape \(2, 2\)\) "
                                                r"differs at element \(1, 0\).*analytic.*numeric"):
        tm.gradcheck(lambda a, b: a * 2 + Cube.apply(b), (y, x))


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(tm.GradcheckError, AssertionError)


def test_gradcheck_random_projection_for_large_inputs(cube):
    x = tm.tensor(np.random.default_rng(0).standard_normal((40, 60)), requires_grad=True)
    assert tm.gradcheck(Cube.apply, (x,), max_elements=100) is True
    cube.factor = 3.3
    with pytest.raises(tm.GradcheckError, match=r"input 0 \(shape \(40, 60\)\) fails random "
                                                "projection"):
        tm.gradcheck(Cube.apply, (x,), max_elements=100)


def test_gradcheck_upcasts_float32_and_handles_several_outputs():
    x = tm.randn(3, 4, requires_grad=True)
    assert tm.gradcheck(lambda t: (t.exp(), t.sum(dim=1)), (x,))
    assert tm.gradcheck(lambda t: t.max(dim=1), (x,))  # integer indices output is skipped
    assert x.grad is None  # the caller's tensor is untouched


def test_gradcheck_passes_non_tensor_arguments_through():
    x = tm.randn(2, 5, dtype=tm.float64, requires_grad=True)
    target = np.array([1, 4])
    assert tm.gradcheck(lambda t, y, s: F.cross_entropy(t, y, label_smoothing=s),
                        (x, target, 0.1))


def test_gradcheck_docstring_example():
    x = tm.randn(3, 4, dtype=tm.float64, requires_grad=True)
    assert tm.gradcheck(lambda t: (t * t).sum(dim=1), (x,)) is True


def test_gradcheck_rejects_bad_arguments():
    x = tm.randn(2, dtype=tm.float64, requires_grad=True)
    for name in ("eps", "atol", "rtol"):
        with pytest.raises(ValueError, match=f"gradcheck: {name} must be a non-negative number"):
            tm.gradcheck(lambda t: t * 2, (x,), **{name: -1.0})
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True"):
        tm.gradcheck(lambda t: t * 2, (x.detach(),))
    with pytest.raises(ValueError, match="gradcheck: fn returned no floating output that "
                                         "depends on the inputs"):
        tm.gradcheck(lambda t: t.detach() * 2, (x,))


def test_gradcheck_reports_non_finite_gradients():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * np.nan

    x = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(tm.GradcheckError, match="gradient of input 0"):
        tm.gradcheck(Bad.apply, (x,))


def test_gradcheck_keeps_the_inputs_memory_layout():
    """A float64 view should reach fn as it is, so non-contiguous inputs are exercised."""
    seen = []
    x = tm.Tensor(np.asfortranarray(np.ones((3, 4))), requires_grad=True)

    def fn(t):
        seen.append(t.data.flags.c_contiguous)
        return t * 2

    tm.gradcheck(fn, (x,))
    assert seen[0] is False
