"""Gradient attributions: saliency equals finite differences, integrated gradients satisfy
completeness, input x gradient and occlusion equal their definitions on models whose answer
is known, and multimodal batches (images, tokens through the embedding) work."""

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn
from tinymm.explain import InputXGradient, IntegratedGradients, Occlusion, Saliency


def _mlp():
    tm.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def _finite_difference(model, x, target, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        f = lambda a: model(tm.tensor(a)).data[np.arange(x.shape[0]), target]
        grad[idx] = ((f(plus) - f(minus)) / (2 * eps))[idx[0]]
    return grad


def test_saliency_equals_finite_differences():
    model = _mlp()
    x = np.random.default_rng(0).standard_normal((4, 5))
    target = np.array([0, 2, 1, 1])
    signed = Saliency(model).attribute(x, target=target, abs=False)
    np.testing.assert_allclose(signed, _finite_difference(model, x, target), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(Saliency(model).attribute(x, target=target), np.abs(signed))


def test_default_target_is_the_predicted_class():
    model = _mlp()
    x = np.random.default_rng(1).standard_normal((6, 5))
    pred = model(tm.tensor(x)).data.argmax(axis=1)
    np.testing.assert_array_equal(Saliency(model).attribute(x), Saliency(model).attribute(x, target=pred))


def test_input_x_gradient_is_input_times_gradient():
    model = _mlp()
    x = np.random.default_rng(2).standard_normal((3, 5))
    grads = Saliency(model).attribute(x, target=1, abs=False)
    np.testing.assert_allclose(InputXGradient(model).attribute(x, target=1), x * grads)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_integrated_gradients_complete_within_one_percent(method):
    model = _mlp()
    rng = np.random.default_rng(3)
    x, base = rng.standard_normal((8, 5)) * 2, rng.standard_normal((8, 5)) * 0.1
    attr, delta = IntegratedGradients(model).attribute(
        x, baselines=base, target=2, method=method, return_convergence_delta=True)
    with tm.no_grad():
        gap = model(tm.tensor(x)).data[:, 2] - model(tm.tensor(base)).data[:, 2]
    np.testing.assert_allclose(attr.sum(axis=1) - gap, delta, atol=1e-12)
    assert np.all(np.abs(delta) <= 0.01 * np.abs(gap) + 1e-9)


def test_integrated_gradients_of_a_linear_model_are_exact():
    tm.manual_seed(4)
    lin = nn.Linear(4, 2).double()
    x = np.random.default_rng(4).standard_normal((3, 4))
    attr = IntegratedGradients(lin).attribute(x, target=1, n_steps=2)
    np.testing.assert_allclose(attr, x * lin.weight.data[1], rtol=1e-12)


def test_occlusion_of_a_linear_model_is_the_mean_window_contribution():
    tm.manual_seed(5)
    lin = nn.Linear(6, 1).double()
    model = lambda x: lin(x)[:, 0]
    x = np.random.default_rng(5).standard_normal((2, 6))
    attr = Occlusion(model).attribute(x, sliding_window_shapes=(1,))
    np.testing.assert_allclose(attr, x * lin.weight.data[0], rtol=1e-12)
    wide = Occlusion(model).attribute(x, sliding_window_shapes=(2,), strides=(2,))
    contrib = x * lin.weight.data[0]
    pairs = contrib.reshape(2, 3, 2).sum(axis=2)
    np.testing.assert_allclose(wide, np.repeat(pairs, 2, axis=1), rtol=1e-12)


class _BagOfWords(nn.Module):
    """Embedding -> mean over tokens -> Linear -> tanh: a smooth text encoder."""

    def __init__(self, vocab, dim, out):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.proj = nn.Linear(dim, out)

    def forward(self, tokens):
        return self.proj(self.embedding(tokens).mean(dim=1)).tanh()


def _multimodal():
    """A smooth image + text classifier on shapes_captions batches (float64)."""
    from tinymm.data import get_dataset
    from tinymm.models import MultimodalClassifier
    from tinymm.models.fusion import ConcatFusion
    tm.manual_seed(6)
    data = get_dataset("shapes_captions", split="test", size=6)
    encoders = {"image": nn.Sequential(nn.Flatten(), nn.Linear(256, 16), nn.Tanh()),
                "text": _BagOfWords(data.vocab_size, 8, 16)}
    model = MultimodalClassifier(encoders, ConcatFusion({"image": 16, "text": 16}),
                                 nn.Sequential(nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 12)))
    batch = data.get_batch(np.arange(6))
    batch["image"] = batch["image"].astype(np.float64)
    return model.double().eval(), batch


def test_multimodal_integrated_gradients_over_pixels_and_token_embeddings():
    model, batch = _multimodal()
    emb = model.encoders["text"].embedding
    attr, delta = IntegratedGradients(model).attribute(batch, layers={"text": emb},
                                                       return_convergence_delta=True)
    assert set(attr) == {"image", "text"}
    assert attr["image"].shape == batch["image"].shape
    assert attr["text"].shape == batch["text"].shape + (emb.embedding_dim,)
    total = attr["image"].reshape(6, -1).sum(1) + attr["text"].reshape(6, -1).sum(1)
    with tm.no_grad():
        full = model(batch).data
        pred = full.argmax(axis=1)
        base = dict(batch, image=np.zeros_like(batch["image"]), text=np.zeros_like(batch["text"]))
        start = model(base).data  # zero image, every token the padding token (id 0)
    gap = full[np.arange(6), pred] - start[np.arange(6), pred]
    np.testing.assert_allclose(total - delta, gap, rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(delta) <= 0.01 * np.abs(gap))  # completeness at the default 50 steps
    saliency = Saliency(model).attribute(batch, layers={"text": emb})
    assert np.all(saliency["image"] >= 0) and saliency["text"].shape == attr["text"].shape


def test_bad_arguments_are_named():
    model = _mlp()
    with pytest.raises(TypeError, match="Saliency: forward_func must be callable"):
        Saliency(3)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        IntegratedGradients(model).attribute(np.zeros((1, 5)), n_steps=0)
    with pytest.raises(ValueError, match="method must be"):
        IntegratedGradients(model).attribute(np.zeros((1, 5)), method="simpson")
    with pytest.raises(IndexError, match=r"target must be in \[0, 3\)"):
        Saliency(model).attribute(np.zeros((1, 5)), target=3)
    with pytest.raises(ValueError, match="nothing to attribute"):
        Saliency(model).attribute(np.zeros((1, 5), np.int64))
    with pytest.raises(ValueError, match="sliding window"):
        Occlusion(model).attribute(np.zeros((1, 5)), sliding_window_shapes=(6,))
