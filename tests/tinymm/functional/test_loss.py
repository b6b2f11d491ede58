"""cross_entropy, mse_loss, binary_cross_entropy_with_logits, one_hot: gradients, parity, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm.testing import assert_backends_agree, assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BACKENDS = ["numpy", "numba"]
REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def ce_case(draw, scale=3.0):
    """Logits (C,), (N, C) or (N, C, d1[, d2]), integer targets, smoothing and ignore_index."""
    c = draw(st.integers(2, 5))
    layout = draw(st.sampled_from(["C", "NC", "NCd", "NCdd"]))
    n = draw(st.integers(1, 3))
    extra = {"C": (), "NC": (), "NCd": (draw(st.integers(1, 3)),),
             "NCdd": (draw(st.integers(1, 2)), draw(st.integers(1, 3)))}[layout]
    shape = (c,) if layout == "C" else (n, c) + extra
    t_shape = () if layout == "C" else (n,) + extra
    x = draw(tst.tensors(shape, min_value=-scale, max_value=scale), label="input")
    target = draw(tst.arrays(t_shape, np.int64, min_value=0, max_value=c - 1), label="target")
    ignore_index = draw(st.sampled_from([-100, 0, c - 1]))
    if ignore_index == -100 and target.size > 1 and draw(st.booleans()):
        target.reshape(-1)[0] = -100  # one ignored element, the rest count
    if np.all(target == ignore_index):  # keep at least one counted target (see the mean)
        target = np.full(t_shape, 1 if ignore_index == 0 else 0, np.int64)
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.35]))
    reduction = draw(st.sampled_from(REDUCTIONS))
    kw = {"reduction": reduction, "label_smoothing": smoothing, "ignore_index": ignore_index}
    return x, target, kw


@given(ce_case())
def test_cross_entropy_gradients(case):
    # reference kernels here; the Numba kernels are held to them by the backends test below
    x, target, kw = case
    with tm.backend("numpy"):
        assert_gradients_close(lambda t: F.cross_entropy(t, target, **kw), x, names=("input",))


def test_cross_entropy_gradients_numba():
    x = tm.tensor(np.random.default_rng(0).standard_normal((2, 3, 2)), requires_grad=True)
    target = np.array([[0, 2], [-100, 1]])
    with tm.backend("numba"):
        assert_gradients_close(lambda t: F.cross_entropy(t, target, label_smoothing=0.2), x)
        assert_gradients_close(lambda t: F.cross_entropy(t, target % 3, ignore_index=2,
                                                         reduction="none"), x)


@pytest.mark.parametrize("backend", BACKENDS)
@given(ce_case())
def test_cross_entropy_matches_torch(backend, case):
    torch = pytest.importorskip("torch")
    x, target, kw = case
    with tm.backend(backend):
        assert_matches_torch(lambda t, y: F.cross_entropy(t, y, **kw),
                             lambda t, y: torch.nn.functional.cross_entropy(t, y, **kw),
                             x.data, target, names=("input", "target"))
        assert_matches_torch(lambda t, y: F.cross_entropy(t, y, **kw),
                             lambda t, y: torch.nn.functional.cross_entropy(t, y, **kw),
                             x.data.astype(np.float32), target, names=("input", "target"))


@given(ce_case())
def test_cross_entropy_backends_agree(case):
    x, target, kw = case
    assert_backends_agree(lambda t, y: F.cross_entropy(t, y, **kw), x.data, target,
                          names=("input", "target"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_stable_for_logits_of_1000(backend):
    x = tm.tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]]),
                  requires_grad=True)
    with tm.backend(backend):
        loss = F.cross_entropy(x, np.array([1, 2]), reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [2000.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(x.grad, [[1, -1, 0], [0, 0, 0]], atol=1e-12)


def test_cross_entropy_accepts_tensor_and_list_targets():
    x = tm.randn(3, 4)
    a = F.cross_entropy(x, tm.tensor([0, 3, 1]))
    b = F.cross_entropy(x, [0, 3, 1])
    assert a.item() == pytest.approx(b.item()) and a.dtype == np.float32 and a.shape == ()


# ----------------------------------------------------------------------------- mse, bce
@given(st.data(), st.sampled_from(REDUCTIONS))
def test_mse_loss(data, reduction):
    shape = data.draw(tst.shapes(0, 3))
    x = data.draw(tst.tensors(shape), label="input")
    y = data.draw(tst.tensors(shape), label="target")
    assert_gradients_close(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y,
                           names=("input", "target"))
    try:
        import torch
    except ImportError:
        return
    assert_matches_torch(lambda a, b: F.mse_loss(a, b, reduction=reduction),
                         lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
                         x.data, y.data, names=("input", "target"))


@given(st.data(), st.sampled_from(REDUCTIONS))
def test_binary_cross_entropy_with_logits(data, reduction):
    shape = data.draw(tst.shapes(0, 3))
    x = data.draw(tst.tensors(shape, min_value=-5, max_value=5), label="input")
    y = data.draw(tst.tensors(shape, min_value=0.0, max_value=1.0), label="target")
    fn = F.binary_cross_entropy_with_logits
    assert_gradients_close(lambda a, b: fn(a, b, reduction=reduction), x, y, names=("input", "target"))
    try:
        import torch
    except ImportError:
        return
    assert_matches_torch(
        lambda a, b: fn(a, b, reduction=reduction),
        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b,
                                                                          reduction=reduction),
        x.data, y.data, names=("input", "target"))


def test_bce_with_logits_is_stable_for_logits_of_1000():
    x = tm.tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0]), requires_grad=True)
    t = tm.tensor(np.array([1.0, 0.0, 0.0, 1.0]))
    with np.errstate(over="raise", invalid="raise"):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1000.0, 1000.0])
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -1.0])


# ----------------------------------------------------------------------------- one_hot
@given(tst.tensors(tst.shapes(0, 3), dtype=np.int64, min_value=0, max_value=4),
       st.sampled_from([-1, 5, 7]))
def test_one_hot(t, num_classes):
    y = F.one_hot(t, num_classes)
    k = int(t.data.max()) + 1 if num_classes == -1 else num_classes
    assert y.shape == t.shape + (k,) and y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.data.argmax(-1), t.data)
    np.testing.assert_array_equal(y.data.sum(-1), 1)
    try:
        import torch
    except ImportError:
        return
    assert_matches_torch(lambda a: F.one_hot(a, num_classes),
                         lambda a: torch.nn.functional.one_hot(a, num_classes), t.data)


# ----------------------------------------------------------------------------- bad input
def test_cross_entropy_rejects_bad_input():
    x, t = tm.randn(3, 4), np.array([0, 1, 2])
    fn = "cross_entropy"
    with pytest.raises(TypeError, match=f"{fn}: input must be a Tensor, got ndarray"):
        F.cross_entropy(x.data, t)
    with pytest.raises(TypeError, match=f"{fn}: input must have a floating dtype, got int64"):
        F.cross_entropy(tm.tensor([[1, 2]]), np.array([0]))
    with pytest.raises(ValueError, match=f"{fn}: reduction must be one of .*'avg'"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match=f"{fn}: label_smoothing must be in \\[0, 1\\], got 1.5"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(TypeError, match=f"{fn}: ignore_index must be an int, got float"):
        F.cross_entropy(x, t, ignore_index=1.0)
    with pytest.raises(ValueError, match=rf"{fn}: probability targets \(a floating dtype\) must "
                                         r"have the input's shape \(3, 4\), got \(3,\)"):
        F.cross_entropy(x, t.astype(np.float32))
    with pytest.raises(TypeError, match=f"{fn}: target must hold integer class indices, got "
                                        "dtype bool"):
        F.cross_entropy(x, t > 0)
    with pytest.raises(ValueError, match=rf"{fn}: target must have shape \(3,\) for input of "
                                         r"shape \(3, 4\), got \(2,\)"):
        F.cross_entropy(x, t[:2])
    with pytest.raises(IndexError, match=rf"{fn}: target holds class 4, outside \[0, 4\)"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match=rf"{fn}: target holds class -1"):
        F.cross_entropy(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=f"{fn}: input must be at least 1-D"):
        F.cross_entropy(tm.tensor(1.0), np.array(0))


def test_mse_loss_rejects_bad_input():
    x = tm.randn(3)
    with pytest.raises(TypeError, match="mse_loss: input must be a Tensor, got list"):
        F.mse_loss([1.0], x)
    with pytest.raises(TypeError, match="mse_loss: target must be a Tensor, got ndarray"):
        F.mse_loss(x, np.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(2,\)"):
        F.mse_loss(x, tm.randn(2))
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")


def test_mse_loss_rejects_integer_tensors_naming_itself():
    with pytest.raises(TypeError, match="mse_loss: input must have a floating dtype"):
        F.mse_loss(tm.tensor([1, 2]), tm.tensor([1, 3]))


def test_bce_with_logits_rejects_bad_input():
    fn, name = F.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"
    x = tm.randn(3)
    with pytest.raises(TypeError, match=f"{name}: target must be a Tensor, got ndarray"):
        fn(x, np.ones(3))
    with pytest.raises(TypeError, match=f"{name}: target must have a floating dtype"):
        fn(x, tm.tensor([1, 0, 1]))
    with pytest.raises(TypeError, match=f"{name}: input must have a floating dtype"):
        fn(tm.tensor([1, 0, 1]), x)
    with pytest.raises(ValueError, match=rf"{name}: target shape \(2,\) must equal input shape"):
        fn(x, tm.randn(2))
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of"):
        fn(x, x, reduction="max")


def test_one_hot_rejects_bad_input():
    with pytest.raises(TypeError, match="one_hot: tensor must be a Tensor, got ndarray"):
        F.one_hot(np.array([1, 2]), 3)
    with pytest.raises(TypeError, match="one_hot: tensor must hold integers, got dtype float32"):
        F.one_hot(tm.tensor([1.0]), 3)
    with pytest.raises(ValueError, match=r"one_hot: values must be in \[0, 3\), got min 0 and "
                                         "max 3"):
        F.one_hot(tm.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="one_hot: num_classes must be >= -1, got -2"):
        F.one_hot(tm.tensor([0]), -2)
    with pytest.raises(TypeError, match="one_hot: num_classes must be an int, got float"):
        F.one_hot(tm.tensor([0]), 2.0)
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes from an empty"):
        F.one_hot(tm.zeros(0, dtype=tm.int64))
