"""tinymm.nn.utils: gradient clipping, parameter vectors, packing helpers vs PyTorch."""

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)
from tinymm.nn.utils.rnn import (
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)

torch = pytest.importorskip("torch")
tr = torch.nn.utils.rnn


def _params_with_grads(seed=0, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    mine, theirs = [], []
    for s in shapes:
        w, g = rng.standard_normal(s).astype(dtype), (scale * rng.standard_normal(s)).astype(dtype)
        p = tm.nn.Parameter(w.copy())
        p.grad = g.copy()
        t = torch.nn.Parameter(torch.tensor(w))
        t.grad = torch.tensor(g)
        mine.append(p)
        theirs.append(t)
    return mine, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    mine, theirs = _params_with_grads()
    mine[1].grad = None
    theirs[1].grad = None
    total_m = clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(float(total_m), float(total_t), rtol=1e-12)
    assert mine[1].grad is None
    for p, t in zip(mine, theirs):
        if t.grad is not None:
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_float32_keeps_dtype_and_limits_the_norm():
    mine, _ = _params_with_grads(dtype=np.float32, scale=10.0)
    total = clip_grad_norm_(iter(mine), 1.0)
    assert total.dtype == np.float32 and float(total) > 1.0
    after = math.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in mine))
    assert all(p.grad.dtype == np.float32 for p in mine)
    assert after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    mine, _ = _params_with_grads()
    mine[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="clip_grad_norm_: .*non-finite"):
        clip_grad_norm_(mine, 1.0, error_if_nonfinite=True)
    assert math.isinf(float(clip_grad_norm_(mine, 1.0)))


def test_clip_grad_norm_no_grads_and_errors():
    p = tm.nn.Parameter(np.zeros(3))
    assert float(clip_grad_norm_([p], 1.0)) == 0.0
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be"):
        clip_grad_norm_(3, 1.0)
    with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a real number"):
        clip_grad_norm_([p], "1")
    with pytest.raises(TypeError, match=r"clip_grad_value_: parameters\[0\] must be a Tensor"):
        clip_grad_value_([np.zeros(3)], 1.0)


def test_clip_grad_value_matches_torch():
    mine, theirs = _params_with_grads(scale=3.0)
    clip_grad_value_(mine, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(mine, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_parameters_vector_round_trip_and_gradient():
    lin = tm.nn.Linear(3, 2, dtype=np.float64)
    vec = parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.data[:6], lin.weight.data.ravel())
    (vec * tm.tensor(np.arange(8.0))).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad.ravel(), np.arange(6.0))
    np.testing.assert_array_equal(lin.bias.grad, [6.0, 7.0])
    vector_to_parameters(tm.tensor(np.arange(8.0) + 1), lin.parameters())
    np.testing.assert_array_equal(lin.weight.data, np.arange(1.0, 7.0).reshape(2, 3))
    np.testing.assert_array_equal(lin.bias.data, [7.0, 8.0])
    with pytest.raises(ValueError, match="vector_to_parameters: vec has 7 elements"):
        vector_to_parameters(tm.zeros(7), lin.parameters())
    with pytest.raises(TypeError, match="vector_to_parameters: vec must be a Tensor"):
        vector_to_parameters(np.zeros(8), lin.parameters())
    with pytest.raises(TypeError, match="parameters_to_vector: parameters must be an iterable"):
        parameters_to_vector(lin.weight)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_pad_round_trip_matches_torch(batch_first, enforce_sorted):
    rng = np.random.default_rng(0)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    shape = (4, 5, 2, 3) if batch_first else (5, 4, 2, 3)
    x = rng.standard_normal(shape)
    xm, xt = tm.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pm = pack_padded_sequence(xm, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = tr.pack_padded_sequence(xt, lengths, batch_first=batch_first,
                                 enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(pm.data.data, pt.data.detach().numpy())
    assert pm.batch_sizes.tolist() == pt.batch_sizes.tolist()
    for a, b in ((pm.sorted_indices, pt.sorted_indices), (pm.unsorted_indices, pt.unsorted_indices)):
        assert (a is None) == (b is None) and (a is None or a.tolist() == b.tolist())
    um, lm = pad_packed_sequence(pm, batch_first=batch_first, padding_value=-2.0, total_length=6)
    ut, lt = tr.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-2.0,
                                    total_length=6)
    np.testing.assert_array_equal(um.data, ut.detach().numpy())
    assert lm.tolist() == lt.tolist() and lm.dtype == np.int64
    r = rng.standard_normal(um.shape)
    (um * tm.tensor(r)).sum().backward()
    (ut * torch.from_numpy(r)).sum().backward()
    np.testing.assert_array_equal(xm.grad, xt.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    sm = [tm.tensor(s, requires_grad=True) for s in seqs]
    st = [torch.tensor(s, requires_grad=True) for s in seqs]
    om = pad_sequence(sm, batch_first=batch_first, padding_value=9.0, padding_side=padding_side)
    ot = tr.pad_sequence(st, batch_first=batch_first, padding_value=9.0,
                         padding_side=padding_side)
    np.testing.assert_array_equal(om.data, ot.detach().numpy())
    r = rng.standard_normal(om.shape)
    (om * tm.tensor(r)).sum().backward()
    (ot * torch.from_numpy(r)).sum().backward()
    for a, b in zip(sm, st):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())


def test_pack_sequence_matches_torch():
    seqs = [np.arange(n, dtype=np.float64).reshape(n, 1) + n for n in (1, 3, 2)]
    pm = pack_sequence([tm.tensor(s) for s in seqs], enforce_sorted=False)
    pt = tr.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(pm.data.data, pt.data.numpy())


def test_gradcheck_pack_then_pad():
    x = tm.tensor(np.random.default_rng(2).standard_normal((4, 3, 2)), requires_grad=True)

    def fn(t):
        packed = pack_padded_sequence(t, [1, 4, 2], enforce_sorted=False)
        return pad_packed_sequence(packed, padding_value=1.5)[0] * 2.0

    assert tm.gradcheck(fn, (x,))


def test_packing_errors():
    x = tm.zeros(4, 3, 2)
    with pytest.raises(ValueError, match="pack_padded_sequence: lengths must be sorted in decreasing"):
        pack_padded_sequence(x, [1, 4, 2])
    with pytest.raises(ValueError, match="pack_padded_sequence: every length must be > 0"):
        pack_padded_sequence(x, [4, 0, 0])
    with pytest.raises(ValueError, match="pack_padded_sequence: lengths must be <= the padded"):
        pack_padded_sequence(x, [5, 1, 1])
    with pytest.raises(ValueError, match="pack_padded_sequence: lengths has 2 entries"):
        pack_padded_sequence(x, [4, 1])
    with pytest.raises(TypeError, match="pack_padded_sequence: input must be a Tensor"):
        pack_padded_sequence(np.zeros((4, 3)), [4, 1, 1])
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="pad_packed_sequence: total_length=3 is smaller"):
        pad_packed_sequence(packed, total_length=3)
    with pytest.raises(TypeError, match="pad_packed_sequence: sequence must be a PackedSequence"):
        pad_packed_sequence(x)
    with pytest.raises(ValueError, match=r"pad_sequence: sequences\[1\] has shape"):
        pad_sequence([tm.zeros(2, 3), tm.zeros(2, 4)])
    with pytest.raises(ValueError, match="pad_sequence: padding_side must be"):
        pad_sequence([tm.zeros(2, 3)], padding_side="middle")
