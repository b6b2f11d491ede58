"""Everyday conveniences with PyTorch's behaviour: method forms of the arithmetic, t(),
new_* factories, uniform_/normal_/scatter_ in place, type(), dtype aliases, legacy constructors."""

import numpy as np
import pytest

import tinymm as tm


def test_method_forms_equal_the_operators_and_torch():
    torch = pytest.importorskip("torch")
    a, b = np.random.default_rng(0).standard_normal((2, 3, 3))
    x, y = tm.tensor(a), tm.tensor(b)
    tx, ty = torch.from_numpy(a), torch.from_numpy(b)
    for name in ("matmul", "mul", "add", "sub", "div"):
        np.testing.assert_allclose(getattr(x, name)(y).data, getattr(tx, name)(ty).numpy())
    np.testing.assert_allclose(x.pow(2).data, tx.pow(2).numpy())
    np.testing.assert_allclose(x.add(y, alpha=2).data, tx.add(ty, alpha=2).numpy())
    np.testing.assert_array_equal(x.t().data, tx.t().numpy())
    np.testing.assert_array_equal(tm.tensor([1.0, 2.0]).t().data, [1.0, 2.0])
    with pytest.raises(ValueError, match="t: expects a tensor with <= 2 dimensions"):
        tm.zeros(2, 2, 2).t()


def test_new_factories_keep_the_dtype():
    x = tm.zeros(2, dtype=tm.float64)
    assert x.new_ones(2, 3).shape == (2, 3) and x.new_ones((2, 3)).dtype == np.float64
    assert x.new_zeros(4).data.sum() == 0 and x.new_full((2,), 7).data.tolist() == [7.0, 7.0]
    assert x.new_tensor([1, 2]).dtype == np.float64 and x.new_empty(3).shape == (3,)
    assert x.new_ones(2, dtype=tm.int64).dtype == np.int64


def test_in_place_fills_follow_the_in_place_rules():
    w = tm.zeros(1000)
    version = w._version
    w.uniform_(-0.5, 0.5)
    assert w._version == version + 1 and -0.5 <= w.data.min() and w.data.max() < 0.5
    assert abs(w.data.mean()) < 0.05
    w.normal_(2.0, 0.1)
    assert abs(w.data.mean() - 2.0) < 0.02
    leaf = tm.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.uniform_()
    with tm.no_grad():
        leaf.uniform_()  # initialisation, as PyTorch users write it


def test_scatter_in_place_matches_torch():
    torch = pytest.importorskip("torch")
    idx = np.array([[0, 1, 2, 0]])
    src = np.arange(1.0, 5.0).reshape(1, 4)
    x = tm.zeros(3, 4, dtype=tm.float64)
    x.scatter_(0, tm.tensor(idx), tm.tensor(src))
    tx = torch.zeros(3, 4, dtype=torch.float64)
    tx.scatter_(0, torch.from_numpy(idx), torch.from_numpy(src))
    np.testing.assert_array_equal(x.data, tx.numpy())


def test_type_aliases_and_legacy_constructors():
    x = tm.tensor([1.0])
    assert x.type() == "tinymm.FloatTensor" and x.type(tm.double).dtype == np.float64
    assert (tm.float, tm.double, tm.long, tm.int) == (np.float32, np.float64, np.int64, np.int32)
    assert tm.LongTensor([1, 2]).dtype == np.int64 and tm.LongTensor(2, 3).shape == (2, 3)
    assert tm.FloatTensor([[1, 2]]).dtype == np.float32
    with pytest.raises(TypeError, match="LongTensor: expected sizes"):
        tm.LongTensor([1], [2])
