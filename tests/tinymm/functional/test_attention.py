"""scaled_dot_product_attention: PyTorch parity (both backends), gradcheck, dropout, errors.

Tolerances: assert_matches_torch's defaults (float32 rtol 1e-4 / atol 1e-5, float64
1e-7 / 1e-9); gradcheck in float64 with assert_gradients_close's defaults.
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.functional.attention import scaled_dot_product_attention as sdpa
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch

BACKENDS = ["numba", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _qkv(rng, q_shape, k_shape, v_shape, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in (q_shape, k_shape, v_shape)]


CASES = {
    # name: (q shape, k shape, v shape)
    "4d": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 4)),
    "3d": ((4, 6, 8), (4, 6, 8), (4, 6, 8)),
    "unbatched": ((5, 8), (7, 8), (7, 3)),
    "broadcast_kv": ((2, 3, 5, 8), (1, 3, 7, 8), (1, 3, 7, 4)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("is_causal", [False, True])
def test_matches_torch(backend, dtype, case, is_causal):
    torch = pytest.importorskip("torch")
    q, k, v = _qkv(np.random.default_rng(0), *CASES[case], dtype)
    assert_matches_torch(
        lambda a, b, c: sdpa(a, b, c, is_causal=is_causal),
        lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c,
                                                                         is_causal=is_causal),
        q, k, v, names=("query", "key", "value"),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_shape", [(5, 7), (2, 1, 5, 7), (1, 7), (3, 5, 1)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_masks_match_torch(backend, dtype, mask_shape, kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, *CASES["4d"], dtype)
    if kind == "bool":
        mask = rng.random(mask_shape) < 0.7  # True = take part (SDPA's convention)
    else:
        mask = np.where(rng.random(mask_shape) < 0.3, -np.inf,
                        rng.standard_normal(mask_shape)).astype(dtype)
    assert_matches_torch(
        lambda a, b, c: sdpa(a, b, c, attn_mask=mask, scale=0.3),
        lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(
            a, b, c, attn_mask=torch.from_numpy(mask), scale=0.3),
        q, k, v, names=("query", "key", "value"),
    )


def test_fully_masked_rows_are_zero_as_torch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, (2, 4, 8), (2, 6, 8), (2, 6, 8), np.float32)
    mask = np.ones((2, 4, 6), bool)
    mask[0, 1] = False  # query 1 of batch 0 may attend nothing
    assert_matches_torch(
        lambda a, b, c: sdpa(a, b, c, attn_mask=mask),
        lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(
            a, b, c, attn_mask=torch.from_numpy(mask)),
        q, k, v,
    )
    out = sdpa(*(tm.tensor(a) for a in (q, k, v)), attn_mask=mask)
    assert np.all(out.data[0, 1] == 0)


def test_causal_with_more_queries_than_keys(backend):
    torch = pytest.importorskip("torch")
    q, k, v = _qkv(np.random.default_rng(3), (2, 7, 4), (2, 3, 4), (2, 3, 5), np.float64)
    assert_matches_torch(
        lambda a, b, c: sdpa(a, b, c, is_causal=True),
        lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c,
                                                                         is_causal=True),
        q, k, v,
    )


def test_non_contiguous_inputs_match_torch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 2, 3, 8))  # (L, N, H, E) as MultiheadAttention lays it out
    q = x.transpose(1, 2, 0, 3)  # (N, H, L, E) strided view
    k = rng.standard_normal((2, 3, 8, 6)).transpose(0, 1, 3, 2)  # (N, H, S=6, E) view
    assert not (q.flags.c_contiguous or k.flags.c_contiguous)
    assert_matches_torch(
        lambda a, b: sdpa(a, b, b, is_causal=True),
        lambda a, b: torch.nn.functional.scaled_dot_product_attention(a, b, b, is_causal=True),
        q, k, names=("query", "key=value"),
    )


@pytest.mark.parametrize("setup", ["plain", "mask", "causal", "dropout", "broadcast"])
def test_gradcheck(backend, setup):
    rng = np.random.default_rng(4)
    q_shape, k_shape, v_shape = (2, 3, 4), (2, 5, 4), (2, 5, 3)
    if setup == "broadcast":
        k_shape, v_shape = (1, 5, 4), (1, 5, 3)
    q, k, v = (tm.tensor(a, requires_grad=True)
               for a in _qkv(rng, q_shape, k_shape, v_shape, np.float64))
    mask = rng.standard_normal((3, 5))
    mask[0, 1:] = -np.inf

    def fn(a, b, c):
        if setup == "mask":
            return sdpa(a, b, c, attn_mask=mask)
        if setup == "causal":
            return sdpa(a, b, c, is_causal=True)
        if setup == "dropout":
            tm.manual_seed(7)  # the same dropout mask on every call
            return sdpa(a, b, c, dropout_p=0.3)
        return sdpa(a, b, c)

    assert_gradients_close(fn, q, k, v, names=("query", "key", "value"))


def test_dropout_backends_agree_and_is_reproducible():
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, (2, 2, 6, 4), (2, 2, 6, 4), (2, 2, 6, 4), np.float64)
    assert_backends_agree(lambda a, b, c: sdpa(a, b, c, dropout_p=0.4), q, k, v, seed=3)
    tq, tk, tv = (tm.tensor(a) for a in (q, k, v))
    tm.manual_seed(11)
    first = sdpa(tq, tk, tv, dropout_p=0.4).data
    tm.manual_seed(11)
    np.testing.assert_array_equal(first, sdpa(tq, tk, tv, dropout_p=0.4).data)
    assert not np.allclose(first, sdpa(tq, tk, tv).data)  # dropout really changed something


def test_dropout_one_gives_zeros_as_torch():
    q, k, v = (tm.randn(2, 3, 4) for _ in range(3))
    assert np.all(sdpa(q, k, v, dropout_p=1.0).data == 0)


def test_dropout_keeps_expectation():
    """E[dropout(P)] = P: averaged over many independent draws (a batch of identical
    problems, one dropout mask each) the output approaches the dropout-free one."""
    tm.manual_seed(0)
    rng = np.random.default_rng(6)
    q, k, v = (tm.tensor(a) for a in _qkv(rng, (1, 4, 3), (1, 5, 3), (1, 5, 2), np.float64))
    many = tm.tensor(np.broadcast_to(q.data, (20000, 4, 3)))
    draws = sdpa(many, k, v, dropout_p=0.5).data.mean(axis=0)
    np.testing.assert_allclose(draws, sdpa(q, k, v).data[0], atol=0.03)


def test_float32_stays_float32(backend):
    q = tm.randn(2, 3, 4, dtype=tm.float32, requires_grad=True)
    out = sdpa(q, q, q, attn_mask=np.zeros((3, 3), np.float32))
    out.sum().backward()
    assert out.dtype == np.float32 and q.grad.dtype == np.float32


def test_bad_inputs():
    q, k, v = tm.randn(2, 5, 8), tm.randn(2, 7, 8), tm.randn(2, 7, 4)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*query.*key"):
        sdpa(q, tm.randn(2, 7, 6), v)  # E differs
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*key.*value"):
        sdpa(q, k, tm.randn(2, 6, 4))  # S differs
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*batch"):
        sdpa(q, tm.randn(3, 7, 8), tm.randn(3, 7, 4))
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*at least 2-D"):
        sdpa(tm.randn(8), tm.randn(8), tm.randn(8))
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*attn_mask.*is_causal"):
        sdpa(q, k, v, attn_mask=np.ones((5, 7), bool), is_causal=True)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*attn_mask.*broadcast"):
        sdpa(q, k, v, attn_mask=np.ones((5, 6), bool))
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*attn_mask.*dtype"):
        sdpa(q, k, v, attn_mask=np.zeros((5, 7), np.float64))
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*dtype"):
        sdpa(q, tm.randn(2, 7, 8, dtype=tm.float64), v)
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*query"):
        sdpa(q.data, k, v)
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*dropout_p"):
        sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*key.*floating"):
        sdpa(q, tm.tensor(np.ones((2, 7, 8), np.int64)), v)
