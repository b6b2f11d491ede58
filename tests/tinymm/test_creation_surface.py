"""The second round of factories (eye, linspace, randint, randperm, empty, *_like) and
``tm.Generator``: PyTorch's signatures, dtypes and values where they are deterministic,
reproducible streams where they are random, and errors naming the function."""

import numpy as np
import pytest

import tinymm as tm

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (3, 0)])
def test_eye_matches_torch(args):
    ours, theirs = tm.eye(*args), torch.eye(*args)
    assert ours.dtype == tm.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert tm.eye(2, dtype=tm.int64).dtype == tm.int64


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-2.5, 3, 7), (1, 1, 3), (0, 1, 1),
                                               (5, -5, 4), (0, 1, 0)])
def test_linspace_matches_torch(start, end, steps):
    ours, theirs = tm.linspace(start, end, steps), torch.linspace(start, end, steps)
    assert ours.dtype == tm.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(tm.linspace(start, end, steps, dtype=tm.int64).data,
                                  torch.linspace(start, end, steps, dtype=torch.int64).numpy())


def test_randint_signatures_range_and_dtype():
    tm.manual_seed(0)
    a = tm.randint(5, (200,))
    b = tm.randint(-3, 4, (10, 20))
    c = tm.randint(2, 3, size=(4,))
    assert a.dtype == tm.int64 and a.shape == (200,)
    assert set(np.unique(a.data)) == set(range(5))  # 200 draws of 5 values: all appear
    assert b.shape == (10, 20) and b.data.min() >= -3 and b.data.max() <= 3
    np.testing.assert_array_equal(c.data, 2)
    assert tm.randint(0, 2, (3,), dtype=tm.int32).dtype == tm.int32


def test_randperm_is_a_permutation():
    p = tm.randperm(50)
    assert p.dtype == tm.int64
    np.testing.assert_array_equal(np.sort(p.data), np.arange(50))
    assert tm.randperm(0).shape == (0,)


def test_empty_and_like_factories_keep_shape_and_dtype():
    x = tm.zeros(2, 3, dtype=tm.float64)
    assert tm.empty(2, 3).shape == (2, 3) and tm.empty((4,)).dtype == tm.float32
    assert tm.empty_like(x).shape == (2, 3) and tm.empty_like(x).dtype == tm.float64
    full = tm.full_like(tm.zeros(2, dtype=tm.int64), 2.7)
    np.testing.assert_array_equal(full.data, torch.full_like(torch.zeros(2, dtype=torch.int64),
                                                             2.7).numpy())
    assert full.dtype == tm.int64
    assert tm.full_like(x, 1.5, requires_grad=True).requires_grad
    for like in (tm.rand_like, tm.randn_like):
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == tm.float64
    u = tm.rand_like(tm.zeros(1000))
    assert u.data.min() >= 0 and u.data.max() < 1


def test_generator_streams_are_reproducible_and_private():
    g = tm.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    tm.manual_seed(0)
    first = [tm.randn(3, generator=g), tm.rand(2, generator=g), tm.randint(0, 9, (4,), generator=g),
             tm.randperm(5, generator=g), tm.randn_like(tm.zeros(2), generator=g)]
    after_global = tm.randn(3)
    g.manual_seed(7)
    tm.manual_seed(0)
    tm.randn(10)  # moving the global stream does not move g's
    second = [tm.randn(3, generator=g), tm.rand(2, generator=g), tm.randint(0, 9, (4,), generator=g),
              tm.randperm(5, generator=g), tm.randn_like(tm.zeros(2), generator=g)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.data, b.data)
    tm.manual_seed(0)
    np.testing.assert_array_equal(tm.randn(3).data, after_global.data)  # g did not move it
    h = tm.Generator().manual_seed(8)
    assert not np.array_equal(tm.randn(3, generator=h).data, first[0].data)
    state = g.get_state()
    x = tm.rand(4, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(tm.rand(4, generator=g).data, x.data)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: tm.eye(-1), ValueError, "eye: n must be >= 0"),
    (lambda: tm.eye(2.0), TypeError, "eye: n must be an int"),
    (lambda: tm.linspace(0, 1, -1), ValueError, "linspace: steps must be >= 0"),
    (lambda: tm.linspace("a", 1, 2), TypeError, "linspace: start must be a number"),
    (lambda: tm.randint(3, 3, (2,)), ValueError, "randint: high"),
    (lambda: tm.randint(3), TypeError, "randint: expected"),
    (lambda: tm.randint(3, 2), TypeError, "randint: size must be a tuple"),
    (lambda: tm.randperm(-1), ValueError, "randperm: n must be >= 0"),
    (lambda: tm.randn(2, generator=np.random.default_rng()), TypeError, "randn: generator must"),
    (lambda: tm.randn(2, dtype=tm.int64), TypeError, "randn: dtype must be a floating dtype"),
    (lambda: tm.randn_like(tm.zeros(2, dtype=tm.int64)), TypeError, "randn_like: dtype must be"),
    (lambda: tm.full_like(np.zeros(2), 1.0), TypeError, "full_like: input must be a Tensor"),
    (lambda: tm.Generator().manual_seed(-1), ValueError, "Generator.manual_seed: seed must be >= 0"),
    (lambda: tm.Generator("cuda"), ValueError, "Generator: only device='cpu'"),
])
def test_invalid_arguments_name_the_function(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
