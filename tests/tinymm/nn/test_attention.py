"""MultiheadAttention and TransformerEncoderLayer against PyTorch, on both backends.

Each parity test copies a torch module's state_dict into the tinymm module, runs both on the
same inputs, backpropagates the same random cotangent and compares outputs, input gradients
and every parameter gradient by name. Tolerances: float64 rtol 1e-7 / atol 1e-9, float32
rtol 1e-4 / atol 1e-5.
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.nn.attention import MultiheadAttention, TransformerEncoderLayer
from tinymm.testing import assert_gradients_close

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _copy_state(tm_module, torch_module):
    tm_module.load_state_dict({k: v.detach().numpy() for k, v in
                               torch_module.state_dict().items()})


def _compare(tm_module, torch_module, arrays, run_tm, run_torch, dtype, seed=0):
    """Run both modules on ``arrays`` (all requiring grad) and compare everything."""
    _copy_state(tm_module, torch_module)
    tm_in = [tm.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    pt_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    outs_tm = [o for o in run_tm(tm_module, *tm_in) if o is not None]
    outs_pt = [o for o in run_torch(torch_module, *pt_in) if o is not None]
    assert len(outs_tm) == len(outs_pt)
    rng = np.random.default_rng(seed)
    total_tm, total_pt = None, None
    for a, b in zip(outs_tm, outs_pt):
        assert a.shape == tuple(b.shape) and a.dtype == dtype
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL[dtype])
        r = rng.standard_normal(a.shape).astype(dtype)
        term_tm, term_pt = (a * tm.tensor(r)).sum(), (b * torch.from_numpy(r)).sum()
        total_tm = term_tm if total_tm is None else total_tm + term_tm
        total_pt = term_pt if total_pt is None else total_pt + term_pt
    total_tm.backward()
    total_pt.backward()
    for i, (a, b) in enumerate(zip(tm_in, pt_in)):
        assert a.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL[dtype], err_msg=f"input {i}")
    tm_params = dict(tm_module.named_parameters())
    pt_params = dict(torch_module.named_parameters())
    assert tm_params.keys() == pt_params.keys()
    for name, p in pt_params.items():
        np.testing.assert_allclose(tm_params[name].grad, p.grad.numpy(), **TOL[dtype],
                                   err_msg=name)


def _mha_pair(E, H, dtype, **kwargs):
    pt = torch.nn.MultiheadAttention(E, H, dtype=TORCH_DTYPE[dtype], **kwargs)
    return MultiheadAttention(E, H, dtype=dtype, **kwargs), pt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_matches_torch(backend, dtype, batch_first):
    mine, theirs = _mha_pair(8, 2, dtype, batch_first=batch_first)
    x = np.random.default_rng(0).standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    _compare(mine, theirs, [x], lambda m, x: m(x, x, x), lambda m, x: m(x, x, x), dtype)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_cross_attention_matches_torch(backend, need_weights, average):
    mine, theirs = _mha_pair(12, 3, np.float64)
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 2, 12)), rng.standard_normal((6, 2, 12)), \
        rng.standard_normal((6, 2, 12))
    kw = dict(need_weights=need_weights, average_attn_weights=average)
    _compare(mine, theirs, [q, k, v], lambda m, *a: m(*a, **kw), lambda m, *a: m(*a, **kw),
             np.float64)


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
@pytest.mark.parametrize("attn_mask_dims", [2, 3])
def test_masks_match_torch(backend, mask_kind, attn_mask_dims):
    mine, theirs = _mha_pair(8, 2, np.float64)
    rng = np.random.default_rng(2)
    N, L, S, H = 3, 4, 5, 2
    q, kv = rng.standard_normal((L, N, 8)), rng.standard_normal((S, N, 8))
    kpm = np.zeros((N, S), bool)
    kpm[1, 3:] = True  # batch 1 ignores its last two keys
    am = rng.random((L, S) if attn_mask_dims == 2 else (N * H, L, S)) < 0.3
    am[..., 0] = False  # every query keeps key 0: no fully masked rows (torch gives NaN)
    if mask_kind == "float":
        kpm = np.where(kpm, -np.inf, 0.0)
        am = np.where(am, -1e9, rng.standard_normal(am.shape))

    def run(m, q, kv, lib):
        conv = (lambda a: torch.from_numpy(a)) if lib == "torch" else (lambda a: a)
        return m(q, kv, kv, key_padding_mask=conv(kpm), attn_mask=conv(am))

    _compare(mine, theirs, [q, kv], lambda m, q, kv: run(m, q, kv, "tm"),
             lambda m, q, kv: run(m, q, kv, "torch"), np.float64)


def test_causal_hint_and_unbatched_match_torch(backend):
    mine, theirs = _mha_pair(8, 4, np.float64)
    x = np.random.default_rng(3).standard_normal((5, 8))  # unbatched (L, E)
    causal = np.triu(np.ones((5, 5), bool), 1)
    kpm = np.array([False, False, False, False, True])
    _compare(mine, theirs, [x],
             lambda m, x: m(x, x, x, attn_mask=causal, is_causal=True, key_padding_mask=kpm),
             lambda m, x: m(x, x, x, attn_mask=torch.from_numpy(causal), is_causal=True,
                            key_padding_mask=torch.from_numpy(kpm)),
             np.float64)


def test_no_bias_and_eval_dropout_match_torch(backend):
    mine, theirs = _mha_pair(8, 2, np.float64, bias=False, dropout=0.5)
    mine.eval()
    theirs.eval()
    assert "in_proj_bias" not in dict(mine.named_parameters())
    x = np.random.default_rng(4).standard_normal((4, 2, 8))
    _compare(mine, theirs, [x], lambda m, x: m(x, x, x), lambda m, x: m(x, x, x), np.float64)


def test_training_dropout_hits_weights():
    tm.manual_seed(0)
    mha = MultiheadAttention(8, 2, dropout=0.5, dtype=np.float64)
    x = tm.randn(6, 2, 8, dtype=tm.float64)
    _, w = mha(x, x, x, average_attn_weights=False)
    assert np.mean(w.data == 0) > 0.3  # about half the weights dropped
    kept = w.data[w.data != 0]
    mha.eval()
    _, w_eval = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(kept, 2 * w_eval.data[w.data != 0])  # survivors scaled 1/(1-p)


def test_parameters_and_init_like_torch():
    mine = MultiheadAttention(16, 4)
    theirs = torch.nn.MultiheadAttention(16, 4)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for name, value in mine.state_dict().items():
        assert value.shape == tuple(theirs.state_dict()[name].shape)
        assert value.dtype == np.float32
    assert np.all(mine.in_proj_bias.data == 0) and np.all(mine.out_proj.bias.data == 0)
    bound = np.sqrt(6.0 / (16 + 48))  # xavier_uniform on (3E, E)
    assert np.abs(mine.in_proj_weight.data).max() <= bound
    assert np.abs(mine.in_proj_weight.data).max() > 0.8 * bound
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in mine.state_dict().items()})


def test_gradcheck(backend):
    mha = MultiheadAttention(6, 2, dtype=np.float64)
    rng = np.random.default_rng(5)
    q = tm.tensor(rng.standard_normal((3, 2, 6)), requires_grad=True)
    kv = tm.tensor(rng.standard_normal((4, 2, 6)), requires_grad=True)
    kpm = np.array([[False, False, True, False], [False, False, False, False]])
    assert_gradients_close(lambda q, kv: mha(q, kv, kv, key_padding_mask=kpm),
                                      q, kv, names=("query", "key/value"))


def test_mha_bad_inputs():
    with pytest.raises(ValueError, match="MultiheadAttention.*embed_dim.*divisible.*num_heads"):
        MultiheadAttention(10, 3)
    mha = MultiheadAttention(8, 2)
    x = tm.randn(5, 3, 8)
    with pytest.raises(ValueError, match="MultiheadAttention.*key shape.*value shape"):
        mha(x, tm.randn(4, 3, 8), tm.randn(5, 3, 8))
    with pytest.raises(ValueError, match="MultiheadAttention.*embed_dim=8"):
        mha(tm.randn(5, 3, 7), x, x)
    with pytest.raises(ValueError, match="MultiheadAttention.*batch size"):
        mha(x, tm.randn(4, 2, 8), tm.randn(4, 2, 8))
    with pytest.raises(ValueError, match="MultiheadAttention.*key and value"):
        mha(tm.randn(5, 8), x, x)
    with pytest.raises(ValueError, match="MultiheadAttention.*key_padding_mask"):
        mha(x, x, x, key_padding_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="MultiheadAttention.*attn_mask"):
        mha(x, x, x, attn_mask=np.zeros((3, 5, 5), bool))
    with pytest.raises(ValueError, match="MultiheadAttention.*is_causal"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="MultiheadAttention.*dtype"):
        mha(x.double(), x.double(), x.double())
    with pytest.raises(TypeError, match="MultiheadAttention.*attn_mask"):
        mha(x, x, x, attn_mask=np.zeros((5, 5), np.int64))


# ----------------------------------------------------------------------------- encoder layer
def _layer_pair(dtype, **kwargs):
    pt = torch.nn.TransformerEncoderLayer(8, 2, 16, dtype=TORCH_DTYPE[dtype], **kwargs)
    return TransformerEncoderLayer(8, 2, 16, dtype=dtype, **kwargs), pt


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mode", ["train_no_dropout", "eval_with_dropout"])
def test_encoder_layer_matches_torch(backend, norm_first, mode):
    dropout = 0.0 if mode == "train_no_dropout" else 0.1
    mine, theirs = _layer_pair(np.float64, dropout=dropout, norm_first=norm_first)
    if mode == "eval_with_dropout":
        mine.eval()
        theirs.eval()
    x = np.random.default_rng(6).standard_normal((5, 3, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[2, 4] = True
    mask = np.triu(np.full((5, 5), -np.inf), 1)

    _compare(mine, theirs, [x],
             lambda m, x: (m(x, src_mask=mask, src_key_padding_mask=kpm),),
             lambda m, x: (m(x, src_mask=torch.from_numpy(mask),
                             src_key_padding_mask=torch.from_numpy(kpm)),),
             np.float64)


@pytest.mark.parametrize("activation", ["gelu", "callable"])
def test_encoder_layer_activation_and_batch_first(backend, activation):
    kw = dict(dropout=0.0, batch_first=True, dtype=np.float32)
    mine = TransformerEncoderLayer(
        8, 2, 16, activation="gelu" if activation == "gelu" else (lambda t: t.tanh()), **kw)
    kw["dtype"] = torch.float32
    theirs = torch.nn.TransformerEncoderLayer(
        8, 2, 16, activation="gelu" if activation == "gelu" else torch.tanh, **kw)
    x = np.random.default_rng(7).standard_normal((2, 6, 8))
    _compare(mine, theirs, [x], lambda m, x: (m(x),), lambda m, x: (m(x),), np.float32)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradcheck(backend, norm_first):
    layer = TransformerEncoderLayer(4, 2, 8, dropout=0.0, norm_first=norm_first,
                                    dtype=np.float64)
    x = tm.tensor(np.random.default_rng(8).standard_normal((3, 2, 4)), requires_grad=True)
    kpm = np.array([[False, False, True], [False, False, False]])
    assert_gradients_close(lambda x: layer(x, src_key_padding_mask=kpm), x, names=("src",))


def test_encoder_layer_structure_like_torch():
    mine, theirs = _layer_pair(np.float32)
    assert [n for n, _ in mine.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert mine.dropout.p == 0.1 and mine.self_attn.dropout == 0.1


def test_encoder_layer_bad_inputs():
    with pytest.raises(ValueError, match="TransformerEncoderLayer.*activation"):
        TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="MultiheadAttention.*divisible"):
        TransformerEncoderLayer(8, 3)
    layer = TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(TypeError, match="TransformerEncoderLayer.*src"):
        layer(np.zeros((5, 3, 8), np.float32))
