"""Indexing ops (gather, scatter, scatter_add, index_select, masked_fill, take_along_dim):
PyTorch parity forward and backward on both backends, finite-difference gradients, the
two kernel twins against each other, and input validation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm import kernels
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ("numpy", "numba") if kernels.numba_available() else ("numpy",)


@st.composite
def gather_case(draw, src=False, src_bigger=False):
    """(x, dim, index[, src]): index has x's rank, index.size(d) <= x.size(d) for d != dim;
    src has index's shape, or (``src_bigger``) may be one larger along each dim (PyTorch's
    own scatter_add backward cannot do that case, so only finite differences check it)."""
    x = draw(tst.tensors(tst.shapes(1, 3, max_side=4)), label="x")
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    d = dim % x.ndim
    lo = 1 if src else 0  # torch's scatter_add backward fails on an empty index
    ishape = tuple(draw(st.integers(lo if k == d else 1, 4 if k == d else n))
                   for k, n in enumerate(x.shape))
    index = draw(tst.arrays(ishape, np.int64, st.integers(0, x.shape[d] - 1)), label="index")
    if not src:
        return x, dim, index
    sshape = tuple(n + draw(st.integers(0, int(src_bigger))) for n in ishape)
    src = draw(tst.tensors(sshape), label="src")
    return x, dim, index, src


@st.composite
def unique_index_case(draw):
    """(x, dim, index, src) with no place named twice along dim (scatter is then defined)."""
    x = draw(tst.tensors(tst.shapes(1, 3, max_side=4)), label="x")
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    d = dim % x.ndim
    m = draw(st.integers(0, x.shape[d]))
    ishape = tuple(m if k == d else draw(st.integers(1, n)) for k, n in enumerate(x.shape))
    keys = draw(tst.arrays(x.shape, np.float64, distinct=True))
    order = np.argsort(keys, axis=d)  # a permutation along dim at every other position
    index = np.ascontiguousarray(order[tuple(slice(0, n) for n in ishape)])
    src = draw(tst.tensors(ishape), label="src")
    return x, dim, index, src


# ----------------------------------------------------------------------------- gather
@given(gather_case())
def test_gather_matches_torch_on_both_backends(case):
    x, dim, index = case
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a, i: a.gather(dim, i), lambda a, i: a.gather(dim, i),
                                 x.data, index, names=("x", "index"))
            assert_matches_torch(lambda a, i: tm.gather(a, dim, i),
                                 lambda a, i: __import__("torch").gather(a, dim, i),
                                 x.data.astype(np.float32), index, names=("x", "index"))


@given(gather_case())
def test_gather_gradient_and_backends(case):
    x, dim, index = case
    idx = tm.tensor(index)
    assert_gradients_close(lambda a: a.gather(dim, idx), x, names=("x",))
    assert_backends_agree(lambda a, i: a.gather(dim, i), x.data, index, names=("x", "index"))


# ----------------------------------------------------------------------------- scatter_add
@given(gather_case(src=True))
def test_scatter_add_matches_torch_on_both_backends(case):
    x, dim, index, src = case
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a, i, s: a.scatter_add(dim, i, s),
                                 lambda a, i, s: a.scatter_add(dim, i, s),
                                 x.data, index, src.data, names=("x", "index", "src"))


@given(gather_case(src=True, src_bigger=True))
def test_scatter_add_gradient_and_backends(case):
    x, dim, index, src = case
    idx = tm.tensor(index)
    assert_gradients_close(lambda a, s: tm.scatter_add(a, dim, idx, s), x, src, names=("x", "src"))
    assert_backends_agree(lambda a, i, s: a.scatter_add(dim, i, s), x.data, index, src.data,
                          names=("x", "index", "src"))


# ----------------------------------------------------------------------------- scatter
@given(unique_index_case())
def test_scatter_matches_torch_and_finite_differences(case):
    x, dim, index, src = case
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a, i, s: a.scatter(dim, i, s),
                                 lambda a, i, s: a.scatter(dim, i, s),
                                 x.data, index, src.data, names=("x", "index", "src"))
            assert_matches_torch(lambda a, i: tm.scatter(a, dim, i, value=1.5),
                                 lambda a, i: a.scatter(dim, i, value=1.5),
                                 x.data, index, names=("x", "index"))
    idx = tm.tensor(index)
    assert_gradients_close(lambda a, s: a.scatter(dim, idx, s), x, src, names=("x", "src"))


def test_scatter_reduce_add_is_scatter_add():
    x, src = tm.zeros(4), tm.tensor([1.0, 2.0, 3.0])
    idx = tm.tensor([0, 0, 3])
    np.testing.assert_array_equal(x.scatter(0, idx, src, reduce="add").data, [3.0, 0, 0, 3.0])
    np.testing.assert_array_equal(x.scatter(0, idx, 2.0, reduce="add").data, [4.0, 0, 0, 2.0])


# ----------------------------------------------------------------------------- index_select
@given(tst.tensors(tst.shapes(1, 3, max_side=4)), st.data())
def test_index_select_matches_torch_and_finite_differences(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    n = x.shape[dim]
    index = data.draw(tst.arrays((data.draw(st.integers(0, 5)),), np.int64, st.integers(0, n - 1)),
                      label="index")
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a, i: tm.index_select(a, dim, i),
                                 lambda a, i: a.index_select(dim, i), x.data, index,
                                 names=("x", "index"))
    idx = tm.tensor(index)
    assert_gradients_close(lambda a: a.index_select(dim, idx), x, names=("x",))


# ----------------------------------------------------------------------------- masked_fill
@given(tst.broadcastable_shapes(2, 1, 3), st.data())
def test_masked_fill_matches_torch_and_finite_differences(shapes, data):
    xshape, mshape = shapes
    x = data.draw(tst.tensors(xshape), label="x")
    mask = data.draw(tst.arrays(mshape, np.bool_, st.booleans()), label="mask")
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a, m: a.masked_fill(m, -3.0),
                                 lambda a, m: a.masked_fill(m, -3.0), x.data, mask,
                                 names=("x", "mask"))
            assert_matches_torch(lambda a, m, v: tm.masked_fill(a, m, v),
                                 lambda a, m, v: a.masked_fill(m, v), x.data, mask,
                                 np.array(0.25), names=("x", "mask", "value"))
    m = tm.tensor(mask)
    assert_gradients_close(lambda a, v: a.masked_fill(m, v), x, tm.tensor(0.5, dtype=tm.float64,
                           requires_grad=True), names=("x", "value"))


# ----------------------------------------------------------------------------- take_along_dim
@given(tst.tensors(tst.shapes(2, 3, max_side=3)), st.data())
def test_take_along_dim_broadcasts_as_torch(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    d = dim % x.ndim
    ishape = tuple(data.draw(st.integers(1, 3)) if k == d else data.draw(st.sampled_from([1, n]))
                   for k, n in enumerate(x.shape))
    index = data.draw(tst.arrays(ishape, np.int64, st.integers(0, x.shape[d] - 1)), label="index")
    assert_matches_torch(lambda a, i: tm.take_along_dim(a, i, dim),
                         lambda a, i: __import__("torch").take_along_dim(a, i, dim),
                         x.data, index, names=("x", "index"))
    flat = index.reshape(-1) % x.data.size
    assert_matches_torch(lambda a, i: a.take_along_dim(i),
                         lambda a, i: __import__("torch").take_along_dim(a, i), x.data, flat,
                         names=("x", "index"))
    idx = tm.tensor(index)
    assert_gradients_close(lambda a: tm.take_along_dim(a, idx, dim), x, names=("x",))


# ----------------------------------------------------------------------------- kernels
@given(gather_case(), st.sampled_from([np.float32, np.float64, np.int64]))
def test_kernel_twins_agree(case, dtype):
    pytest.importorskip("numba")
    if not kernels.numba_available():
        pytest.skip("numba is not available")
    x, dim, index = case
    d = dim % x.ndim
    src = np.ascontiguousarray(x.data[tuple(slice(None) if k == d else slice(0, n)
                                            for k, n in enumerate(index.shape))]).astype(dtype)
    p, q = int(np.prod(src.shape[:d])), int(np.prod(src.shape[d + 1:]))
    src3 = src.reshape(p, src.shape[d], q)
    idx3 = index.reshape(p, index.shape[d], q)
    g = np.arange(idx3.size, dtype=dtype).reshape(idx3.shape)
    for name, args in (("gather_forward", (src3, idx3)), ("scatter_add_forward", (src3, idx3, g)),
                       ("gather_backward", (g, idx3, src3.shape[1]))):
        ref = kernels.get(name, "numpy")(*args)
        jit = kernels.get(name, "numba")(*args)
        assert ref.dtype == jit.dtype == dtype
        np.testing.assert_allclose(jit, ref, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("bad", [-1, 3])
def test_jit_kernels_guard_their_own_bounds(bad):
    if not kernels.numba_available():
        pytest.skip("numba is not available")
    src = np.zeros((1, 3, 2))
    idx = np.array([[[0, bad]]], np.int64)
    with pytest.raises(IndexError, match="gather"):
        kernels.get("gather_forward", "numba")(src, idx)
    with pytest.raises(IndexError, match="scatter_add"):
        kernels.get("scatter_add_forward", "numba")(src, idx, np.ones((1, 1, 2)))


# ----------------------------------------------------------------------------- errors
X = tm.zeros(2, 3)
I2 = tm.tensor([[0, 1], [1, 0]])


@pytest.mark.parametrize("call, exc, words", [
    (lambda: tm.gather(X, 1, tm.tensor([[0, 3]])), IndexError, "gather: index 3 is out of range"),
    (lambda: tm.gather(X, 1, tm.tensor([[-1, 0]])), IndexError, "gather: index -1"),
    (lambda: tm.gather(X, 2, I2), ValueError, "gather: dim=2 is out of range"),
    (lambda: tm.gather(X, 0, tm.tensor([0, 1])), ValueError, "gather: index has 1 dims"),
    (lambda: tm.gather(X, 0, tm.tensor([[0, 1, 0, 1]])), ValueError, "gather: index is larger"),
    (lambda: tm.gather(X, 1, tm.tensor([[0.0]])), TypeError, "gather: index must be an integer"),
    (lambda: tm.gather(X.data, 1, I2), TypeError, "gather: input must be a Tensor"),
    (lambda: X.scatter_add(1, tm.tensor([[5]]), tm.ones(1, 1)), IndexError, "scatter_add: index 5"),
    (lambda: X.scatter_add(1, I2, tm.ones(1, 2)), ValueError, "scatter_add: index is larger than src"),
    (lambda: X.scatter_add(1, I2, tm.ones(2, 2, dtype=tm.float64)), TypeError, "scatter_add: src"),
    (lambda: X.scatter(1, I2, tm.ones(2, 2), value=1.0), TypeError, "scatter: give exactly one"),
    (lambda: X.scatter(1, I2, 1.0, reduce="multiply"), ValueError, "scatter: reduce"),
    (lambda: X.scatter(-3, I2, 1.0), ValueError, "scatter: dim=-3 is out of range"),
    (lambda: X.index_select(0, tm.tensor([2])), IndexError, "index_select: index 2"),
    (lambda: X.index_select(0, I2), ValueError, "index_select: index must be 0-D or 1-D"),
    (lambda: X.masked_fill(tm.zeros(2, 3), 1.0), TypeError, "masked_fill: mask must be a bool"),
    (lambda: X.masked_fill(tm.ones(3, 2) > 0, 1.0), ValueError, "masked_fill: mask shape"),
    (lambda: X.masked_fill(X > 0, tm.ones(2)), ValueError, "masked_fill: value must be"),
    (lambda: X.masked_fill(X > 0, "a"), TypeError, "masked_fill: value must be"),
    (lambda: X.take_along_dim(tm.tensor([[0], [3]]), 1), IndexError, "take_along_dim: index 3"),
    (lambda: X.take_along_dim(tm.tensor([0]), 1), ValueError, "take_along_dim: indices must have"),
])
def test_invalid_arguments_name_the_function(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_gather_of_integers_and_zero_dim_input():
    x = tm.tensor([[1, 2], [3, 4]])
    assert x.gather(1, tm.tensor([[0, 0], [1, 0]])).tolist() == [[1, 1], [4, 3]]
    s = tm.tensor(2.5, requires_grad=True)
    out = s.gather(0, tm.tensor(0))
    assert out.shape == () and out.item() == 2.5
    out.backward()
    assert s.grad == 1.0


def test_out_of_range_index_is_an_index_error_and_a_value_error():
    """IndexOutOfRange: IndexError as the API says, ValueError for callers of earlier releases."""
    for exc in (IndexError, ValueError):
        with pytest.raises(exc, match="gather: index 3"):
            X.gather(1, tm.tensor([[3]]))
    with pytest.raises(TypeError, match="gather: input has dtype float16"):
        tm.gather(tm.tensor(np.zeros(2, np.float16)), 0, tm.tensor([0]))
