"""In-place methods: values and dtypes as PyTorch, version bumps, and the autograd refusals."""

import numpy as np
import pytest

import tinymm as tm

torch = pytest.importorskip("torch")

CASES = {
    "add_": lambda t, o: t.add_(o),
    "add_ alpha": lambda t, o: t.add_(o, alpha=2),
    "sub_": lambda t, o: t.sub_(o),
    "sub_ alpha": lambda t, o: t.sub_(o, alpha=3),
    "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o),
    "zero_": lambda t, o: t.zero_(),
    "fill_": lambda t, o: t.fill_(2.5),
    "copy_": lambda t, o: t.copy_(o),
    "clamp_": lambda t, o: t.clamp_(-0.5, 0.5),
    "clamp_ max": lambda t, o: t.clamp_(max=0.1),
    "clamp_min_": lambda t, o: t.clamp_min_(0.2),
}


def _pair(arr):
    return tm.tensor(arr.copy()), torch.from_numpy(arr.copy())


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("other", ["tensor", "row", "scalar", "float64"])
def test_values_dtypes_and_versions_match_torch(name, other):
    rng = np.random.default_rng(0)
    arr = rng.standard_normal((3, 4)).astype(np.float32)
    o = {"tensor": rng.standard_normal((3, 4)).astype(np.float32) + 2,
         "row": rng.standard_normal(4).astype(np.float32) + 2,
         "scalar": 1.5,
         "float64": rng.standard_normal((3, 4)) + 2}[other]
    if name == "copy_" and other == "scalar":
        return  # copy_ takes a tensor
    t, tt = _pair(arr)
    ot = tm.tensor(o) if isinstance(o, np.ndarray) else o
    ott = torch.from_numpy(o) if isinstance(o, np.ndarray) else o
    result = CASES[name](t, ot)
    CASES[name](tt, ott)
    assert result is t and t.dtype == np.float32
    assert t._version == tt._version == 1
    np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-6, atol=1e-7)


def test_integer_tensors():
    arr = np.arange(6, dtype=np.int64).reshape(2, 3)
    t, tt = _pair(arr)
    for fn in (lambda x: x.add_(3), lambda x: x.mul_(2), lambda x: x.sub_(1, alpha=2),
               lambda x: x.clamp_(2, 9), lambda x: x.fill_(7.9)):
        fn(t)
        fn(tt)
        np.testing.assert_array_equal(t.numpy(), tt.numpy())
    with pytest.raises(TypeError, match="add_: the result type float32 cannot be cast"):
        t.add_(0.5)
    with pytest.raises(TypeError, match="div_"):
        t.div_(2)
    assert t._version == 5  # refused writes do not count


def test_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = tm.ones(3, requires_grad=True)
    for fn in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.zero_(), lambda: w.fill_(1.0),
               lambda: w.copy_(np.zeros(3)), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation."):
            fn()
    tw = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        tw.add_(1.0)
    with tm.no_grad():
        w.add_(1.0).mul_(3.0)
    np.testing.assert_array_equal(w.numpy(), [6.0, 6.0, 6.0])
    assert w._version == 2


def test_a_non_leaf_that_requires_grad_is_refused_with_a_clear_message():
    y = tm.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="add_: in-place writes to a tensor that requires "
                                           "grad and was computed by MulBackward are not supported"):
        y.add_(1.0)
    x = tm.zeros(3)
    with pytest.raises(RuntimeError, match="copy_: the operand requires grad"):
        x.copy_(y)


def test_bad_operands():
    t = tm.zeros(2, 3)
    with pytest.raises(ValueError, match=r"add_: an operand of shape \(4,\) does not broadcast"):
        t.add_(tm.ones(4))
    with pytest.raises(ValueError, match=r"copy_: src of shape \(2, 4\)"):
        t.copy_(np.ones((2, 4)))
    with pytest.raises(ValueError, match="clamp_: at least one"):
        t.clamp_()
    with pytest.raises(TypeError, match="fill_: value must be a number"):
        t.fill_("a")
    with pytest.raises(ValueError, match="read-only"):
        tm.ones(3).expand(2, 3).zero_()
    with pytest.raises(TypeError, match="sub_: subtraction with a bool operand"):
        tm.tensor([True]).sub_(True)
    assert t._version == 0


def test_inplace_on_a_view_writes_the_base():
    base = tm.zeros(2, 3)
    base[0].add_(1.0)
    base.T[2].fill_(5.0)
    np.testing.assert_array_equal(base.numpy(), [[1, 1, 5], [0, 0, 5]])
    assert base._version == 2
