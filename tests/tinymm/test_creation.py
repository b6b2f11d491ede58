"""Tensor factories: PyTorch's signatures and dtype defaults, seeded randomness, errors."""

import numpy as np
import pytest

import tinymm as tm


@pytest.mark.parametrize("factory,value", [(tm.zeros, 0.0), (tm.ones, 1.0)])
def test_zeros_ones(factory, value):
    for args in ((2, 3), ((2, 3),), ([2, 3],)):
        t = factory(*args)
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
        np.testing.assert_array_equal(t.data, value)
    assert factory(4, dtype=tm.float64).dtype == np.float64
    assert factory(4, dtype=tm.int64).dtype == np.int64
    t = factory(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert factory().shape == ()
    assert factory(0, 3).shape == (0, 3)


def test_full():
    assert tm.full((2, 2), 1.5).dtype == np.float32
    assert tm.full((2,), 3).dtype == np.int64
    assert tm.full((2,), True).dtype == np.bool_
    assert tm.full(3, 2.0, dtype=tm.float64).shape == (3,)
    np.testing.assert_array_equal(tm.full((2, 3), 7.0).data, 7.0)


@pytest.mark.parametrize("factory", [tm.randn, tm.rand])
def test_random_factories_follow_manual_seed(factory):
    tm.manual_seed(123)
    a = factory(3, 4)
    b = factory(3, 4)
    tm.manual_seed(123)
    c = factory(3, 4)
    np.testing.assert_array_equal(a.data, c.data)
    assert not np.array_equal(a.data, b.data)
    assert a.dtype == np.float32 and factory(2, dtype=tm.float64).dtype == np.float64
    assert factory(2, requires_grad=True).requires_grad


def test_rand_and_randn_distributions():
    tm.manual_seed(0)
    u = tm.rand(10000, dtype=tm.float64).data
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    z = tm.randn(10000, dtype=tm.float64).data
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_arange_dtypes_as_torch():
    np.testing.assert_array_equal(tm.arange(4).data, [0, 1, 2, 3])
    assert tm.arange(4).dtype == np.int64
    assert tm.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert tm.arange(0, 1, 0.25).dtype == np.float32
    assert tm.arange(0.0, 3).dtype == np.float32
    assert tm.arange(3, dtype=tm.float64).dtype == np.float64
    assert tm.arange(3, 0, -1).tolist() == [3, 2, 1]


def test_like_factories():
    x = tm.randn(2, 3, dtype=tm.float64)
    for fn, v in ((tm.zeros_like, 0.0), (tm.ones_like, 1.0)):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and not y.requires_grad
        np.testing.assert_array_equal(y.data, v)
        assert fn(x, dtype=tm.float32).dtype == np.float32
        assert fn(x, requires_grad=True).requires_grad


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t = tm.tensor(a)
    a[0] = 9.0
    assert t.data[0] == 0.0
    s = tm.from_numpy(a)
    a[1] = 7.0
    assert s.data[1] == 7.0 and s.dtype == np.float64


def test_tensor_dtype_inference_as_torch_tensor():
    assert tm.tensor(1.5).dtype == np.float32
    assert tm.tensor([1.0, 2]).dtype == np.float32
    assert tm.tensor(3).dtype == np.int64
    assert tm.tensor([[1, 2]]).dtype == np.int64
    assert tm.tensor([True, False]).dtype == np.bool_
    assert tm.tensor(np.zeros(2)).dtype == np.float64  # NumPy arrays keep their dtype
    assert tm.tensor(np.zeros(2, np.int32)).dtype == np.int32
    assert tm.tensor(np.float64(1.0)).dtype == np.float64
    assert tm.tensor([1.0], dtype=tm.float64).dtype == np.float64
    assert tm.tensor(tm.tensor([1, 2])).dtype == np.int64


def test_factories_reject_bad_arguments():
    for fn in (tm.zeros, tm.ones, tm.randn, tm.rand):
        name = fn.__name__
        with pytest.raises(ValueError, match=f"{name}: size must be >= 0, got -1"):
            fn(2, -1)
        with pytest.raises(TypeError, match=f"{name}: size must be an int, got float"):
            fn(2.0)
        with pytest.raises(TypeError, match=f"{name}: dtype must be a NumPy dtype"):
            fn(2, dtype="tensor")
    with pytest.raises(TypeError, match="zeros: only floating-point tensors can require grad"):
        tm.zeros(2, dtype=tm.int64, requires_grad=True)
    with pytest.raises(ValueError, match="full: size must be >= 0"):
        tm.full((-1,), 1.0)
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        tm.arange(0, 3, 0)
    for fn in (tm.zeros_like, tm.ones_like):
        with pytest.raises(TypeError, match=f"{fn.__name__}: input must be a Tensor, got ndarray"):
            fn(np.zeros(2))
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        tm.from_numpy([1.0])
    with pytest.raises(TypeError, match="tensor: data must be numeric, got an array of dtype"):
        tm.tensor(["a"])
    with pytest.raises(TypeError, match="tensor: only floating-point tensors can require "
                                        "gradients, got dtype int64"):
        tm.tensor([1], requires_grad=True)
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from list"):
        tm.tensor([[1.0], [2.0, 3.0]])


def test_manual_seed_rejects_bad_seeds():
    with pytest.raises(TypeError, match="manual_seed: seed must be an int, got float"):
        tm.manual_seed(1.5)
    with pytest.raises(ValueError, match="manual_seed: seed must be >= 0, got -1"):
        tm.manual_seed(-1)
