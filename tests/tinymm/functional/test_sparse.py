"""embedding: PyTorch parity (forward and weight gradient) on both backends, errors."""

import numpy as np
import pytest

import tinymm as tm
from tinymm.functional.sparse import embedding
from tinymm.testing import assert_gradients_close, assert_matches_torch


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("index_shape", [(7,), (3, 5), ()])
def test_matches_torch(backend, dtype, padding_idx, index_shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 4)).astype(dtype)
    idx = rng.integers(0, 6, index_shape)
    if idx.size > 2:
        idx.reshape(-1)[:3] = [3, 3, 5]  # repeated and padding entries
    assert_matches_torch(
        lambda w: embedding(tm.tensor(idx), w, padding_idx=padding_idx),
        lambda w: torch.nn.functional.embedding(torch.from_numpy(idx), w,
                                                padding_idx=padding_idx),
        weight, names=("weight",),
    )


def test_ndarray_and_int32_indices(backend):
    weight = tm.randn(5, 3, requires_grad=True)
    idx = np.array([[4, 0], [0, 2]], np.int32)
    out = embedding(idx, weight)
    np.testing.assert_array_equal(out.data, weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad[:, 0], [2, 0, 1, 0, 1])


def test_gradcheck(backend):
    w = tm.tensor(np.random.default_rng(1).standard_normal((5, 3)), requires_grad=True)
    idx = np.array([[1, 1, 4], [0, 2, 1]])
    # no padding_idx here: its zero gradient is by design, not the derivative
    assert_gradients_close(lambda w: embedding(idx, w), w, names=("weight",))


def test_bad_inputs():
    w = tm.randn(10, 4)
    with pytest.raises(ValueError, match=r"embedding: index 12 .*num_embeddings=10"):
        embedding(np.array([1, 12, 3]), w)
    with pytest.raises(ValueError, match=r"embedding: index -1 .*num_embeddings=10"):
        embedding(np.array([1, -1]), w)
    with pytest.raises(TypeError, match="embedding.*input.*integer"):
        embedding(tm.tensor([1.0, 2.0]), w)
    with pytest.raises(TypeError, match="embedding.*input"):
        embedding([1, 2], w)
    with pytest.raises(ValueError, match="embedding.*padding_idx"):
        embedding(np.array([1]), w, padding_idx=10)
    with pytest.raises(ValueError, match="embedding.*padding_idx"):
        embedding(np.array([1]), w, padding_idx=-11)
    with pytest.raises(ValueError, match="embedding.*weight"):
        embedding(np.array([1]), tm.randn(10))
    with pytest.raises(TypeError, match="embedding.*weight"):
        embedding(np.array([1]), tm.tensor(np.ones((3, 2), np.int64)))
