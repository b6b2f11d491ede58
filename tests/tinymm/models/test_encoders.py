"""Encoders, the seed's model, and build_model's choice of encoders per modality."""

import numpy as np
import pytest

import tinymm as tm
from tinymm.data import get_dataset
from tinymm.models import (
    AudioEncoder,
    FrameEncoder,
    ImageEncoder,
    TextEncoder,
    build_model,
    seed_model,
)


def tokens(batch: int, length: int, vocab: int, lengths, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, vocab, (batch, length))
    ids[np.arange(length)[None, :] >= np.asarray(lengths)[:, None]] = 0  # right padding
    return ids


def test_image_encoder_valid_padding_shapes_match_the_seed():
    enc = ImageEncoder(3, (64, 128, 256), 224)
    assert enc.feature_shape == (256, 26, 26)
    assert enc.out_features == 173056  # the seed's Flatten at 224x224
    assert ImageEncoder(3, (64, 128, 256), 32).out_features == 256 * 2 * 2
    with pytest.raises(ValueError, match="ImageEncoder.*too small"):
        ImageEncoder(3, (8, 8, 8, 8), 16)


def test_image_encoder_forward_and_global_pool():
    tm.manual_seed(0)
    x = tm.randn(2, 1, 16, 16)
    enc = ImageEncoder(1, (4, 8), 16, padding=1)
    assert enc(x).shape == (2, 8 * 4 * 4) == (2, enc.out_features)
    pooled = ImageEncoder(1, (4, 8), 16, padding=1, global_pool=True)
    assert pooled(x).shape == (2, 8)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "transformer"])
def test_text_encoder_ignores_padding(kind):
    tm.manual_seed(0)
    enc = TextEncoder(20, embed_dim=8, hidden_size=6, kind=kind, num_heads=2)
    ids = tokens(3, 7, 20, [7, 4, 1])
    out = enc(tm.tensor(ids))
    assert out.shape == (3, enc.out_features)
    longer = np.concatenate([ids, np.zeros((3, 5), np.int64)], axis=1)  # more padding
    np.testing.assert_allclose(enc(tm.tensor(longer)).data, out.data, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert np.abs(enc.embedding.weight.grad).sum() > 0


def test_text_encoder_rejects_unknown_kind():
    with pytest.raises(ValueError, match="TextEncoder: kind"):
        TextEncoder(10, kind="cnn")


def test_audio_encoder_spectrogram_and_waveform():
    tm.manual_seed(0)
    enc = AudioEncoder(32, (8,), hidden_size=6)
    assert enc(tm.randn(2, 32, 40)).shape == (2, 6)
    wave = AudioEncoder(1, (8,), hidden_size=6, frontend=(4, 64))
    assert wave(tm.randn(2, 1, 1312)).shape == (2, 6)


@pytest.mark.parametrize("temporal", ["gru", "attention"])
def test_frame_encoder(temporal):
    tm.manual_seed(0)
    enc = FrameEncoder((1, 16, 16), (4, 8), hidden_size=8, temporal=temporal, num_heads=2)
    out = enc(tm.randn(2, 3, 1, 16, 16))
    assert out.shape == (2, 8)
    out.sum().backward()
    assert enc.frame.features[0].weight.grad is not None


def test_seed_model_runs_at_32x32():
    tm.manual_seed(0)
    model = seed_model(10, image_size=32, vocab_size=50, embed_dim=8, lstm_units=8,
                       channels=(4, 8, 16), dense=16)
    batch = {"image": np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32),
             "text": tokens(2, 20, 50, [20, 12])}
    logits = model(batch)
    assert logits.shape == (2, 10)
    assert model.fusion.out_features == 16 * 2 * 2 + 8


def test_seed_model_default_sizes_match_the_seed():
    tm.manual_seed(0)
    model = seed_model(10)
    names = dict(model.named_parameters())
    assert names["encoders.image.features.0.weight"].shape == (64, 3, 3, 3)
    assert names["encoders.image.features.6.weight"].shape == (256, 128, 3, 3)
    assert names["encoders.text.embedding.weight"].shape == (10000, 128)
    assert names["encoders.text.rnn.weight_hh_l0"].shape == (4 * 128, 128)  # PyTorch layout
    assert names["head.0.weight"].shape == (1024, 1024 + 128)
    assert names["head.2.weight"].shape == (10, 1024)


@pytest.mark.parametrize("name", ["shapes_captions", "sentiment_prosody", "spoken_digits",
                                  "video_events"])
def test_build_model_fits_every_builtin_dataset(name):
    tm.manual_seed(0)
    data = get_dataset(name, size=16)
    model = build_model(data, "concat", text_encoder="gru")
    assert model.modalities == data.modalities
    logits = model(data.get_batch(np.arange(4)))
    assert logits.shape == (4, data.num_classes)


def test_build_model_options_are_checked():
    data = get_dataset("shapes_captions", size=12)
    with pytest.raises(TypeError, match="build_model: unknown options"):
        build_model(data, image_chanels=(4,))
    with pytest.raises(ValueError, match="build_model: text_encoder"):
        build_model(data, text_encoder="bert")


def test_leaky_image_encoder_keeps_learning_where_relu_units_are_dead():
    """Every pre-activation below zero (a large negative bias): ReLU passes no gradient to the
    convolution, LeakyReLU(0.01) passes 0.01 of it — the remedy for a dead image encoder."""
    from tinymm import functional as F
    from tinymm.models.encoders import ImageEncoder

    grads = {}
    for act in ("relu", "leaky_relu"):
        tm.manual_seed(0)
        enc = ImageEncoder(1, channels=(3,), image_size=6, padding=1, activation=act).double()
        conv = enc.features[0]
        conv.bias.data[...] = -100.0
        x = tm.tensor(np.random.default_rng(0).uniform(-1, 1, (2, 1, 6, 6)))
        y = enc(x)
        y.sum().backward()
        grads[act] = np.abs(conv.weight.grad).max()
        if act == "leaky_relu":  # the forward is conv -> 0.01 * (negative) -> max pool
            pre = F.conv2d(x, conv.weight, conv.bias, padding=1).data
            want = F.max_pool2d(tm.tensor(0.01 * pre), 2).data.reshape(2, -1)
            np.testing.assert_allclose(y.data, want, rtol=1e-12)
    assert grads["relu"] == 0.0 and grads["leaky_relu"] > 0.0


def test_frame_encoder_and_build_model_pass_the_activation_on():
    from tinymm.data import get_dataset
    from tinymm.models import build_model
    from tinymm.models.encoders import FrameEncoder

    enc = FrameEncoder((1, 8, 8), channels=(4,), hidden_size=5, activation="leaky_relu")
    assert any(isinstance(m, tm.nn.LeakyReLU) for m in enc.modules())
    assert not any(isinstance(m, tm.nn.ReLU) for m in enc.frame.modules())
    data = get_dataset("video_events", split="train", size=4)
    model = build_model(data, "concat", image_activation="leaky_relu")
    kinds = {type(m).__name__ for m in model.encoders["video"].frame.modules()}
    assert "LeakyReLU" in kinds and "ReLU" not in kinds
    with pytest.raises(ValueError, match=r"build_model: image_activation must be one of .*'gelu'"):
        build_model(data, "concat", image_activation="gelu")
    with pytest.raises(ValueError, match="FrameEncoder: activation must be one of"):
        FrameEncoder((1, 8, 8), channels=(4,), activation="gelu")


def test_a_leaky_model_matches_its_pytorch_twin():
    torch = pytest.importorskip("torch")
    from tinymm.models.encoders import ImageEncoder

    tm.manual_seed(0)
    enc = ImageEncoder(3, channels=(4, 6), image_size=8, padding=1, activation="leaky_relu")
    enc = enc.double()
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    theirs = enc.features.to_torch()
    assert isinstance(theirs[1], torch.nn.LeakyReLU) and theirs[1].negative_slope == 0.01
    want = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(enc.features(tm.tensor(x)).data, want, rtol=1e-10, atol=1e-12)
