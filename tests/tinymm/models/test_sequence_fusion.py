"""Encoder sequences and the MulT cross-modal Transformer fusion ("mult").

Padding never changes the output, a missing modality is the same as no tokens at all,
the all-masked case stays finite, gradients (checked against finite differences in
float64) reach every encoder, and the fusion learns an XOR between two sequences that no
additive combination of the modalities can.
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.data import MultimodalDataset, get_dataset
from tinymm.models import (
    FUSION_CHOICES,
    FUSIONS,
    AudioEncoder,
    CrossModalBlock,
    FrameEncoder,
    ImageEncoder,
    MulTFusion,
    PooledAttentionFusion,
    TextEncoder,
    VectorEncoder,
    build_model,
    make_fusion,
)
from tinymm.models.fusion_sequence import sinusoidal_positions
from tinymm.train import Reporter, Trainer, ablation

SIZES = {"a": 5, "b": 3, "c": 4}
LENGTHS = {"a": 4, "b": 6, "c": 1}


def sequences(batch: int, seed: int = 0, dtype=np.float32):
    """(seq, valid) per modality of SIZES; row 1 of "a" and row 2 of "b" end with padding."""
    rng = np.random.default_rng(seed)
    out = []
    for name, d in SIZES.items():
        t = LENGTHS[name]
        valid = np.ones((batch, t), bool)
        if name == "a":
            valid[1, 2:] = False
        if name == "b":
            valid[2, 1:] = False
        out.append((tm.tensor(rng.standard_normal((batch, t, d)).astype(dtype)), valid))
    return out


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]], bool)


def small_mult(sizes=None, **options) -> MulTFusion:
    tm.manual_seed(0)
    fusion = MulTFusion(sizes or SIZES, **{"dim": 8, "num_heads": 2, **options})
    return fusion.eval()


# ----------------------------------------------------------------------------- encoders
def test_every_encoder_returns_the_sequence_its_pooled_vector_is_read_from():
    tm.manual_seed(0)
    image = ImageEncoder(1, (4, 6), 16, padding=1)
    x = tm.randn(2, 1, 16, 16)
    seq, valid = image.sequence(x)
    assert seq.shape == (2, 16, 6) and image.seq_features == 6 and valid.all()
    np.testing.assert_array_equal(seq.data.transpose(0, 2, 1).reshape(2, -1), image(x).data)

    ids = np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    for kind in ("gru", "transformer"):
        text = TextEncoder(10, embed_dim=8, hidden_size=6, kind=kind, num_heads=2)
        seq, valid = text.sequence(tm.tensor(ids))
        assert seq.shape == (3, 5, text.seq_features)
        pooled = text(tm.tensor(ids)).data
        if kind == "gru":
            np.testing.assert_array_equal(valid, ids != 0)
            np.testing.assert_array_equal(pooled[:2], seq.data[[0, 1], [2, 0]])
        else:  # the all-padding row keeps token 0, as the pooled path does
            np.testing.assert_array_equal(valid[:2], ids[:2] != 0)
            assert valid[2].tolist() == [True, False, False, False, False]
            w = valid / valid.sum(axis=1, keepdims=True)
            np.testing.assert_allclose(pooled, np.einsum("bt,btd->bd", w, seq.data), rtol=1e-5,
                                       atol=1e-6)

    audio = AudioEncoder(32, (8,), hidden_size=6)
    a = tm.randn(2, 32, 40)
    seq, valid = audio.sequence(a)
    assert seq.shape == (2, 20, 6) and valid.all()
    np.testing.assert_array_equal(seq.data[:, -1], audio(a).data)

    v = tm.randn(2, 3, 1, 16, 16)
    for temporal in ("gru", "attention"):
        frames = FrameEncoder((1, 16, 16), (4, 8), hidden_size=8, temporal=temporal, num_heads=2)
        seq, valid = frames.sequence(v)
        assert seq.shape == (2, 3, 8) and valid.all()
        expected = seq.data.mean(axis=1) if temporal == "attention" else seq.data[:, -1]
        np.testing.assert_allclose(frames(v).data, expected, rtol=1e-6, atol=1e-7)

    vec = VectorEncoder(5, 7)
    x = tm.randn(3, 5)
    seq, valid = vec.sequence(x)
    assert seq.shape == (3, 1, 7) and valid.shape == (3, 1)
    np.testing.assert_array_equal(seq.data[:, 0], vec(x).data)
    assert set(vec.state_dict()) == {"0.weight", "0.bias"}  # the Sequential's keys, as before


# ----------------------------------------------------------------------------- the fusion
@pytest.mark.parametrize("embed", ["norm", "scale"])
@pytest.mark.parametrize("sizes", [{"a": 5}, {"a": 5, "b": 3}, SIZES])
def test_mult_shapes_and_parameter_count(sizes, embed):
    fusion = small_mult(sizes, num_layers=2, embed=embed)
    feats = sequences(6)[:len(sizes)]
    out = fusion(feats, MASK[:, :len(sizes)])
    e = 8 * max(len(sizes) - 1, 1)
    assert out.shape == (6, len(sizes) * e) == (6, fusion.out_features)
    assert np.isfinite(out.data).all()
    assert fusion.num_parameters() == MulTFusion.parameter_count(sizes, 8, num_layers=2,
                                                                 embed=embed)


def test_sinusoidal_positions():
    p = sinusoidal_positions(5, 6, np.float64)
    assert p.shape == (5, 6)
    np.testing.assert_allclose(p[:, 0], np.sin(np.arange(5)))
    np.testing.assert_allclose(p[:, 1], np.cos(np.arange(5)))
    np.testing.assert_allclose(p[2, 4], np.sin(2 / 10000 ** (4 / 6)))
    assert sinusoidal_positions(3, 5, np.float32).shape == (3, 5)


def test_embed_scale_multiplies_the_projection_by_sqrt_dim_before_the_positions():
    scaled, plain = small_mult(embed="scale"), small_mult(embed="none")
    assert scaled.embed_scale == pytest.approx(np.sqrt(8)) and plain.embed_scale == 1.0
    for p_plain in plain.proj:                      # the same weights, scaled by hand
        p_plain.weight.data *= np.sqrt(8)
        p_plain.bias.data *= np.sqrt(8)
    feats = sequences(6)
    a, b = scaled(feats, MASK).data, plain(feats, MASK).data
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(a, small_mult(embed="none")(feats, MASK).data, atol=1e-3)
    for bad in ("scaled", True, None):
        with pytest.raises(ValueError, match="MulTFusion: embed must be one of norm, scale, none"):
            MulTFusion(SIZES, dim=8, num_heads=2, embed=bad)


def test_embed_norm_makes_a_modality_heard_whatever_its_encoders_scale():
    """embed="norm": a modality whose features are 10x smaller gives the same output (the
    LayerNorm removes the scale of its projection, here without bias) and a 10x larger
    gradient, so a quiet encoder still learns; with embed="none" it is barely heard."""
    fusion, plain = small_mult(), small_mult(embed="none")
    assert fusion.embed == "norm" and fusion.embed_scale == 1.0
    for f in (fusion, plain):
        f.proj[0].bias.data[:] = 0.0
    feats = sequences(6)
    image, valid = feats[0]
    outs, grads = [], []
    for c in (1.0, 0.1):
        x = tm.tensor(image.data * c, requires_grad=True)
        out = fusion([(x, valid)] + feats[1:], MASK)
        out.sum().backward()
        outs.append(out.data)
        grads.append(x.grad)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(grads[1] * 0.1, grads[0], rtol=3e-2, atol=1e-3)
    # against "none", where the small input's effect on the output almost vanishes
    small = plain([(tm.tensor(image.data * 0.1), valid)] + feats[1:], MASK).data
    zero = plain([(tm.tensor(image.data * 0.0), valid)] + feats[1:], MASK).data
    assert np.abs(small - zero).max() < 0.1 * np.abs(outs[0] - fusion(
        [(tm.tensor(image.data * 0.0), valid)] + feats[1:], MASK).data).max()


def test_padding_positions_do_not_change_the_output():
    fusion = small_mult()
    feats = sequences(6)
    out = fusion(feats, MASK).data
    # other values at the padding positions
    moved = [(tm.tensor(np.where(v[:, :, None], s.data, 50.0 * s.data - 3)), v) for s, v in feats]
    np.testing.assert_allclose(fusion(moved, MASK).data, out, rtol=1e-5, atol=1e-5)
    # and more padding appended at the end of every sequence
    longer = [(tm.tensor(np.concatenate([s.data, np.ones((6, 3, s.shape[2]), np.float32)], 1)),
               np.concatenate([v, np.zeros((6, 3), bool)], 1)) for s, v in feats]
    np.testing.assert_allclose(fusion(longer, MASK).data, out, rtol=1e-5, atol=1e-5)
    # while the valid positions matter, in every present sample
    shifted = [(tm.tensor(s.data + 1.0), v) for s, v in feats]
    diff = np.abs(fusion(shifted, MASK).data - out).max(axis=1)
    assert (diff[MASK.any(axis=1)] > 1e-3).all()


def test_a_missing_modality_is_the_same_as_removing_its_tokens():
    fusion = small_mult()
    feats = sequences(6)
    mask = MASK.copy()
    mask[:, 1] = False
    masked = fusion(feats, mask).data
    removed = fusion([feats[0], None, feats[2]], mask).data  # "b" not in the batch at all
    np.testing.assert_allclose(masked, removed, rtol=1e-5, atol=1e-6)
    # the masked modality's values never matter, even when huge
    loud = list(feats)
    loud[1] = (tm.tensor(1e4 * feats[1][0].data), feats[1][1])
    np.testing.assert_allclose(fusion(loud, mask).data, masked, rtol=1e-5, atol=1e-6)
    # a present modality whose every token is padding counts as missing
    only_pad = list(feats)
    only_pad[1] = (feats[1][0], np.zeros_like(feats[1][1]))
    with_pad = fusion(only_pad, MASK | np.array([0, 1, 0], bool)).data
    np.testing.assert_allclose(with_pad, masked, rtol=1e-5, atol=1e-6)


@given(st.data())
def test_each_sample_depends_only_on_its_own_present_valid_tokens(data):
    """Any presence mask and any padding: a sample's output is the same alone as in the
    batch, and garbage at its masked modalities and padding positions changes nothing."""
    fusion = small_mult()
    batch = 4
    mask = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=3, max_size=3),
                                       min_size=batch, max_size=batch)), bool)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    feats, garbage = [], []
    for j, (name, d) in enumerate(SIZES.items()):
        t = LENGTHS[name]
        lengths = np.array(data.draw(st.lists(st.integers(0, t), min_size=batch,
                                              max_size=batch)))
        valid = np.arange(t)[None, :] < lengths[:, None]
        seq = rng.standard_normal((batch, t, d)).astype(np.float32)
        noise = (10 * rng.standard_normal(seq.shape)).astype(np.float32)
        hidden = ~valid[:, :, None] | ~mask[:, j, None, None]
        feats.append((tm.tensor(seq), valid))
        garbage.append((tm.tensor(np.where(hidden, seq + noise, seq)), valid))
    out = fusion(feats, mask).data
    assert np.isfinite(out).all()
    np.testing.assert_allclose(fusion(garbage, mask).data, out, rtol=1e-4, atol=1e-5)
    for i in range(batch):
        alone = fusion([(s[i:i + 1], v[i:i + 1]) for s, v in feats], mask[i:i + 1]).data
        np.testing.assert_allclose(alone[0], out[i], rtol=1e-4, atol=1e-5)


def test_all_masked_rows_stay_finite_and_give_finite_gradients():
    fusion = small_mult()
    fusion.train()
    feats = [(tm.tensor(s.data, requires_grad=True), v) for s, v in sequences(6)]
    nothing = np.zeros((6, 3), bool)
    out = fusion(feats, nothing)
    assert np.isfinite(out.data).all()
    # every sample is "no modality": one learned constant per modality
    np.testing.assert_array_equal(out.data, np.broadcast_to(out.data[0], out.shape))
    (out * out).sum().backward()
    assert all(s.grad is None or np.allclose(s.grad, 0.0) for s, _ in feats)
    grads = [p.grad for p in fusion.parameters() if p.grad is not None]
    assert grads and all(np.isfinite(g).all() for g in grads)


def test_cross_modal_block_attends_only_to_valid_keys():
    tm.manual_seed(0)
    block = CrossModalBlock(4, 2, 8).eval()
    z, src = tm.randn(2, 3, 4), tm.randn(2, 5, 4)
    keys = np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    out = block(z, src, keys).data
    np.testing.assert_allclose(out[0], block(z[:1], src[:1, :2], keys[:1, :2]).data[0],
                               rtol=1e-5, atol=1e-6)
    ff_only = z.data[1] + block.ff(block.norm_ff(z[1:])).data[0]
    np.testing.assert_allclose(out[1], ff_only, rtol=1e-5, atol=1e-6)


def test_gradcheck_cross_modal_block_float64():
    tm.manual_seed(0)
    block = CrossModalBlock(4, 2, 6).double()
    rng = np.random.default_rng(0)
    z = tm.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    src = tm.tensor(rng.standard_normal((3, 4, 4)), requires_grad=True)
    keys = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], bool)
    # the attention is smooth: finite differences with eps 1e-6 are good to ~1e-8 in float64
    assert tm.gradcheck(lambda a, b: block(a, b, keys), (z, src), eps=1e-6, atol=1e-6,
                        rtol=1e-4)


def test_gradcheck_mult_fusion_float64():
    fusion = small_mult({"a": 3, "b": 2}, dim=4).double()
    rng = np.random.default_rng(1)
    a = tm.tensor(rng.standard_normal((3, 3, 3)), requires_grad=True)
    b = tm.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    va, vb = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], bool), np.ones((3, 2), bool)
    mask = np.array([[1, 1], [1, 0], [1, 1]], bool)
    assert tm.gradcheck(lambda x, y: fusion([(x, va), (y, vb)], mask), (a, b), eps=1e-6,
                        atol=1e-6, rtol=1e-4)


def test_bad_sequence_inputs_are_rejected():
    fusion = small_mult({"a": 5, "b": 3})
    s = sequences(6)
    with pytest.raises(ValueError, match=r"MulTFusion.*'b'.*\(B, T, 3\)"):
        fusion([s[0], (tm.randn(6, 4, 4), None)])
    with pytest.raises(ValueError, match="MulTFusion.*valid mask"):
        fusion([s[0], (s[1][0], np.ones((6, 5), bool))])
    with pytest.raises(ValueError, match="MulTFusion.*batch size"):
        fusion([s[0], (tm.randn(3, 6, 3), None)])
    with pytest.raises(TypeError, match="MulTFusion.*Tensor"):
        fusion([s[0], (np.ones((6, 6, 3)), None)])
    with pytest.raises(ValueError, match="MulTFusion: dim"):
        MulTFusion(SIZES, dim=6, num_heads=4)


# ----------------------------------------------------------------------------- in a model
def test_gradients_reach_every_encoder_of_a_three_modality_model():
    tm.manual_seed(0)
    data = get_dataset("video_events", size=8)
    model = build_model(data, "mult", "transformer", modality_dropout=0.0,
                        fusion_options={"dim": 8, "num_heads": 2}, frame_channels=(4,),
                        audio_channels=(4,), audio_hidden=8, frame_hidden=8, embed_dim=8)
    batch = data.get_batch(np.arange(4))
    model(batch).sum().backward()
    for name, enc in model.encoders.items():
        grads = [p.grad for p in enc.parameters() if p.grad is not None]
        assert grads and max(np.abs(g).max() for g in grads) > 0, name


def test_model_missing_modality_never_leaks_even_nan():
    tm.manual_seed(0)
    data = get_dataset("sentiment_prosody", size=6)
    model = build_model(data, "mult", "gru", modality_dropout=0.0, audio_hidden=8,
                        text_hidden=8, embed_dim=8, fusion_options={"dim": 8, "num_heads": 2})
    batch = data.get_batch(np.arange(6))
    mask = np.array([[1, 1], [1, 0], [0, 1], [1, 0], [1, 1], [0, 1]], bool)
    ref = model(batch, mask)
    poisoned = {k: v.copy() for k, v in batch.items()}
    poisoned["audio"][~mask[:, 1]] = np.nan
    poisoned["text"][~mask[:, 0]] = 7
    out = model(poisoned, mask)
    np.testing.assert_array_equal(out.data, ref.data)
    out.sum().backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def keyword_and_pulse(n: int, seed: int, xor: bool) -> MultimodalDataset:
    """Does a keyword occur in the text (w)? Does a pulse occur in the "audio" (p)?

    ``xor``: label = w XOR p; either modality alone and any additive (late) combination of
    them: 0.5. Otherwise label = 2w + p (4 classes): each modality alone 0.5, both 1.0.
    """
    rng = np.random.default_rng(seed)
    word, pulse = rng.integers(0, 2, n), rng.integers(0, 2, n)
    text = rng.integers(2, 6, (n, 6))
    pos = rng.integers(0, 6, n)
    text[word == 1, pos[word == 1]] = 6
    audio = 0.3 * rng.standard_normal((n, 4, 8)).astype(np.float32)
    t = rng.integers(0, 8, n)
    audio[pulse == 1, :, t[pulse == 1]] += 2.0
    label = word ^ pulse if xor else 2 * word + pulse
    k = 2 if xor else 4
    return MultimodalDataset({"text": text, "audio": audio, "label": label},
                             name="keyword_and_pulse", modalities=("text", "audio"),
                             num_classes=k, class_names=[str(i) for i in range(k)],
                             vocab=[str(i) for i in range(7)],
                             ceilings={"text": 0.5, "audio": 0.5, "audio+text": 1.0})


def train_mult(train, val, epochs: int) -> dict:
    model = build_model(train, "mult", "gru", modality_dropout=0.0, embed_dim=8, text_hidden=16,
                        audio_channels=(8,), audio_hidden=16, head_hidden=16,
                        fusion_options={"dim": 16, "num_heads": 2})
    Trainer(model, train, val, epochs=epochs, batch_size=32, lr=3e-3,
            reporter=Reporter(quiet=True)).fit()
    return {r["subset"]: r["accuracy"] for r in ablation(model, val)}


def test_mult_trains_above_the_single_modality_ceilings_on_sequences():
    tm.manual_seed(0)
    acc = train_mult(keyword_and_pulse(256, 0, False), keyword_and_pulse(200, 1, False), 10)
    # each modality alone: 0.5 (200 samples: ± 0.07 at 2σ); both: 1.0
    assert acc["audio+text"] >= 0.85


@pytest.mark.skipif(os.environ.get("TINYMM_HYPOTHESIS_PROFILE") != "thorough",
                    reason="heavy variant (~20 s per seed); the fast form is the test above")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mult_learns_an_xor_between_two_sequences(seed):
    tm.manual_seed(seed)
    acc = train_mult(keyword_and_pulse(384, 0, True), keyword_and_pulse(200, 1, True), 12)
    # chance and the best additive accuracy are 0.5; 200 samples: 0.5 ± 0.07 at 2σ
    assert acc["audio+text"] >= 0.9


# ----------------------------------------------------------------------------- names
def test_fusion_names_pooled_attention_and_its_old_alias():
    assert "mult" in FUSIONS and "pooled_attention" in FUSIONS and "attention" not in FUSIONS
    assert len(set(FUSIONS)) == len(FUSIONS) and set(FUSIONS) < set(FUSION_CHOICES)
    assert "attention" in FUSION_CHOICES
    data = bits_dataset(8)
    batch = data.get_batch(np.arange(8))
    outs = []
    for name in ("attention", "pooled_attention"):
        tm.manual_seed(0)
        model = build_model(data, name, head_hidden=8).eval()
        assert isinstance(model.fusion, PooledAttentionFusion)
        outs.append(model(batch).data)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert isinstance(make_fusion("attention", {"a": 2}, 3), PooledAttentionFusion)


@pytest.mark.parametrize("fusion", ["attention", "mult"])
def test_cli_trains_and_evaluates_the_new_and_the_old_name(fusion, tmp_path, capsys):
    from tinymm.cli import main

    out = tmp_path / "run"
    tiny = ["--train-size", "32", "--test-size", "16", "--batch-size", "16", "--quiet",
            "--no-plots", "--epochs", "1"]
    assert main(["train", "--dataset", "shapes_captions", "--fusion", fusion, "--out", str(out),
                 *tiny]) in (0, None)
    state = tm.load(out / "last.npz")
    assert state["config"]["run"]["fusion"] == fusion
    assert main(["evaluate", str(out / "last.npz"), "--no-plots"]) in (0, None)
    capsys.readouterr()


@pytest.mark.parametrize("remedy", [["--modulation", "ogm"], ["--modulation", "none", "--aux-weight", "1"]])
def test_mult_trains_with_the_collapse_monitor_and_each_remedy(remedy, tmp_path, capsys):
    """The per-epoch monitor and the remedies feed the fusion what it takes: sequences for
    ``mult`` (the auxiliary heads read their mean over the valid positions)."""
    import json

    from tinymm.cli import main

    out = tmp_path / "run"
    tiny = ["--train-size", "32", "--test-size", "16", "--batch-size", "16", "--quiet",
            "--no-plots", "--epochs", "1"]
    assert main(["train", "--dataset", "shapes_captions", "--fusion", "mult", "--out", str(out),
                 *remedy, *tiny]) in (0, None)
    report = json.loads((out / "report.json").read_text())
    contrib = report["history"]["val_contribution"][-1]
    assert set(contrib) >= {"all", "image", "text"}
    assert all(0.0 <= contrib[k] <= 1.0 for k in ("all", "image", "text"))
    capsys.readouterr()


def test_pooled_sequence_is_the_mean_over_valid_positions():
    from tinymm.train.balance import pooled

    seq = tm.tensor(np.arange(12, dtype=np.float64).reshape(1, 4, 3))
    valid = np.array([[True, False, True, False]])
    np.testing.assert_allclose(pooled((seq, valid)).data, [[3.0, 4.0, 5.0]])
    flat = tm.tensor(np.ones((2, 3)))
    assert pooled(flat) is flat


def test_a_mult_checkpoint_is_rebuilt_with_the_embedding_it_was_trained_with(tmp_path, capsys):
    from tinymm.cli import load_run_model, main

    out = tmp_path / "run"
    assert main(["train", "--dataset", "shapes_captions", "--fusion", "mult", "--out", str(out),
                 "--train-size", "32", "--test-size", "16", "--batch-size", "16", "--quiet",
                 "--no-plots", "--epochs", "1"]) in (0, None)
    model, state, run, _ = load_run_model(str(out / "last.npz"), "test")
    assert run["mult_embed"] == "norm" and model.fusion.embed == "norm"
    # a run of yesterday: no LayerNorm weights, scale recorded; of the day before: neither
    state["model"] = {k: v for k, v in state["model"].items() if "embed_norm" not in k}
    del state["config"]["run"]["mult_embed"]
    state["config"]["run"]["mult_embed_scale"] = True
    tm.save(state, tmp_path / "scaled.npz")
    scaled, _, _, _ = load_run_model(str(tmp_path / "scaled.npz"), "test")
    assert scaled.fusion.embed == "scale"
    assert scaled.fusion.embed_scale == pytest.approx(np.sqrt(model.fusion.dim))
    del state["config"]["run"]["mult_embed_scale"]
    tm.save(state, tmp_path / "old.npz")
    old, _, _, _ = load_run_model(str(tmp_path / "old.npz"), "test")
    assert old.fusion.embed == "none" and old.fusion.embed_scale == 1.0
    capsys.readouterr()
