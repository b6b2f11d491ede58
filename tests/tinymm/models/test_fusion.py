"""Fusion methods: interface, masks (a missing modality never leaks), training above ceilings."""

import numpy as np
import pytest
from multimodal_support import bits_dataset, single_thread  # noqa: F401 (autouse fixture)

import tinymm as tm
from tinymm.models import (
    FUSIONS,
    ConcatFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    MultimodalClassifier,
    SumFusion,
    TensorFusion,
    build_model,
    make_fusion,
    modality_dropout_mask,
)
from tinymm.train import Reporter, Trainer, ablation

SIZES = {"a": 5, "b": 3, "c": 4}


def fusion_of(method: str, sizes=None):
    sizes = sizes or SIZES
    options = {"pooled_attention": {"dim": 8, "num_heads": 2}, "mult": {"dim": 8, "num_heads": 2},
               "late": {"hidden": 8}}.get(method, {})
    if method in ("sum", "gated"):
        options = {"dim": 8}
    if method == "tensor":
        options = {"dim": 3}
    if method == "lowrank":
        options = {"dim": 6, "rank": 2}
    return make_fusion(method, sizes, 3, **options)


def features(batch: int, sizes=None, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [tm.tensor(rng.standard_normal((batch, d)).astype(np.float32))
            for d in (sizes or SIZES).values()]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]], bool)


@pytest.mark.parametrize("method", FUSIONS)
def test_shape_and_out_features(method):
    tm.manual_seed(0)
    fusion = fusion_of(method)
    out = fusion(features(6), MASK)
    assert out.shape == (6, fusion.out_features)
    assert np.isfinite(out.data).all()
    assert fusion.produces_logits == (method == "late")


@pytest.mark.parametrize("method", FUSIONS)
def test_masked_modality_does_not_influence_output(method):
    tm.manual_seed(0)
    fusion = fusion_of(method)
    fusion.eval()
    feats = features(6)
    out = fusion(feats, MASK).data
    # change every modality's features only where the mask says it is missing
    changed = [tm.tensor(np.where(MASK[:, [j]], f.data, 100.0 * f.data + 7).astype(np.float32))
               for j, f in enumerate(feats)]
    np.testing.assert_allclose(fusion(changed, MASK).data, out, rtol=1e-5, atol=1e-5)
    # and present modalities do matter
    moved = [tm.tensor(f.data + 1.0) for f in feats]
    diff = np.abs(fusion(moved, MASK).data - out).max(axis=1)
    assert (diff[MASK.any(axis=1)] > 1e-4).all()


@pytest.mark.parametrize("method", FUSIONS)
def test_none_feature_for_a_modality_missing_from_the_batch(method):
    tm.manual_seed(0)
    fusion = fusion_of(method)
    fusion.eval()
    mask = MASK.copy()
    mask[:, 1] = False
    feats = features(6)
    with_none = fusion([feats[0], None, feats[2]], mask).data
    np.testing.assert_allclose(with_none, fusion(feats, mask).data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", FUSIONS)
def test_gradients_reach_parameters_and_dict_input(method):
    tm.manual_seed(0)
    fusion = fusion_of(method)
    feats = features(6)
    out = fusion(dict(zip(SIZES, feats)), MASK)
    out.sum().backward()
    grads = [p.grad for p in fusion.parameters()]
    assert any(g is not None and np.abs(g).sum() > 0 for g in grads)


def test_missing_embeddings_are_learned_not_zero():
    tm.manual_seed(0)
    fusion = ConcatFusion({"a": 2, "b": 3})
    out = fusion([tm.ones(2, 2), tm.ones(2, 3)], np.array([[1, 0], [1, 1]], bool))
    assert not np.allclose(out.data[0, 2:], 0.0)
    out.sum().backward()
    assert np.allclose(fusion.missing.missing_1.grad, 1.0)  # only the one missing row
    assert fusion.missing.missing_0.grad is None or np.allclose(fusion.missing.missing_0.grad, 0)


def test_tensor_fusion_is_the_outer_product_with_an_appended_one():
    tm.manual_seed(0)
    fusion = TensorFusion([2, 2], dim=2)
    feats = features(3, {"a": 2, "b": 2})
    z = [np.concatenate([fusion.proj[j](f).data, np.ones((3, 1), np.float32)], axis=1)
         for j, f in enumerate(feats)]
    expected = np.einsum("bi,bj->bij", z[0], z[1]).reshape(3, -1)
    np.testing.assert_allclose(fusion(feats).data, expected, rtol=1e-6)


def test_lowrank_fusion_matches_its_factorised_formula():
    tm.manual_seed(0)
    fusion = LowRankFusion([2, 3], dim=4, rank=2)
    feats = features(5, {"a": 2, "b": 3})
    prod = 1.0
    for j, f in enumerate(feats):
        z = np.concatenate([f.data, np.ones((5, 1), np.float32)], axis=1)
        prod = prod * (z @ getattr(fusion, f"factor_{j}").data).reshape(5, 2, 4)
    expected = np.einsum("r,brd->bd", fusion.rank_weight.data[0], prod) + fusion.bias.data
    np.testing.assert_allclose(fusion(feats).data, expected, rtol=1e-5, atol=1e-6)


def test_late_fusion_sums_log_probabilities_of_present_modalities():
    tm.manual_seed(0)
    fusion = LateFusion([2, 3], num_classes=4, hidden=5)
    feats = features(3, {"a": 2, "b": 3})
    mask = np.array([[1, 1], [1, 0], [0, 0]], bool)
    logits = [s.data for s in fusion.modality_logits(feats)]
    logp = [x - np.log(np.exp(x).sum(1, keepdims=True)) for x in logits]
    out = fusion(feats, mask).data
    np.testing.assert_allclose(out[0], logp[0][0] + logp[1][0], rtol=1e-5)
    np.testing.assert_allclose(out[1], logp[0][1], rtol=1e-5)
    np.testing.assert_allclose(out[2], 0.0)


def test_gated_fusion_weights_are_a_convex_combination():
    tm.manual_seed(0)
    fusion = GatedFusion([2, 2], dim=3)
    feats = features(4, {"a": 2, "b": 2})
    h = [np.tanh(fusion.proj[j](f).data) for j, f in enumerate(feats)]
    out = fusion(feats).data
    lo, hi = np.minimum(h[0], h[1]), np.maximum(h[0], h[1])
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()
    only_b = fusion(feats, np.array([[0, 1]] * 4, bool)).data
    np.testing.assert_allclose(only_b, h[1], rtol=1e-5, atol=1e-6)


def test_sum_fusion_is_a_masked_mean():
    tm.manual_seed(0)
    fusion = SumFusion([2, 2], dim=3)
    feats = features(2, {"a": 2, "b": 2})
    h = [fusion.proj[j](f).data for j, f in enumerate(feats)]
    out = fusion(feats, np.array([[1, 1], [0, 1]], bool)).data
    np.testing.assert_allclose(out[0], (h[0][0] + h[1][0]) / 2, rtol=1e-5)
    np.testing.assert_allclose(out[1], h[1][1], rtol=1e-5)


def test_modality_dropout_mask_keeps_one_present_modality():
    rng = np.random.default_rng(0)
    mask = rng.random((2000, 3)) < 0.7
    kept = modality_dropout_mask(mask, 0.5, rng)
    assert not (kept & ~mask).any()  # never switches a missing modality on
    has_any = mask.any(axis=1)
    assert kept[has_any].any(axis=1).all()
    assert not kept[~has_any].any()
    rate = 1 - kept[mask].mean()
    assert 0.3 < rate < 0.5  # ~0.5 minus the forced keeps


def test_classifier_masked_input_never_leaks_even_nan():
    tm.manual_seed(0)
    data = bits_dataset(8)
    model = build_model(data, "concat", head_hidden=8, modality_dropout=0.0)
    batch = data.get_batch(np.arange(8))
    mask = np.ones((8, 2), bool)
    mask[:4, 1] = False
    ref = model(batch, mask)
    poisoned = dict(batch)
    poisoned["b"] = batch["b"].copy()
    poisoned["b"][:4] = np.nan
    out = model(poisoned, mask)
    np.testing.assert_array_equal(out.data, ref.data)
    out.sum().backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_classifier_modality_dropout_only_in_training():
    tm.manual_seed(0)
    data = bits_dataset(64)
    model = build_model(data, "concat", head_hidden=8, modality_dropout=0.5)
    batch = data.get_batch(np.arange(64))
    model.eval()
    a, b = model(batch).data, model(batch).data
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.allclose(model(batch).data, a)


def test_bad_inputs_are_rejected_with_clear_messages():
    fusion = ConcatFusion({"a": 2, "b": 3})
    with pytest.raises(ValueError, match="ConcatFusion.*mask"):
        fusion([tm.ones(2, 2), tm.ones(2, 3)], np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="ConcatFusion.*'b'.*\\(B, 3\\)"):
        fusion([tm.ones(2, 2), tm.ones(2, 4)])
    with pytest.raises(ValueError, match="ConcatFusion.*None"):
        fusion([tm.ones(2, 2), None])
    with pytest.raises(ValueError, match="make_fusion"):
        make_fusion("average", {"a": 2}, 3)
    with pytest.raises(ValueError, match="in_features"):
        ConcatFusion({"a": 0})
    with pytest.raises(ValueError, match="build_model: fusion"):
        build_model(bits_dataset(8), "average")
    with pytest.raises(ValueError, match="head=None"):
        MultimodalClassifier({"a": tm.nn.Identity()}, LateFusion({"a": 2}, 3), tm.nn.Linear(3, 3))


@pytest.mark.parametrize("method", FUSIONS)
def test_every_fusion_trains_above_the_best_single_modality_ceiling(method):
    tm.manual_seed(0)
    train, val = bits_dataset(384, seed=0), bits_dataset(256, seed=1)
    options = {"pooled_attention": {"dim": 16, "num_heads": 2},
               "mult": {"dim": 16, "num_heads": 2}}.get(method)
    model = build_model(train, method, head_hidden=16, modality_dropout=0.25,
                        fusion_options=options)
    Trainer(model, train, val, epochs=6, batch_size=32, lr=1e-2,
            reporter=Reporter(quiet=True)).fit()
    rows = {r["subset"]: r for r in ablation(model, val)}
    assert rows["a+b"]["accuracy"] >= 0.85  # best single-modality ceiling: 0.5
    assert rows["a"]["accuracy"] <= 0.5 + 0.1 and rows["b"]["accuracy"] <= 0.5 + 0.1


def test_classifier_treats_a_modality_left_out_of_the_inputs_as_missing():
    tm.manual_seed(0)
    data = bits_dataset(8)
    model = build_model(data, "gated", head_hidden=8, modality_dropout=0.0)
    batch = data.get_batch(np.arange(8))
    only_a = model({"a": batch["a"]})
    masked = model(batch, np.array([[True, False]] * 8))
    np.testing.assert_array_equal(only_a.data, masked.data)
    with pytest.raises(KeyError, match="none of the modalities"):
        model({"label": batch["label"]})


def test_attention_fusion_mean_pool_is_the_mean_of_the_present_tokens():
    from tinymm.models.fusion_attention import AttentionFusion

    tm.manual_seed(0)
    fusion = AttentionFusion({"image": 5, "text": 3, "audio": 4}, dim=8, num_heads=2,
                             pool="mean").double()
    rng = np.random.default_rng(0)
    feats = [tm.tensor(rng.standard_normal((2, d))) for d in (5, 3, 4)]
    mask = np.array([[True, True, True], [True, False, True]])   # sample 1 lacks text
    seen = {}
    fusion.layers[-1].register_forward_hook(lambda mod, args, out: seen.setdefault("T", out))
    h = fusion(feats, mask).data
    T = seen["T"].data                                            # (B, 1 + 3, dim)
    np.testing.assert_allclose(h[0], T[0].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(h[1], T[1, [0, 1, 3]].mean(axis=0), rtol=1e-12)
    # the missing modality's features cannot change the result
    feats[1] = tm.tensor(feats[1].data + 100.0)
    np.testing.assert_allclose(fusion(feats, mask).data[1], h[1], rtol=1e-12)
    with pytest.raises(ValueError, match="AttentionFusion: pool must be one of"):
        AttentionFusion({"image": 5}, dim=8, num_heads=2, pool="max")


def test_mean_pool_keeps_a_gradient_path_to_a_modality_the_summary_ignores():
    """The summary token's attention to "image" made ~e^-70 (zero query weights, key = token,
    a large negative image type embedding): with pool="cls" the image projection gets no
    gradient, with "mean" it does, through the image token's own output."""
    from tinymm.models.fusion_attention import AttentionFusion

    grads = {}
    for pool in ("cls", "mean"):
        tm.manual_seed(0)
        fusion = AttentionFusion({"image": 4, "text": 4}, dim=8, num_heads=1, pool=pool).double()
        attn, d = fusion.layers[0].self_attn, fusion.dim
        attn.in_proj_weight.data[:d] = 0.0                # query = its bias = (1, ..., 1)
        attn.in_proj_bias.data[:2 * d] = np.r_[np.ones(d), np.zeros(d)]
        attn.in_proj_weight.data[d:2 * d] = np.eye(d)     # key = token
        fusion.type_embedding.data[0] = -25.0             # image score ≈ -200 / √8
        fusion.type_embedding.data[1] = 0.0
        rng = np.random.default_rng(1)
        feats = [tm.tensor(rng.standard_normal((3, 4))), tm.tensor(rng.standard_normal((3, 4)))]
        out = fusion(feats, np.ones((3, 2), bool))
        (out * tm.tensor(np.arange(d, dtype=np.float64))).sum().backward()
        grads[pool] = np.abs(fusion.proj[0].weight.grad).max()
    assert grads["cls"] < 1e-12 and grads["mean"] > 1e-3
