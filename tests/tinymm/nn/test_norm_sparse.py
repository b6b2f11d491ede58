"""LayerNorm and Embedding modules: parameters and init as PyTorch, parity, errors."""

import numpy as np
import pytest

import tinymm as tm
from tinymm.nn.norm import LayerNorm
from tinymm.nn.sparse import Embedding


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False},
                                    {"eps": 1e-3}])
def test_layer_norm_matches_torch(backend, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    theirs = torch.nn.LayerNorm((3, 4), dtype=torch.float64, **kwargs)
    mine = LayerNorm((3, 4), dtype=np.float64, **kwargs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():  # non-trivial affine parameters
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 5, 3, 4))
    gy = rng.standard_normal(x.shape)
    xt, xp = tm.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y_mine, y_theirs = mine(xt), theirs(xp)
    np.testing.assert_allclose(y_mine.data, y_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y_mine * tm.tensor(gy)).sum().backward()
    y_theirs.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xt.grad, xp.grad.numpy(), rtol=1e-9, atol=1e-11)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(mine.named_parameters())[name].grad, p.grad.numpy(),
                                   rtol=1e-9, atol=1e-11)


def test_layer_norm_init_and_repr():
    ln = LayerNorm(6)
    assert ln.normalized_shape == (6,) and ln.eps == 1e-5
    assert ln.weight.dtype == np.float32 and np.all(ln.weight.data == 1)
    assert np.all(ln.bias.data == 0)
    assert "elementwise_affine=True" in repr(ln) or "elementwise_affine=True" in ln.extra_repr()
    assert LayerNorm(6, elementwise_affine=False).weight is None


def test_layer_norm_bad_inputs():
    with pytest.raises(TypeError, match="LayerNorm.*normalized_shape"):
        LayerNorm("4")
    with pytest.raises(ValueError, match="LayerNorm.*normalized_shape"):
        LayerNorm(0)
    with pytest.raises(ValueError, match=r"layer_norm.*normalized_shape=\[4\]"):
        LayerNorm(4)(tm.randn(2, 3))


def test_embedding_init_and_padding():
    tm.manual_seed(0)
    emb = Embedding(1000, 16, padding_idx=-2)
    assert emb.padding_idx == 998 and emb.weight.shape == (1000, 16)
    assert np.all(emb.weight.data[998] == 0)
    w = np.delete(emb.weight.data, 998, axis=0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1)
    assert list(emb.state_dict()) == ["weight"]


def test_embedding_matches_torch(backend):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Embedding(10, 4, padding_idx=2)
    mine = Embedding(10, 4, padding_idx=2)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([[2, 5, 5, 9], [0, 2, 5, 1]])
    gy = np.random.default_rng(1).standard_normal((2, 4, 4)).astype(np.float32)
    y_mine, y_theirs = mine(tm.tensor(idx)), theirs(torch.from_numpy(idx))
    np.testing.assert_array_equal(y_mine.data, y_theirs.detach().numpy())
    (y_mine * tm.tensor(gy)).sum().backward()
    y_theirs.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(mine.weight.grad, theirs.weight.grad.numpy(), rtol=1e-6)
    assert np.all(mine.weight.grad[2] == 0)


def test_embedding_bad_inputs():
    with pytest.raises(ValueError, match="Embedding.*num_embeddings"):
        Embedding(0, 4)
    with pytest.raises(ValueError, match="Embedding.*padding_idx"):
        Embedding(5, 4, padding_idx=5)
    with pytest.raises(ValueError, match=r"embedding: index 7 .*num_embeddings=5"):
        Embedding(5, 4)(tm.tensor([1, 7]))
