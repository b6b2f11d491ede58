"""Tensor: construction, dtype inference, properties, conversions, casts, guards, errors."""

import numpy as np
import pytest
from hypothesis import given

import tinymm as tm
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst


def test_dtype_inference_like_torch_tensor():
    assert tm.Tensor(1.0).dtype == np.float32
    assert tm.Tensor([1.5, 2.5]).dtype == np.float32
    assert tm.Tensor(2).dtype == np.int64
    assert tm.Tensor([1, 2]).dtype == np.int64
    assert tm.Tensor([True]).dtype == np.bool_
    for dt in (np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8):
        assert tm.Tensor(np.zeros(2, dt)).dtype == dt  # NumPy arrays keep their dtype
    assert tm.Tensor([1, 2], dtype=tm.float64).dtype == np.float64
    assert (tm.float32, tm.float64, tm.int64) == (np.float32, np.float64, np.int64)


def test_dtype_inference_matches_torch():
    torch = pytest.importorskip("torch")
    for data in (1.0, [1.0, 2.0], 3, [[1, 2]], [True], [1, 2.5]):
        assert str(tm.tensor(data).dtype) == str(torch.tensor(data).dtype).split(".")[1]
    for arr in (np.zeros(2), np.zeros(2, np.float32), np.zeros(2, np.int32)):
        assert tm.tensor(arr).dtype == torch.from_numpy(arr).numpy().dtype


def test_tensor_wraps_numpy_without_copy_and_tensor_copies():
    a = np.arange(4.0)
    t = tm.Tensor(a)
    a[0] = 5.0
    assert t.data[0] == 5.0
    assert tm.tensor(a).data is not a


def test_properties():
    t = tm.Tensor(np.zeros((2, 3, 4), np.float32), requires_grad=True)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and len(t) == 2
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    y = t * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad


def test_conversions():
    t = tm.tensor([[1.0, 2.0]])
    assert isinstance(t.numpy(), np.ndarray) and t.numpy() is t.data
    assert t.tolist() == [[1.0, 2.0]]
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    s = tm.tensor([3.5])
    assert s.item() == 3.5 and float(s) == 3.5 and int(tm.tensor(4)) == 4 and bool(s)
    assert [10, 20, 30][tm.tensor(1)] == 20  # __index__


def test_repr():
    assert repr(tm.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "dtype=float64" in repr(tm.tensor(np.ones(1)))
    assert "requires_grad=True" in repr(tm.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(tm.ones(1, requires_grad=True) * 2)


def test_detach_shares_data_and_cuts_the_graph():
    x = tm.randn(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    d2 = x.detach()
    assert d2.data is x.data


@given(tst.tensors(tst.shapes(0, 3)))
def test_casts_are_differentiable(x):
    # float32 rounds x to ~1e-7, so finite differences need a large step (t ↦ 2t is linear)
    assert_gradients_close(lambda t: t.float() * 2, x, eps=1e-2, atol=1e-4)
    y = x.float()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, 1.0)
    assert x.double() is x and x.to(tm.float64) is x
    z = x.long()
    assert z.dtype == np.int64 and not z.requires_grad


@given(tst.tensors(tst.shapes(1, 3)))
def test_clone_and_contiguous(x):
    c = x.clone()
    assert c.data is not x.data and c.data.flags.c_contiguous
    np.testing.assert_array_equal(c.data, x.data)
    k = x.contiguous()
    assert k.data.flags.c_contiguous and (k is x) == x.data.flags.c_contiguous
    assert_gradients_close(lambda t: t.clone() * 3, x)
    assert_gradients_close(lambda t: t.contiguous() * 3, x)


def test_clone_and_casts_match_torch():
    pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert_matches_torch(lambda t: t.clone() * 2, lambda t: t.clone() * 2, x)
    assert_matches_torch(lambda t: t.float() * 2, lambda t: t.float() * 2, x)


def test_setitem_writes_data_but_refuses_tensors_that_require_grad():
    t = tm.zeros(3)
    t[1] = 5.0
    t[tm.tensor([0])] = tm.tensor([2.0])
    assert t.tolist() == [2.0, 5.0, 0.0]
    assert t._version == 2
    x = tm.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="__setitem__: a leaf Variable that requires grad "
                                           "is being used in an in-place operation"):
        x[0] = 1.0
    with tm.no_grad():  # as in PyTorch, a leaf may be written without recording
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0] and x._version == 1


def test_requires_grad_toggle():
    t = tm.zeros(2)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors"):
        tm.tensor([1]).requires_grad_()
    y = tm.zeros(2, requires_grad=True) * 2
    with pytest.raises(ValueError, match="requires_grad_: cannot turn off gradients of a "
                                         "non-leaf"):
        y.requires_grad_(False)


def test_tensor_rejects_bad_input():
    with pytest.raises(TypeError, match="Tensor: data must be numeric, got an array of dtype"):
        tm.Tensor(["a", "b"])
    with pytest.raises(TypeError, match="Tensor: only floating-point tensors can require "
                                        "gradients, got dtype int64"):
        tm.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor: dtype must be a NumPy dtype"):
        tm.Tensor([1.0], dtype="banana")
    with pytest.raises(TypeError, match="Tensor: data must be numeric"):
        tm.Tensor({"a": 1})


def test_scalar_conversions_reject_bad_tensors():
    with pytest.raises(ValueError, match="item: the tensor has 2 elements, expected exactly one"):
        tm.zeros(2).item()
    with pytest.raises(ValueError, match="bool\\(\\): a tensor with more than one element"):
        bool(tm.zeros(2))
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tm.tensor(1.0))
    with pytest.raises(TypeError, match="only one-element integer tensors can be used as an"):
        [1, 2][tm.tensor(1.0)]


def test_backward_rejects_bad_calls():
    x = tm.randn(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"backward: gradient can be omitted only for a "
                                         r"one-element tensor; this one has shape \(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(3,\), expected the "
                                         r"tensor's shape \(2, 3\)"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        tm.randn(2).sum().backward()
    with tm.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        y.backward()


def test_backward_accepts_a_tensor_gradient_and_casts_it():
    x = tm.randn(3, requires_grad=True)
    (x * 2).backward(tm.tensor(np.ones(3)))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, 2.0)


def test_import_stays_light():
    """`import tinymm` does not import SciPy or Numba: each is loaded where first used
    (scipy.special alone was ~0.13 s, a third of the import)."""
    import subprocess
    import sys

    code = ("import sys, tinymm; "
            "print(sorted(m for m in ('scipy', 'scipy.special', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out
