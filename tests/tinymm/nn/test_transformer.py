"""TransformerEncoder, TransformerDecoderLayer and TransformerDecoder against PyTorch.

As test_attention.py: the torch module's state_dict is copied into the tinymm module (so the
names and layouts must match), both run on the same float64 inputs with dropout 0 (training
mode) or in eval mode, the same random cotangent is backpropagated, and outputs, input
gradients and every parameter gradient are compared by name (rtol 1e-7 / atol 1e-9: a few
dozen float64 ops on O(1) values, LayerNorm dividing by standard deviations of order 1).
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-7, atol=1e-9)
D, H, FF = 8, 2, 16


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _compare(mine, theirs, arrays, run_mine, run_theirs, seed=0):
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    tm_in = [tm.tensor(a, requires_grad=True) for a in arrays]
    pt_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, pout = run_mine(mine, *tm_in), run_theirs(theirs, *pt_in)
    assert out.shape == tuple(pout.shape)
    np.testing.assert_allclose(out.data, pout.detach().numpy(), **TOL)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    (out * tm.tensor(r)).sum().backward()
    (pout * torch.from_numpy(r)).sum().backward()
    for i, (a, b) in enumerate(zip(tm_in, pt_in)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"input {i}")
    got = dict(mine.named_parameters())
    want = dict(theirs.named_parameters())
    assert got.keys() == want.keys()
    for name, p in want.items():
        np.testing.assert_allclose(got[name].grad, p.grad.numpy(), **TOL, err_msg=name)


def _encoder_pair(num_layers, with_norm, **kw):
    torch.manual_seed(0)
    pt_layer = torch.nn.TransformerEncoderLayer(D, H, FF, dtype=torch.float64, **kw)
    theirs = torch.nn.TransformerEncoder(
        pt_layer, num_layers, norm=torch.nn.LayerNorm(D, dtype=torch.float64) if with_norm
        else None, enable_nested_tensor=False)
    layer = nn.TransformerEncoderLayer(D, H, FF, dtype=np.float64, **kw)
    mine = nn.TransformerEncoder(layer, num_layers,
                                 norm=nn.LayerNorm(D, dtype=np.float64) if with_norm else None)
    return mine, theirs


def _decoder_layer_pair(**kw):
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(D, H, FF, dtype=torch.float64, **kw)
    return nn.TransformerDecoderLayer(D, H, FF, dtype=np.float64, **kw), theirs


def _decoder_pair(num_layers, with_norm, **kw):
    torch.manual_seed(2)
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(D, H, FF, dtype=torch.float64, **kw), num_layers,
        norm=torch.nn.LayerNorm(D, dtype=torch.float64) if with_norm else None)
    mine = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF, dtype=np.float64, **kw),
                                 num_layers,
                                 norm=nn.LayerNorm(D, dtype=np.float64) if with_norm else None)
    return mine, theirs


def _masks(N, T, S, rng):
    causal = np.triu(np.full((T, T), -np.inf), 1)
    tgt_kpm = np.zeros((N, T), bool)
    tgt_kpm[-1, -1] = True
    mem_kpm = np.zeros((N, S), bool)
    mem_kpm[0, -2:] = True
    mem_mask = rng.standard_normal((T, S)) * 0.5
    return causal, tgt_kpm, mem_kpm, mem_mask


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("with_norm", [False, True])
@pytest.mark.parametrize("mode", ["train_no_dropout", "eval_with_dropout"])
def test_encoder_stack_matches_torch(backend, norm_first, with_norm, mode):
    mine, theirs = _encoder_pair(3, with_norm, norm_first=norm_first,
                                 dropout=0.0 if mode == "train_no_dropout" else 0.3)
    if mode == "eval_with_dropout":
        mine.eval()
        theirs.eval()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, D))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    _compare(mine, theirs, [x],
             lambda m, x: m(x, mask=mask, src_key_padding_mask=kpm, is_causal=True),
             lambda m, x: m(x, mask=torch.from_numpy(mask),
                            src_key_padding_mask=torch.from_numpy(kpm), is_causal=True))


def test_encoder_stack_batch_first_gelu(backend):
    mine, theirs = _encoder_pair(2, True, batch_first=True, activation="gelu", dropout=0.0)
    x = np.random.default_rng(4).standard_normal((2, 6, D))
    _compare(mine, theirs, [x], lambda m, x: m(x), lambda m, x: m(x))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mode", ["train_no_dropout", "eval_with_dropout"])
def test_decoder_layer_matches_torch(backend, norm_first, mode):
    mine, theirs = _decoder_layer_pair(norm_first=norm_first,
                                       dropout=0.0 if mode == "train_no_dropout" else 0.3)
    if mode == "eval_with_dropout":
        mine.eval()
        theirs.eval()
    rng = np.random.default_rng(5)
    N, T, S = 3, 4, 6
    tgt, mem = rng.standard_normal((T, N, D)), rng.standard_normal((S, N, D))
    causal, tgt_kpm, mem_kpm, mem_mask = _masks(N, T, S, rng)
    t = torch.from_numpy
    _compare(mine, theirs, [tgt, mem],
             lambda m, x, y: m(x, y, tgt_mask=causal, memory_mask=mem_mask,
                               tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=mem_kpm,
                               tgt_is_causal=True),
             lambda m, x, y: m(x, y, tgt_mask=t(causal), memory_mask=t(mem_mask),
                               tgt_key_padding_mask=t(tgt_kpm),
                               memory_key_padding_mask=t(mem_kpm), tgt_is_causal=True))


@pytest.mark.parametrize("with_norm", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_stack_matches_torch(backend, with_norm, batch_first):
    mine, theirs = _decoder_pair(2, with_norm, dropout=0.0, batch_first=batch_first)
    rng = np.random.default_rng(6)
    N, T, S = 2, 3, 5
    tgt = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    mem = rng.standard_normal((N, S, D) if batch_first else (S, N, D))
    causal, tgt_kpm, mem_kpm, _ = _masks(N, T, S, rng)
    t = torch.from_numpy
    _compare(mine, theirs, [tgt, mem],
             lambda m, x, y: m(x, y, tgt_mask=causal, tgt_key_padding_mask=tgt_kpm,
                               memory_key_padding_mask=mem_kpm),
             lambda m, x, y: m(x, y, tgt_mask=t(causal), tgt_key_padding_mask=t(tgt_kpm),
                               memory_key_padding_mask=t(mem_kpm)))


def test_decoder_unbatched_single_token_matches_torch(backend):
    """One target token, unbatched: the degenerate shapes of the workspace bug."""
    mine, theirs = _decoder_pair(2, True, dropout=0.0)
    rng = np.random.default_rng(7)
    tgt, mem = rng.standard_normal((1, D)), rng.standard_normal((4, D))
    _compare(mine, theirs, [tgt, mem], lambda m, x, y: m(x, y), lambda m, x, y: m(x, y))


def test_state_dicts_and_children_like_torch():
    for mine, theirs in (_encoder_pair(2, True), _decoder_pair(2, True),
                         _decoder_layer_pair()):
        assert list(mine.state_dict()) == list(theirs.state_dict())
        for name, value in mine.state_dict().items():
            assert value.shape == tuple(theirs.state_dict()[name].shape), name
        assert [n for n, _ in mine.named_children()] == [n for n, _ in theirs.named_children()]
        theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in mine.state_dict().items()})
    mine, theirs = _encoder_pair(2, False)
    assert mine.norm is None and "norm" not in dict(mine.named_children())
    assert mine.num_layers == theirs.num_layers == 2


def test_stack_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(D, H, FF)
    enc = nn.TransformerEncoder(layer, 2)
    a, b = enc.layers[0], enc.layers[1]
    assert a is not layer and a is not b
    np.testing.assert_array_equal(a.linear1.weight.data, layer.linear1.weight.data)
    a.linear1.weight.data[...] = 0
    assert np.abs(b.linear1.weight.data).max() > 0 and np.abs(layer.linear1.weight.data).max() > 0
    assert len(list(enc.parameters())) == 2 * len(list(layer.parameters()))


def test_old_import_path_still_works():
    from tinymm.nn.attention import TransformerEncoderLayer

    assert TransformerEncoderLayer is nn.TransformerEncoderLayer
    with pytest.raises(ImportError):
        from tinymm.nn.attention import NoSuchLayer  # noqa: F401


def test_transformer_bad_inputs():
    with pytest.raises(TypeError, match="TransformerEncoder.*TransformerEncoderLayer"):
        nn.TransformerEncoder(nn.Linear(2, 2), 2)
    with pytest.raises(TypeError, match="TransformerDecoder.*TransformerDecoderLayer"):
        nn.TransformerDecoder(nn.TransformerEncoderLayer(D, H, FF), 2)
    with pytest.raises(ValueError, match="TransformerEncoder.*num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 0)
    with pytest.raises(TypeError, match="TransformerDecoder.*norm"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF), 1, norm="layer")
    with pytest.raises(ValueError, match="TransformerDecoderLayer.*activation"):
        nn.TransformerDecoderLayer(D, H, activation="swish")
    dec = nn.TransformerDecoderLayer(D, H, FF)
    with pytest.raises(TypeError, match="TransformerDecoderLayer.*memory"):
        dec(tm.randn(3, 2, D), np.zeros((4, 2, D), np.float32))
    with pytest.raises(ValueError, match="MultiheadAttention.*batch size"):
        dec(tm.randn(3, 2, D), tm.randn(4, 3, D))
