"""RNN/LSTM/GRU on PackedSequences: PyTorch parity of outputs, final states and every gradient.

Float64, both backends, state_dicts copied from torch. Tolerance: rtol 1e-9 / atol 1e-11,
the same as the unpacked recurrent tests (a handful of steps of well-conditioned cells: the
two implementations differ only in summation order, ~1e-15 relative per step).
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

torch = pytest.importorskip("torch")
tr = torch.nn.utils.rnn

TOL = dict(rtol=1e-9, atol=1e-11)
CASES = {
    "plain": {},
    "bidirectional": {"bidirectional": True},
    "deep_bidirectional": {"num_layers": 2, "bidirectional": True},
    "three_layers_no_bias": {"num_layers": 3, "bias": False},
}
KINDS = {"RNN": {}, "RNN_relu": {"nonlinearity": "relu"}, "LSTM": {}, "GRU": {}}


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _pair(kind, kwargs, input_size=3, hidden=4, seed=0):
    cls = kind.split("_")[0]
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, cls)(input_size, hidden, **KINDS[kind], **kwargs).double()
    mine = getattr(tm.nn, cls)(input_size, hidden, **KINDS[kind], **kwargs, dtype=np.float64)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return mine, theirs


def _states(out, lstm):
    return list(out[1]) if lstm else [out[1]]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_matches_torch(backend, kind, case, enforce_sorted):
    mine, theirs = _pair(kind, CASES[case])
    lstm = kind == "LSTM"
    rng = np.random.default_rng(1)
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 4]
    x = rng.standard_normal((6, 5, 3))
    rows = mine.num_layers * (2 if mine.bidirectional else 1)
    hx = [rng.standard_normal((rows, 5, 4)) for _ in range(2 if lstm else 1)]
    xm, xt = tm.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hm = [tm.tensor(h, requires_grad=True) for h in hx]
    ht = [torch.tensor(h, requires_grad=True) for h in hx]
    pm = pack_padded_sequence(xm, lengths, enforce_sorted=enforce_sorted)
    pt = tr.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    out_m = mine(pm, tuple(hm) if lstm else hm[0])
    out_t = theirs(pt, tuple(ht) if lstm else ht[0])
    assert isinstance(out_m[0], PackedSequence)
    np.testing.assert_allclose(out_m[0].data.data, out_t[0].data.detach().numpy(), **TOL)
    assert out_m[0].batch_sizes.tolist() == out_t[0].batch_sizes.tolist()
    padded_m, len_m = pad_packed_sequence(out_m[0])
    padded_t, len_t = tr.pad_packed_sequence(out_t[0])
    assert len_m.tolist() == len_t.tolist() == lengths
    outs_m = [padded_m, *_states(out_m, lstm)]
    outs_t = [padded_t, *_states(out_t, lstm)]
    loss_m, loss_t = 0, 0
    for om, ot in zip(outs_m, outs_t):
        np.testing.assert_allclose(om.data, ot.detach().numpy(), **TOL)
        r = rng.standard_normal(om.shape)
        loss_m = loss_m + (om * tm.tensor(r)).sum()
        loss_t = loss_t + (ot * torch.from_numpy(r)).sum()
    loss_m.backward()
    loss_t.backward()
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), **TOL, err_msg="input")
    for a, b in zip(hm, ht):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg="hx")
    params = dict(mine.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params[name].grad, p.grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_packed_batch_first_without_hx(backend, kind):
    mine, theirs = _pair(kind, {"batch_first": True, "bidirectional": True})
    x = np.random.default_rng(2).standard_normal((4, 7, 3))
    lengths = [3, 7, 7, 1]
    pm = pack_padded_sequence(tm.tensor(x), lengths, batch_first=True, enforce_sorted=False)
    pt = tr.pack_padded_sequence(torch.tensor(x), lengths, batch_first=True, enforce_sorted=False)
    out_m, out_t = mine(pm), theirs(pt)
    padded_m, _ = pad_packed_sequence(out_m[0], batch_first=True, total_length=8)
    padded_t, _ = tr.pad_packed_sequence(out_t[0], batch_first=True, total_length=8)
    np.testing.assert_allclose(padded_m.data, padded_t.detach().numpy(), **TOL)
    for a, b in zip(_states(out_m, kind == "LSTM"), _states(out_t, kind == "LSTM")):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL)


def test_equal_lengths_match_the_unpacked_forward():
    mine, _ = _pair("LSTM", {"num_layers": 2, "bidirectional": True})
    x = tm.tensor(np.random.default_rng(3).standard_normal((5, 3, 3)))
    out_p, (h_p, c_p) = mine(pack_padded_sequence(x, [5, 5, 5]))
    out_u, (h_u, c_u) = mine(x)
    np.testing.assert_array_equal(pad_packed_sequence(out_p)[0].data, out_u.data)
    np.testing.assert_array_equal(h_p.data, h_u.data)


def test_packed_errors():
    lstm = tm.nn.LSTM(3, 4, dtype=np.float64)
    packed = pack_padded_sequence(tm.tensor(np.zeros((4, 2, 5))), [4, 2])
    with pytest.raises(ValueError, match="LSTM: a PackedSequence's data must have shape"):
        lstm(packed)
    packed = pack_padded_sequence(tm.tensor(np.zeros((4, 2, 3))), [4, 2])
    with pytest.raises(ValueError, match=r"LSTM: h_0 must have shape \(1, 2, 4\)"):
        lstm(packed, (tm.zeros(1, 3, 4, dtype=tm.float64), tm.zeros(1, 3, 4, dtype=tm.float64)))


def test_malformed_packed_sequence():
    lstm = tm.nn.LSTM(3, 4, dtype=np.float64)
    data = tm.tensor(np.zeros((5, 3)))
    bad = PackedSequence(data, tm.tensor(np.array([2, 3], np.int64)))
    with pytest.raises(ValueError, match="LSTM: batch_sizes must be a non-empty decreasing"):
        lstm(bad)
    short = PackedSequence(data, tm.tensor(np.array([2, 2], np.int64)))
    with pytest.raises(ValueError, match="LSTM: data has 5 rows but batch_sizes sum to 4"):
        lstm(short)
