"""Attention results never alias reused buffers (issue 10, finding 1), on both backends.

The shapes are the degenerate ones where a transposed view happens to be contiguous (one
query token, one head, batch 1): a view of a per-thread workspace that escaped there was
overwritten by the next projection or the next call. Each test runs several calls with new
inputs and compares every call against PyTorch (float32 tolerances as test_attention.py:
rtol 1e-4 / atol 1e-5 on O(1) values; the bug gave errors of 0.1-0.4), and checks that
what call 1 returned is unchanged after the later calls.
"""

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm.nn.attention import MultiheadAttention, TransformerEncoderLayer

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _copy_state(mine, theirs):
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _pair(E, H, **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs)
    mine = MultiheadAttention(E, H, **kwargs)
    _copy_state(mine, theirs)
    return mine, theirs


# (N, L, S, E, H): one query token (the reported case), one head, batch 1, one token and batch 1
SHAPES = [(2, 1, 7, 16, 4), (3, 4, 5, 8, 1), (1, 3, 6, 8, 2), (1, 1, 1, 8, 2), (2, 1, 3, 4, 1)]


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("N,L,S,E,H", SHAPES)
def test_cross_attention_matches_torch_over_three_calls(backend, batch_first, N, L, S, E, H):
    mine, theirs = _pair(E, H, batch_first=batch_first)
    rng = np.random.default_rng(N * 100 + L * 10 + S)
    kept = []
    for call in range(3):
        shape_q, shape_kv = ((N, L, E), (N, S, E)) if batch_first else ((L, N, E), (S, N, E))
        q = rng.standard_normal(shape_q).astype(np.float32)
        kv = rng.standard_normal(shape_kv).astype(np.float32)
        g = rng.standard_normal(shape_q).astype(np.float32)
        tq, tkv = tm.tensor(q, requires_grad=True), tm.tensor(kv, requires_grad=True)
        pq, pkv = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
        out, w = mine(tq, tkv, tkv)
        pout, pw = theirs(pq, pkv, pkv)
        (out * tm.tensor(g)).sum().backward()
        (pout * torch.from_numpy(g)).sum().backward()
        msg = f"call {call + 1}"
        np.testing.assert_allclose(out.data, pout.detach().numpy(), **TOL, err_msg=msg)
        np.testing.assert_allclose(w.data, pw.detach().numpy(), **TOL, err_msg=msg)
        np.testing.assert_allclose(tq.grad, pq.grad.numpy(), **TOL, err_msg=msg)
        np.testing.assert_allclose(tkv.grad, pkv.grad.numpy(), **TOL, err_msg=msg)
        kept.append([a.copy() for a in (out.data, w.data, tq.grad, tkv.grad)] +
                    [out.data, w.data, tq.grad, tkv.grad])
    for copies_and_live in kept:  # call 1's (and 2's) results were not overwritten later
        for before, now in zip(copies_and_live[:4], copies_and_live[4:]):
            np.testing.assert_array_equal(before, now)


@pytest.mark.parametrize("batch_first", [True, False])
def test_stacked_single_token_cross_attention_gradients_on_first_call(backend, batch_first):
    """Two layers, each one query token: layer 2's projections must not overwrite the heads
    layer 1 saved for backward (the bug corrupted the forward and the gradients of call 1)."""
    torch.manual_seed(1)
    t1, t2 = (torch.nn.MultiheadAttention(16, 4, batch_first=batch_first) for _ in range(2))
    m1, m2 = (MultiheadAttention(16, 4, batch_first=batch_first) for _ in range(2))
    _copy_state(m1, t1)
    _copy_state(m2, t2)
    rng = np.random.default_rng(11)
    q = rng.standard_normal((2, 1, 16) if batch_first else (1, 2, 16)).astype(np.float32)
    kv = rng.standard_normal((2, 7, 16) if batch_first else (7, 2, 16)).astype(np.float32)
    tq, tkv = tm.tensor(q, requires_grad=True), tm.tensor(kv, requires_grad=True)
    pq, pkv = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    h = m1(tq, tkv, tkv, need_weights=False)[0]
    out = m2(h, tkv, tkv, need_weights=False)[0]
    ph = t1(pq, pkv, pkv, need_weights=False)[0]
    pout = t2(ph, pkv, pkv, need_weights=False)[0]
    out.sum().backward()
    pout.sum().backward()
    np.testing.assert_allclose(out.data, pout.detach().numpy(), **TOL)
    np.testing.assert_allclose(tq.grad, pq.grad.numpy(), **TOL)
    np.testing.assert_allclose(tkv.grad, pkv.grad.numpy(), **TOL)
    for mine, theirs in ((m1, t1), (m2, t2)):
        got = dict(mine.named_parameters())
        for name, p in theirs.named_parameters():
            np.testing.assert_allclose(got[name].grad, p.grad.numpy(), **TOL, err_msg=name)


def test_stacked_single_token_encoder_layers_gradients_on_first_call(backend):
    """Self-attention over one token of batch 1: every projection view is contiguous."""
    torch.manual_seed(2)
    theirs = [torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0) for _ in range(3)]
    mine = [TransformerEncoderLayer(8, 2, 16, dropout=0.0) for _ in range(3)]
    for a, b in zip(mine, theirs):
        _copy_state(a, b)
    x = np.random.default_rng(12).standard_normal((1, 1, 8)).astype(np.float32)
    tx, px = tm.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    h, ph = tx, px
    for a, b in zip(mine, theirs):
        h, ph = a(h), b(ph)
    (h * h).sum().backward()
    (ph * ph).sum().backward()
    np.testing.assert_allclose(h.data, ph.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad, px.grad.numpy(), **TOL)
    for a, b in zip(mine, theirs):
        got = dict(a.named_parameters())
        for name, p in b.named_parameters():
            np.testing.assert_allclose(got[name].grad, p.grad.numpy(), **TOL, err_msg=name)


# (batch, L, S, E): one token, one key, batch 1
SDPA_SHAPES = [((2, 3), 1, 5, 4), ((1,), 4, 4, 8), ((1, 1), 1, 1, 2), ((3, 1), 2, 6, 4)]


@pytest.mark.parametrize("batch,L,S,E", SDPA_SHAPES)
def test_sdpa_results_of_call_one_survive_later_calls(backend, batch, L, S, E):
    rng = np.random.default_rng(L * 10 + S)
    kept = []
    for _ in range(3):
        q, k, v = (tm.tensor(rng.standard_normal(batch + (n, E)), requires_grad=True)
                   for n in (L, S, S))
        out = F.scaled_dot_product_attention(q, k, v)
        out.backward(tm.tensor(rng.standard_normal(out.shape)))
        pq, pk, pv = (torch.tensor(t.data, requires_grad=True) for t in (q, k, v))
        pout = torch.nn.functional.scaled_dot_product_attention(pq, pk, pv)
        np.testing.assert_allclose(out.data, pout.detach().numpy(), rtol=1e-10, atol=1e-12)
        live = [out.data, q.grad, k.grad, v.grad]
        kept.append((live, [a.copy() for a in live]))
    for live, copies in kept:
        for now, before in zip(live, copies):
            np.testing.assert_array_equal(now, before)
