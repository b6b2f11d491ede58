"""nll_loss, weighted and soft-target cross_entropy, binary_cross_entropy, l1, smooth L1, Huber,
KL divergence and cosine embedding losses (functional and modules): PyTorch parity for every
reduction on both backends, float64 gradient checks, legacy flags, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm import nn
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]
REDUCTIONS = ["mean", "sum", "none"]


def _torch():
    return pytest.importorskip("torch")


@st.composite
def class_case(draw):
    """Logits (C,), (N, C) or (N, C, d), integer targets with some ignored, class weights."""
    c = draw(st.integers(2, 4))
    layout = draw(st.sampled_from(["C", "NC", "NCd"]))
    n = draw(st.integers(1, 3))
    shape = {"C": (c,), "NC": (n, c), "NCd": (n, c, draw(st.integers(1, 3)))}[layout]
    t_shape = () if layout == "C" else (n,) + shape[2:]
    x = draw(tst.arrays(shape, np.float64, min_value=-3, max_value=3), label="input")
    t = draw(tst.arrays(t_shape, np.int64, min_value=0, max_value=c - 1), label="target")
    ignore = draw(st.sampled_from([-100, 0]))
    if t.size > 1 and draw(st.booleans()):
        t.reshape(-1)[0] = ignore
    if np.all(t == ignore):
        t = np.full(t_shape, 1, np.int64)
    w = draw(tst.arrays((c,), np.float64, min_value=0.2, max_value=2.0), label="weight")
    return x, t, w, ignore


# ----------------------------------------------------------------------------- nll / CE
@pytest.mark.parametrize("backend", BACKENDS)
@given(case=class_case(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_nll_loss_matches_torch(backend, case, reduction, weighted, dtype):
    torch = _torch()
    x, t, w, ignore = case
    kw = {"reduction": reduction, "ignore_index": ignore}
    args = [x.astype(dtype), t] + ([w.astype(dtype)] if weighted else [])
    with tm.backend(backend):
        assert_matches_torch(lambda a, b, *ww: F.nll_loss(a, b, *ww, **kw),
                             lambda a, b, *ww: torch.nn.functional.nll_loss(a, b, *ww, **kw),
                             *args, requires_grad=[True, False] + [False] * weighted)


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=class_case(), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.25]), dtype=st.sampled_from([np.float32, np.float64]))
def test_weighted_cross_entropy_matches_torch(backend, case, reduction, smoothing, dtype):
    torch = _torch()
    x, t, w, ignore = case
    kw = {"reduction": reduction, "ignore_index": ignore, "label_smoothing": smoothing}
    with tm.backend(backend):
        assert_matches_torch(lambda a, b, ww: F.cross_entropy(a, b, ww, **kw),
                             lambda a, b, ww: torch.nn.functional.cross_entropy(a, b, ww, **kw),
                             x.astype(dtype), t, w.astype(dtype),
                             requires_grad=[True, False, False])


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=class_case(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.25]), dtype=st.sampled_from([np.float32, np.float64]))
def test_probability_target_cross_entropy_matches_torch(backend, case, reduction, weighted,
                                                        smoothing, dtype):
    torch = _torch()
    x, _, w, _ = case
    rng = np.random.default_rng(int(abs(x).sum() * 1000) % 2**32)
    y = rng.dirichlet(np.ones(x.shape[0 if x.ndim == 1 else 1]), size=x.size // x.shape[
        0 if x.ndim == 1 else 1])  # one distribution per prediction, moved into place below
    y = (y.reshape(x.shape) if x.ndim == 1 else
         np.moveaxis(y.reshape((x.shape[0],) + x.shape[2:] + (x.shape[1],)), -1, 1))
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    args = [x.astype(dtype), np.ascontiguousarray(y, dtype=dtype)] + ([w.astype(dtype)] if weighted else [])
    with tm.backend(backend):  # gradients for input and the probability target
        assert_matches_torch(lambda a, b, *ww: F.cross_entropy(a, b, *ww, **kw),
                             lambda a, b, *ww: torch.nn.functional.cross_entropy(a, b, *ww, **kw),
                             *args, requires_grad=[True, True] + [False] * weighted)


@given(case=class_case(), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.3]))
def test_class_losses_gradients(case, reduction, smoothing):
    x, t, w, ignore = case
    xt = tm.tensor(x, requires_grad=True)
    wt = tm.tensor(w)
    with tm.backend("numpy"):
        assert_gradients_close(lambda a: F.nll_loss(a, t, wt, ignore_index=ignore,
                                                    reduction=reduction), xt)
        assert_gradients_close(lambda a: F.cross_entropy(a, t, wt, ignore_index=ignore,
                                                         reduction=reduction,
                                                         label_smoothing=smoothing), xt)
    y = (np.abs(x) + 0.1) / (np.abs(x) + 0.1).sum(axis=0 if x.ndim == 1 else 1, keepdims=True)
    assert_gradients_close(lambda a, b: F.cross_entropy(a, b, wt, reduction=reduction,
                                                        label_smoothing=smoothing),
                           xt, tm.tensor(y, requires_grad=True))


def test_all_ignored_targets_give_nan_as_torch():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.full(3, -100)
    w = np.ones(4)
    xt, tt, wt = torch.tensor(x), torch.tensor(t), torch.tensor(w)
    for ours, ref in ((F.nll_loss(tm.tensor(x), t), torch.nn.functional.nll_loss(xt, tt)),
                      (F.cross_entropy(tm.tensor(x), t, tm.tensor(w)),
                       torch.nn.functional.cross_entropy(xt, tt, wt))):
        assert np.isnan(ours.item()) and np.isnan(ref.item())


def test_legacy_reduction_flags_follow_torch():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.array([0, 3, 1])
    for size_average, reduce in ((None, False), (False, None), (True, True), (False, False)):
        ours = F.nll_loss(tm.tensor(x), t, size_average=size_average, reduce=reduce)
        ref = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t),
                                           size_average=size_average, reduce=reduce)
        np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-12)
        m = nn.L1Loss(size_average=size_average, reduce=reduce)
        tm_m = torch.nn.L1Loss(size_average=size_average, reduce=reduce)
        assert m.reduction == tm_m.reduction


# ----------------------------------------------------------------------------- pointwise
POINTWISE = {
    "l1_loss": ({}, (0.0,)),
    "smooth_l1_loss": ({"beta": 0.7}, (0.0, 0.7, -0.7)),
    "smooth_l1_loss_l1": ({"beta": 0.0}, (0.0,)),
    "huber_loss": ({"delta": 1.3}, (0.0, 1.3, -1.3)),
    "mse_loss": ({}, ()),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(POINTWISE))
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_pointwise_losses_match_torch(backend, name, data, reduction, dtype):
    torch = _torch()
    kw, _ = POINTWISE[name]
    fn = "smooth_l1_loss" if name == "smooth_l1_loss_l1" else name
    shape = data.draw(tst.shapes(0, 3))
    x = data.draw(tst.arrays(shape, dtype, min_value=-3, max_value=3), label="input")
    y = data.draw(tst.arrays(shape, dtype, min_value=-3, max_value=3), label="target")
    with tm.backend(backend):
        assert_matches_torch(lambda a, b: getattr(F, fn)(a, b, reduction=reduction, **kw),
                             lambda a, b: getattr(torch.nn.functional, fn)(a, b, reduction=reduction,
                                                                           **kw),
                             x, y, names=("input", "target"))


@pytest.mark.parametrize("name", sorted(POINTWISE))
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS))
def test_pointwise_losses_gradients(name, data, reduction):
    kw, kinks = POINTWISE[name]
    fn = "smooth_l1_loss" if name == "smooth_l1_loss_l1" else name
    shape = data.draw(tst.shapes(1, 3))
    y = data.draw(tst.arrays(shape, np.float64), label="target")
    d = data.draw(tst.arrays(shape, np.float64, away_from=kinks, margin=0.02), label="x - y")
    x, yt = tm.tensor(y + d, requires_grad=True), tm.tensor(y, requires_grad=True)
    assert_gradients_close(lambda a, b: getattr(F, fn)(a, b, reduction=reduction, **kw), x, yt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_l1_and_huber_match_torch(reduction):
    torch = _torch()
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2, (3, 4))
    for fn in ("l1_loss", "huber_loss"):
        assert_matches_torch(lambda a, b, ww, fn=fn: getattr(F, fn)(a, b, reduction=reduction,
                                                                   weight=ww),
                             lambda a, b, ww, fn=fn: getattr(torch.nn.functional, fn)(
                                 a, b, reduction=reduction, weight=ww),
                             x, y, w, requires_grad=[True, True, False])


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_binary_cross_entropy_matches_torch(backend, data, reduction, weighted, dtype):
    torch = _torch()
    shape = data.draw(tst.shapes(1, 3))
    p = data.draw(tst.arrays(shape, dtype, min_value=0.02, max_value=0.98), label="input")
    t = data.draw(tst.arrays(shape, dtype, min_value=0.0, max_value=1.0), label="target")
    w = data.draw(tst.arrays(shape[-1:], dtype, min_value=0.1, max_value=2.0), label="weight")
    args = [p, t] + ([w] if weighted else [])
    with tm.backend(backend):
        assert_matches_torch(lambda a, b, *ww: F.binary_cross_entropy(a, b, *ww, reduction=reduction),
                             lambda a, b, *ww: torch.nn.functional.binary_cross_entropy(
                                 a, b, *ww, reduction=reduction),
                             *args, requires_grad=[True, True] + [False] * weighted)
    pt = tm.tensor(p.astype(np.float64), requires_grad=True)
    tt = tm.tensor(t.astype(np.float64), requires_grad=True)
    assert_gradients_close(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), pt, tt)


def test_binary_cross_entropy_clamps_logs_at_minus_100_as_torch():
    torch = _torch()
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    assert_matches_torch(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                         lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
                         p, t)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS + ["batchmean"]),
       log_target=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_kl_div_matches_torch_and_gradients(backend, data, reduction, log_target, dtype):
    torch = _torch()
    shape = data.draw(tst.shapes(1, 3))
    x = data.draw(tst.arrays(shape, dtype, min_value=-3, max_value=0), label="input")
    lo, hi = (-3.0, 0.0) if log_target else (0.05, 1.0)  # t > 0: its gradient is finite
    t = data.draw(tst.arrays(shape, dtype, min_value=lo, max_value=hi), label="target")
    kw = {"reduction": reduction, "log_target": log_target}
    with tm.backend(backend):
        assert_matches_torch(lambda a, b: F.kl_div(a, b, **kw),
                             lambda a, b: torch.nn.functional.kl_div(a, b, **kw), x, t)
    assert_gradients_close(lambda a, b: F.kl_div(a, b, **kw),
                           tm.tensor(x.astype(np.float64), requires_grad=True),
                           tm.tensor(t.astype(np.float64), requires_grad=True))


def test_kl_div_zero_target_is_zero_loss_as_torch():
    torch = _torch()
    x, t = np.array([[-1.0, -2.0]]), np.array([[0.0, 1.0]])
    assert_matches_torch(lambda a, b: F.kl_div(a, b, reduction="sum"),
                         lambda a, b: torch.nn.functional.kl_div(a, b, reduction="sum"),
                         x, t, requires_grad=[True, False])


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), margin=st.sampled_from([0.0, 0.3, -0.2]),
       batched=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_cosine_embedding_loss_matches_torch(backend, data, reduction, margin, batched, dtype):
    torch = _torch()
    d = data.draw(st.integers(1, 4))
    n = data.draw(st.integers(1, 4))
    shape = (n, d) if batched else (d,)
    a = data.draw(tst.arrays(shape, dtype, away_from=(0.0,), margin=0.1), label="input1")
    b = data.draw(tst.arrays(shape, dtype, away_from=(0.0,), margin=0.1), label="input2")
    y = data.draw(tst.arrays(shape[:-1], np.int64, elements=st.sampled_from([-1, 1])), label="target")
    kw = {"margin": margin, "reduction": reduction}
    with tm.backend(backend):
        assert_matches_torch(lambda p, q, t: F.cosine_embedding_loss(p, q, t, **kw),
                             lambda p, q, t: torch.nn.functional.cosine_embedding_loss(p, q, t, **kw),
                             a, b, y, names=("input1", "input2", "target"))


def test_cosine_embedding_loss_gradients():
    rng = np.random.default_rng(0)
    a = tm.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    b = tm.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    y = np.array([1, -1, 1, -1, -1])
    cos = (a.data * b.data).sum(1) / np.linalg.norm(a.data, axis=1) / np.linalg.norm(b.data, axis=1)
    margin = float(np.median(cos[y == -1])) + 0.05  # one hinge active, one not; no kink nearby
    assert_gradients_close(lambda p, q: F.cosine_embedding_loss(p, q, y, margin), a, b)


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_modules_match_torch(backend):
    torch = _torch()
    rng = np.random.default_rng(0)
    logits, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    w = rng.uniform(0.5, 2, 3)
    probs, bt = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    cases = [
        (nn.NLLLoss(tm.tensor(w), reduction="sum"), torch.nn.NLLLoss(torch.tensor(w), reduction="sum"),
         (logp, t)),
        (nn.CrossEntropyLoss(tm.tensor(w), label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(torch.tensor(w), label_smoothing=0.1), (logits, t)),
        (nn.BCELoss(tm.tensor(w)), torch.nn.BCELoss(torch.tensor(w)), (probs, bt)),
        (nn.L1Loss(), torch.nn.L1Loss(), (a, b)),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), (a, b)),
        (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), (a, b)),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), (logp, probs)),
        (nn.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1),
         (a, b, np.array([1, -1, -1, 1]))),
    ]
    with tm.backend(backend):
        for ours, theirs, args in cases:
            flags = [np.asarray(v).dtype.kind == "f" for v in args]
            assert_matches_torch(ours, theirs, *args, requires_grad=flags)
            assert list(ours.state_dict()) == list(theirs.state_dict())  # the weight buffer


def test_loss_modules_defaults_equal_torch():
    torch = _torch()
    pairs = [(nn.NLLLoss(), torch.nn.NLLLoss()), (nn.BCELoss(), torch.nn.BCELoss()),
             (nn.L1Loss(), torch.nn.L1Loss()), (nn.SmoothL1Loss(), torch.nn.SmoothL1Loss()),
             (nn.HuberLoss(), torch.nn.HuberLoss()), (nn.KLDivLoss(), torch.nn.KLDivLoss()),
             (nn.CosineEmbeddingLoss(), torch.nn.CosineEmbeddingLoss()),
             (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss())]
    for ours, theirs in pairs:
        for attr in ("reduction", "ignore_index", "beta", "delta", "log_target", "margin",
                     "label_smoothing"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), (ours, attr)


# ----------------------------------------------------------------------------- bad input
def test_losses_reject_bad_input():
    x, t = tm.randn(3, 4), np.array([0, 1, 2])
    with pytest.raises(IndexError, match=r"nll_loss: target holds class 7, outside \[0, 4\)"):
        F.nll_loss(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(4,\)"):
        F.nll_loss(x, t, weight=tm.ones(3))
    with pytest.raises(TypeError, match="nll_loss: weight must be a Tensor"):
        F.nll_loss(x, t, weight=np.ones(4))
    with pytest.raises(ValueError, match="nll_loss: reduction must be one of"):
        F.nll_loss(x, t, reduction="batchmean")
    with pytest.raises(TypeError, match="nll_loss: size_average must be a bool or None"):
        F.nll_loss(x, t, size_average="yes")
    with pytest.raises(ValueError, match="cross_entropy: ignore_index is not supported for "
                                         "probability targets"):
        F.cross_entropy(x, tm.ones(3, 4) / 4, ignore_index=1)
    with pytest.raises(TypeError, match="cross_entropy: probability target has dtype float64"):
        F.cross_entropy(x, tm.ones(3, 4, dtype=np.float64) / 4)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of input must be "
                                         r"in \[0, 1\]"):
        F.binary_cross_entropy(tm.tensor([0.5, 1.5]), tm.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(3,\) does not "
                                         "broadcast"):
        F.binary_cross_entropy(tm.rand(2, 2), tm.rand(2, 2), weight=tm.ones(3))
    with pytest.raises(ValueError, match=r"l1_loss: target shape \(2,\) must equal input shape"):
        F.l1_loss(tm.randn(3), tm.randn(2))
    with pytest.raises(ValueError, match=r"l1_loss: weight must have the input's shape"):
        F.l1_loss(tm.randn(3), tm.randn(3), weight=tm.ones(1))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be a finite number >= 0"):
        F.smooth_l1_loss(tm.randn(3), tm.randn(3), beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
        F.huber_loss(tm.randn(3), tm.randn(3), delta=0.0)
    with pytest.raises(TypeError, match="huber_loss: input has dtype float32 but target has float64"):
        F.huber_loss(tm.randn(3), tm.randn(3, dtype=np.float64))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(tm.randn(3), tm.rand(3), reduction="avg")
    with pytest.raises(TypeError, match="kl_div: log_target must be a bool"):
        F.kl_div(tm.randn(3), tm.rand(3), log_target=1)
    with pytest.raises(ValueError, match="cosine_embedding_loss: target values must be 1 or -1"):
        F.cosine_embedding_loss(tm.randn(2, 3), tm.randn(2, 3), np.array([1, 0]))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target must have shape \(2,\)"):
        F.cosine_embedding_loss(tm.randn(2, 3), tm.randn(2, 3), np.array([1]))
    with pytest.raises(ValueError, match="cosine_embedding_loss: input1 and input2 must have one shape"):
        F.cosine_embedding_loss(tm.randn(2, 3), tm.randn(2, 4), np.array([1, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: input must have at least one class"):
        F.cross_entropy(tm.randn(3, 0), np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="NLLLoss: weight must be a Tensor or None"):
        nn.NLLLoss(weight=[1.0, 2.0])


# ----------------------------------------------------------------------------- weights
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       pos=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_bce_with_logits_weight_and_pos_weight_match_torch(data, reduction, weighted, pos, dtype):
    torch = _torch()
    shape = data.draw(tst.shapes(1, 3))
    x = data.draw(tst.arrays(shape, dtype, min_value=-6, max_value=6), label="input")
    t = data.draw(tst.arrays(shape, dtype, min_value=0.0, max_value=1.0), label="target")
    w = data.draw(tst.arrays(shape, dtype, min_value=0.1, max_value=2.0), label="weight")
    pw = data.draw(tst.arrays(shape[-1:], dtype, min_value=0.2, max_value=3.0), label="pos_weight")
    kw_names = (["weight"] if weighted else []) + (["pos_weight"] if pos else [])
    extra = ([w] if weighted else []) + ([pw] if pos else [])

    def ours(a, b, *e):
        return F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **dict(zip(kw_names, e)))

    def theirs(a, b, *e):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, **dict(zip(kw_names, e)))

    assert_matches_torch(ours, theirs, x, t, *extra,
                         requires_grad=[True, True] + [False] * len(extra))
    assert_gradients_close(ours, tm.tensor(x.astype(np.float64), requires_grad=True),
                           tm.tensor(t.astype(np.float64), requires_grad=True),
                           *[tm.tensor(e.astype(np.float64)) for e in extra])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_mse_matches_torch_and_modules_keep_weight_buffers(reduction):
    torch = _torch()
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2, (3, 4))
    assert_matches_torch(lambda a, b, ww: F.mse_loss(a, b, reduction=reduction, weight=ww),
                         lambda a, b, ww: torch.nn.functional.mse_loss(a, b, reduction=reduction,
                                                                       weight=ww),
                         x, y, w, requires_grad=[True, True, False])
    pw = rng.uniform(0.5, 2, 4)
    ours = nn.BCEWithLogitsLoss(tm.tensor(w), reduction=reduction, pos_weight=tm.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(torch.tensor(w), reduction=reduction,
                                        pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    assert_matches_torch(ours, theirs, x, rng.random((3, 4)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape "
                                         r"\(3,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(tm.tensor(x), tm.tensor(y), pos_weight=tm.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: weight must have the input's shape"):
        F.mse_loss(tm.tensor(x), tm.tensor(y), weight=tm.ones(4))
