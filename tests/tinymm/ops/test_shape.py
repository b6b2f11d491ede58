"""Shape ops, indexing, cat, stack and where: gradients, PyTorch parity, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst


def _both(fn, x, torch_fn=None, names=("x",)):
    """Gradient check, then PyTorch parity when torch is installed."""
    assert_gradients_close(fn, x, names=names)
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert_matches_torch(fn, torch_fn or fn, x.data, names=names)


# ----------------------------------------------------------------------------- views
@st.composite
def reshape_target(draw, shape):
    """Another shape with the same number of elements, possibly using -1."""
    n = math.prod(shape)
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = draw(st.sampled_from(divisors))
    target = draw(st.sampled_from([(d, n // d), (n // d, d, 1), (n,), (1, n)]))
    if draw(st.booleans()):
        target = tuple(-1 if i == 0 else s for i, s in enumerate(target))
    return target


@given(st.data())
def test_reshape_and_view(data):
    x = data.draw(tst.tensors(tst.shapes(0, 3)), label="x")
    target = data.draw(reshape_target(x.shape))
    _both(lambda t: t.reshape(*target), x)
    _both(lambda t: t.contiguous().view(target), x)
    assert x.reshape(target).shape == np.empty(x.shape).reshape(target).shape


@given(st.data())
def test_view_refuses_exactly_where_torch_does(data):
    """Same strides in both libraries (torch.from_numpy keeps them): view works or raises alike."""
    torch = pytest.importorskip("torch")
    shape = data.draw(tst.shapes(1, 4, max_side=4), label="shape")
    base = np.arange(math.prod(shape) * 4, dtype=np.float32)
    arr = base[: math.prod(shape)].reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    arr = arr.transpose(perm)
    if data.draw(st.booleans(), label="sliced") and arr.shape[-1] > 1:
        arr = arr[..., ::2]
    target = data.draw(reshape_target(arr.shape), label="target")
    try:
        expected = torch.from_numpy(arr).view(target)
    except RuntimeError:
        with pytest.raises(ValueError, match=r"view: .*use \.reshape"):
            tm.from_numpy(arr).view(target)
    else:
        got = tm.from_numpy(arr).view(target)
        assert got.shape == tuple(expected.shape)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        assert np.shares_memory(got.numpy(), arr)


def test_view_after_transpose_points_to_reshape():
    x = tm.randn(3, 4).T
    with pytest.raises(ValueError, match=r"view: .*use \.reshape"):
        x.view(12)
    assert x.reshape(12).shape == (12,)
    assert tm.randn(3, 4).T.view(4, 3).shape == (4, 3)


@given(tst.tensors(tst.shapes(1, 4)), st.data())
def test_flatten(x, data):
    start = data.draw(st.integers(-x.ndim, x.ndim - 1))
    end = data.draw(st.integers(start % x.ndim, x.ndim - 1))
    _both(lambda t: t.flatten(start, end), x)
    _both(lambda t: t.flatten(), x)


@given(tst.tensors(tst.shapes(1, 4)), st.data())
def test_transpose_permute_and_T(x, data):
    d0 = data.draw(st.integers(-x.ndim, x.ndim - 1))
    d1 = data.draw(st.integers(-x.ndim, x.ndim - 1))
    perm = data.draw(st.permutations(range(x.ndim)))
    _both(lambda t: t.transpose(d0, d1), x)
    _both(lambda t: t.permute(*perm), x)
    _both(lambda t: t.permute(perm), x)
    if x.ndim == 2:
        _both(lambda t: t.T, x)
    np.testing.assert_array_equal(x.T.data, x.data.T)


@given(tst.tensors(tst.shapes(0, 3, max_side=3)), st.data())
def test_unsqueeze_squeeze(x, data):
    d = data.draw(st.integers(-x.ndim - 1, x.ndim))
    _both(lambda t: t.unsqueeze(d), x)
    y = x.unsqueeze(d)
    _both(lambda t: t.unsqueeze(d).squeeze(d), x)
    _both(lambda t: t.unsqueeze(d).squeeze(), x)
    assert y.squeeze(d).shape == x.shape


@given(st.data())
def test_expand(data):
    small, big = data.draw(tst.broadcastable_shapes(2, 1, 3, max_side=3))
    big = np.broadcast_shapes(small, big)
    x = data.draw(tst.tensors(small), label="x")
    lead = len(big) - len(small)
    sizes = tuple(-1 if i >= lead and small[i - lead] == n and data.draw(st.booleans()) else n
                  for i, n in enumerate(big))
    _both(lambda t: t.expand(*sizes), x)
    assert x.expand(*sizes).shape == big


# ----------------------------------------------------------------------------- indexing
@st.composite
def basic_index(draw, shape, torch_safe):
    """A basic index: per dim an int, a slice (negative steps unless torch_safe) or ':'."""
    items = []
    for n in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            steps = [1, 2] if torch_safe else [1, 2, -1, -2]
            items.append(slice(draw(st.none() | st.integers(-n, n)),
                               draw(st.none() | st.integers(-n, n)),
                               draw(st.sampled_from(steps))))
        else:
            items.append(slice(None))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.booleans()):
        items.append(Ellipsis)
    return tuple(items)


@given(tst.tensors(tst.shapes(1, 3)), st.data())
def test_basic_indexing_gradient(x, data):
    index = data.draw(basic_index(x.shape, torch_safe=False))
    assert_gradients_close(lambda t: t[index], x, names=("x",))
    np.testing.assert_array_equal(x[index].data, x.data[index])


@given(tst.tensors(tst.shapes(1, 3)), st.data())
def test_basic_indexing_matches_torch(x, data):
    pytest.importorskip("torch")
    index = data.draw(basic_index(x.shape, torch_safe=True))
    assert_matches_torch(lambda t: t[index], lambda t: t[index], x.data)


@given(tst.tensors(tst.shapes(1, 3)), st.data())
def test_integer_array_indexing_accumulates_repeats(x, data):
    n = x.shape[0]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    for index in (idx, (idx, Ellipsis), tm.tensor(idx), list(idx)):
        assert_gradients_close(lambda t, index=index: t[index], x, names=("x",))
    y = x[idx]
    y.backward(np.ones(y.shape))
    counts = np.bincount(idx % n, minlength=n).astype(float)
    np.testing.assert_array_equal(x.grad, np.broadcast_to(
        counts.reshape((n,) + (1,) * (x.ndim - 1)), x.shape))
    if pytest.importorskip("torch"):
        import torch

        assert_matches_torch(lambda t: t[idx], lambda t: t[torch.from_numpy(idx)], x.data)


def test_mixed_and_boolean_indexing():
    x = tm.randn(3, 4, dtype=tm.float64, requires_grad=True)
    rows, cols = np.array([0, 2, 0]), np.array([1, 1, 1])
    for index in ((rows, cols), (slice(None), cols), (rows, slice(1, 3)),
                  x.data > 0, (np.array([True, False, True]), slice(None))):
        assert_gradients_close(lambda t, index=index: t[index], x)
    y = x[rows, cols]
    y.sum().backward()
    assert x.grad[0, 1] == 2 and x.grad[2, 1] == 1 and x.grad.sum() == 3


# ----------------------------------------------------------------------------- cat, stack, where
@given(st.data(), st.integers(1, 3))
def test_cat(data, count):
    base = data.draw(tst.shapes(1, 3, max_side=3))
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    shapes = []
    for _ in range(count):
        s = list(base)
        s[dim] = data.draw(st.integers(1, 3))
        shapes.append(tuple(s))
    ts = [data.draw(tst.tensors(s), label=f"t{i}") for i, s in enumerate(shapes)]
    names = [f"t{i}" for i in range(count)]
    assert_gradients_close(lambda *a: tm.cat(list(a), dim), *ts, names=names)
    np.testing.assert_array_equal(tm.cat(ts, dim=dim).data,
                                  np.concatenate([t.data for t in ts], axis=dim))
    try:
        import torch
    except ImportError:
        return
    assert_matches_torch(lambda *a: tm.cat(a, dim), lambda *a: torch.cat(a, dim),
                         *[t.data for t in ts], names=names)


@given(st.data(), st.integers(1, 3))
def test_stack(data, count):
    shape = data.draw(tst.shapes(0, 3, max_side=3))
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ts = [data.draw(tst.tensors(shape), label=f"t{i}") for i in range(count)]
    names = [f"t{i}" for i in range(count)]
    assert_gradients_close(lambda *a: tm.stack(list(a), dim), *ts, names=names)
    try:
        import torch
    except ImportError:
        return
    assert_matches_torch(lambda *a: tm.stack(a, dim), lambda *a: torch.stack(a, dim),
                         *[t.data for t in ts], names=names)


@given(st.data())
def test_where(data):
    sc, sa, sb = data.draw(tst.broadcastable_shapes(3, 0, 3, max_side=3))
    cond = data.draw(tst.arrays(sc, np.bool_), label="cond")
    a = data.draw(tst.tensors(sa), label="a")
    b = data.draw(tst.tensors(sb), label="b")
    assert_gradients_close(lambda x, y: tm.where(cond, x, y), a, b, names=("a", "b"))
    assert_gradients_close(lambda x: tm.where(tm.tensor(cond), x, 0.5), a, names=("a",))
    try:
        import torch
    except ImportError:
        return
    tc = torch.from_numpy(cond)
    assert_matches_torch(lambda x, y: tm.where(cond, x, y), lambda x, y: torch.where(tc, x, y),
                         a.data, b.data, names=("a", "b"))


def test_cat_stack_where_dtypes():
    a = tm.randn(2, 3)
    assert tm.cat([a, a]).dtype == np.float32 and tm.stack([a, a], 1).shape == (2, 2, 3)
    assert tm.where(a > 0, a, 0.0).dtype == np.float32


# ----------------------------------------------------------------------------- bad input
def test_shape_ops_reject_bad_arguments():
    x = tm.randn(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(TypeError, match="reshape: shape must be an int, got float"):
        x.reshape(2.0, 3)
    with pytest.raises(ValueError, match="flatten: start_dim \\(1\\) comes after end_dim"):
        x.flatten(1, 0)
    with pytest.raises(ValueError, match="flatten: start_dim=5 is out of range"):
        x.flatten(5)
    with pytest.raises(ValueError, match="permute: dims \\(0, 0\\) are not a permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="transpose: dim1=2 is out of range"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match="unsqueeze: dim=3 is out of range"):
        x.unsqueeze(3)
    with pytest.raises(ValueError, match="squeeze: dim=-3 is out of range"):
        x.squeeze(-3)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match="expand: 1 sizes given for a 2-D tensor"):
        x.expand(6)
    with pytest.raises(IndexError, match=r"getitem: invalid index for a tensor of shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="getitem: invalid index"):
        x["a"]


def test_cat_rejects_zero_dim_tensors_naming_cat():
    with pytest.raises(ValueError, match="cat: .*zero-dim"):
        tm.cat([tm.tensor(1.0), tm.tensor(2.0)])


def test_cat_stack_where_reject_bad_arguments():
    a, b = tm.randn(2, 3), tm.randn(2, 4)
    with pytest.raises(ValueError, match=r"cat: tensors\[1\] has shape \(2, 4\)"):
        tm.cat([a, b], dim=0)
    with pytest.raises(TypeError, match="cat: tensors must be a list or tuple of Tensors"):
        tm.cat(a)
    with pytest.raises(TypeError, match=r"cat: tensors\[1\] must be a Tensor, got ndarray"):
        tm.cat([a, np.ones((2, 3))])
    with pytest.raises(ValueError, match="cat: expected a non-empty list"):
        tm.cat([])
    with pytest.raises(ValueError, match="cat: dim=2 is out of range"):
        tm.cat([a, a], dim=2)
    with pytest.raises(ValueError, match=r"stack: tensors\[1\] has shape \(2, 4\), expected"):
        tm.stack([a, b])
    with pytest.raises(ValueError, match="stack: dim=3 is out of range"):
        tm.stack([a, a], dim=3)
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got dtype"):
        tm.where(a, a, a)
    with pytest.raises(ValueError, match=r"where: shapes .* do not broadcast"):
        tm.where(a > 0, a, b)
    with pytest.raises(TypeError, match="where: unsupported operand of type str"):
        tm.where(a > 0, a, "b")
