"""Reductions (sum, mean, var, amax, max, argmax): gradients, PyTorch parity, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst


@st.composite
def tensor_and_dim(draw, distinct=False, min_side=1):
    """A tensor and a ``dim`` argument: None, an int (maybe negative) or a tuple of dims."""
    x = draw(tst.tensors(tst.shapes(1, 3, min_side=min_side), distinct=distinct), label="x")
    nd = x.ndim
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return x, None
    if kind == "int":
        return x, draw(st.integers(-nd, nd - 1))
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return x, tuple(d - nd if draw(st.booleans()) else d for d in dims)


OPS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda x, d, k: x.sum(_td(d, x), keepdim=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda x, d, k: x.mean(_td(d, x), keepdim=k)),
    "var_biased": (lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
                   lambda x, d, k: x.var(_td(d, x), unbiased=False, keepdim=k)),
    "amax": (lambda x, d, k: x.amax(d, keepdim=k), lambda x, d, k: x.amax(_td(d, x), keepdim=k)),
}


def _td(dim, x):
    """torch's spelling of 'all dims' for sum/mean/var/amax is an explicit tuple."""
    return tuple(range(x.ndim)) if dim is None else dim


@pytest.mark.parametrize("op", sorted(OPS))  # every op gets its examples (not sampled_from)
@given(xd=tensor_and_dim(distinct=True), keepdim=st.booleans())
def test_reduction_gradients(xd, keepdim, op):
    x, dim = xd
    assert_gradients_close(lambda t: OPS[op][0](t, dim, keepdim), x, names=("x",))


@pytest.mark.parametrize("op", sorted(OPS))
@given(xd=tensor_and_dim(distinct=True), keepdim=st.booleans())
def test_reductions_match_torch(xd, keepdim, op):
    pytest.importorskip("torch")
    x, dim = xd
    ours, theirs = OPS[op]
    assert_matches_torch(lambda t: ours(t, dim, keepdim), lambda t: theirs(t, dim, keepdim),
                         x.data, names=("x",))


@given(tensor_and_dim(distinct=True, min_side=2), st.booleans())
def test_unbiased_var_gradient_and_torch(xd, keepdim):
    x, dim = xd
    assert_gradients_close(lambda t: t.var(dim, keepdim=keepdim), x, names=("x",))
    np.testing.assert_allclose(x.var(dim, keepdim=keepdim).data,
                               np.var(x.data, axis=dim, ddof=1, keepdims=keepdim))
    assert_gradients_close(lambda t: t.std(dim, keepdim=keepdim), x, names=("x",))


@given(tst.tensors(tst.shapes(1, 3), distinct=True), st.data(), st.booleans())
def test_max_along_dim_values_indices_and_gradient(x, data, keepdim):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    values, indices = x.max(dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, x.data.max(axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.data, x.data.argmax(axis=dim) if not keepdim
                                  else np.expand_dims(x.data.argmax(axis=dim), dim))
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert_gradients_close(lambda t: t.max(dim, keepdim=keepdim).values, x, names=("x",))
    assert_gradients_close(lambda t: t.max(), x, names=("x",))
    np.testing.assert_array_equal(x.argmax(dim, keepdim=keepdim).data, indices.data)
    assert x.argmax().item() == int(np.argmax(x.data))


@given(tst.tensors(tst.shapes(1, 3), distinct=True), st.data(), st.booleans())
def test_max_and_argmax_match_torch(x, data, keepdim):
    pytest.importorskip("torch")
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_matches_torch(lambda t: tuple(t.max(dim, keepdim=keepdim)),
                         lambda t: tuple(t.max(dim, keepdim=keepdim)), x.data)
    assert_matches_torch(lambda t: t.max(), lambda t: t.max(), x.data)
    assert_matches_torch(lambda t: t.argmax(dim, keepdim=keepdim),
                         lambda t: t.argmax(dim, keepdim=keepdim), x.data)
    assert_matches_torch(lambda t: t.amin(dim), lambda t: t.amin(dim), x.data)


def test_ties_share_the_gradient_as_torch():
    x = tm.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max(dim=1).values.sum().backward()  # max(dim) sends it to the first maximum
    np.testing.assert_allclose(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_sum_of_integers_and_dtypes():
    x = tm.tensor([[1, 2], [3, 4]])
    assert x.sum().item() == 10 and x.sum().dtype == np.int64
    np.testing.assert_array_equal(x.sum(dim=0).data, [4, 6])
    y = tm.randn(2, 3, requires_grad=True)
    for r in (y.sum(), y.mean(1), y.var(), y.amax(0), y.max()):
        assert r.dtype == np.float32


def test_reduction_gradient_shapes_with_keepdim():
    x = tm.randn(2, 3, 4, dtype=tm.float64, requires_grad=True)
    y = x.sum(dim=(0, 2), keepdim=True)
    assert y.shape == (1, 3, 1)
    y.backward(np.arange(3.0).reshape(1, 3, 1))
    np.testing.assert_array_equal(x.grad, np.broadcast_to(np.arange(3.0)[None, :, None], x.shape))
    x.grad = None
    x.mean(dim=-1).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 0.25))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "amax"])
def test_reductions_reject_bad_dims(name):
    x = tm.randn(2, 3)
    method = getattr(x, name)
    with pytest.raises(ValueError, match=f"{name}: dim=2 is out of range for a 2-D tensor"):
        method(2)
    with pytest.raises(TypeError, match=f"{name}: dim must be an int, got float"):
        method(1.0)
    with pytest.raises(ValueError, match=f"{name}: dim \\(1, -1\\) repeats a dimension"):
        method((1, -1))
    with pytest.raises(TypeError, match=f"{name}: keepdim must be a bool, got int"):
        method(0, keepdim=1)


def test_reductions_reject_bad_input():
    from tinymm.ops import reduce

    with pytest.raises(TypeError, match="mean: input must have a floating dtype, got int64"):
        tm.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="var: input must have a floating dtype"):
        tm.tensor([1, 2]).var()
    with pytest.raises(ValueError, match="amax: cannot reduce an empty tensor"):
        tm.zeros(0).amax()
    with pytest.raises(ValueError, match="max: cannot reduce an empty tensor"):
        tm.zeros(0).max()
    with pytest.raises(ValueError, match="max: dim=3 is out of range"):
        tm.zeros(2).max(3)
    with pytest.raises(ValueError, match="argmax: dim=1 is out of range"):
        tm.zeros(2).argmax(1)
    for name in ("sum", "mean", "var", "amax", "max", "argmax"):
        with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got list"):
            getattr(reduce, name)([1.0])
