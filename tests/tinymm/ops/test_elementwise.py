"""Elementwise ops and matmul: gradients (float64 finite differences), PyTorch parity, errors."""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.ops import elementwise as ew
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "div": operator.truediv, "pow": operator.pow}


def _operands(data, op):
    """Two broadcastable tensors inside the op's domain (pow: positive base; div: |b| >= 0.5)."""
    sa, sb = data.draw(tst.broadcastable_shapes(2, 0, 3, max_side=3))
    lo = 0.5 if op == "pow" else -2.0
    a = data.draw(tst.tensors(sa, min_value=lo), label="a")
    b = data.draw(tst.tensors(sb, away_from=(0.0,) if op == "div" else (), margin=0.5),
                  label="b")
    return a, b


# ----------------------------------------------------------------------------- binary ops
@pytest.mark.parametrize("op", sorted(BINARY))  # every op gets its examples (not sampled_from)
@given(data=st.data())
def test_binary_op_gradients_with_broadcasting(data, op):
    a, b = _operands(data, op)
    assert_gradients_close(BINARY[op], a, b, names=("a", "b"))


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_ops_match_torch(data, op):
    pytest.importorskip("torch")
    a, b = _operands(data, op)
    assert_matches_torch(BINARY[op], BINARY[op], a.data, b.data, names=("a", "b"))


@given(tst.tensors(tst.shapes(0, 3), min_value=0.5), st.sampled_from([2, -1, 0.5, 3.0]))
def test_ops_with_python_scalars(x, c):
    for fn in (lambda t: t + c, lambda t: c - t, lambda t: t * c, lambda t: c / t,
               lambda t: t ** c, lambda t: c ** t if c > 0 else t ** 2, lambda t: -t):
        assert_gradients_close(fn, x, names=("x",))
    y = (2.0 - x * 3) / 4
    np.testing.assert_allclose(y.data, (2.0 - x.data * 3) / 4)


def test_scalar_ops_match_torch():
    pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(0.5, 2, (3, 4))
    for fn in (lambda t: 3 - t, lambda t: 2 / t, lambda t: 2 ** t, lambda t: t ** 3,
               lambda t: t ** -0.5, lambda t: (t - 1) * 2.5):
        assert_matches_torch(fn, fn, x, names=("x",))


def test_pow_gradient_wrt_exponent_with_positive_base():
    a = tm.tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)
    b = tm.tensor(np.array([2.0, -1.0, 0.5]), requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(b.grad, np.array([0.5, 1.0, 2.0]) ** b.data * np.log(a.data))


def test_binary_ops_keep_float32():
    x = tm.randn(2, 3, requires_grad=True)
    for y in (x + 1, 2 * x, x / 3, x - 0.5, x ** 2, 1.5 ** x, x + np.ones(3, np.float32)):
        assert y.dtype == np.float32


def test_numpy_scalars_do_not_promote_float32():
    """As torch (``float32_tensor * np.float64(2)`` stays float32): a NumPy scalar such as
    ``np.sqrt(d)`` in attention code must not turn a float32 model into float64."""
    x = tm.randn(2, 3)
    assert (x * np.float64(2.0)).dtype == np.float32
    assert (x / np.sqrt(4.0)).dtype == np.float32


def test_mixed_dtypes_promote_and_grads_keep_input_dtypes():
    a = tm.randn(3, requires_grad=True)
    b = tm.randn(3, dtype=tm.float64, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ----------------------------------------------------------------------------- matmul
MATMUL_CASES = {
    "matrix": ((3, 4), (4, 2)),
    "vector @ matrix": ((4,), (4, 2)),
    "matrix @ vector": ((3, 4), (4,)),
    "vector @ vector": ((4,), (4,)),
    "batched": ((2, 3, 4), (2, 4, 5)),
    "broadcast batch": ((2, 1, 3, 4), (3, 4, 2)),
    "matrix @ batched": ((3, 4), (2, 4, 5)),
    "vector @ batched": ((4,), (2, 4, 3)),
    "batched @ vector": ((2, 3, 4), (4,)),
}


@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_matmul_gradients(case):
    sa, sb = MATMUL_CASES[case]
    rng = np.random.default_rng(0)
    a = tm.tensor(rng.standard_normal(sa), requires_grad=True)
    b = tm.tensor(rng.standard_normal(sb), requires_grad=True)
    assert_gradients_close(operator.matmul, a, b, names=("a", "b"))


@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_matmul_matches_torch(case):
    pytest.importorskip("torch")
    sa, sb = MATMUL_CASES[case]
    rng = np.random.default_rng(1)
    assert_matches_torch(operator.matmul, operator.matmul, rng.standard_normal(sa),
                         rng.standard_normal(sb), names=("a", "b"))


@given(st.data())
def test_matmul_property_batched_and_non_contiguous(data):
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = data.draw(tst.broadcastable_shapes(2, 0, 2, max_side=2))
    a = data.draw(tst.tensors(batch_a + (n, k)), label="a")
    b = data.draw(tst.tensors(batch_b + (k, m)), label="b")
    assert_gradients_close(operator.matmul, a, b, names=("a", "b"))
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data))


def test_matmul_with_constant_operand():
    a = tm.randn(3, 4, dtype=tm.float64, requires_grad=True)
    w = np.random.default_rng(0).standard_normal((4, 2))
    (a @ w).sum().backward()
    np.testing.assert_allclose(a.grad, np.ones((3, 2)) @ w.T)
    b = tm.randn(2, 3, dtype=tm.float64, requires_grad=True)
    (w @ b).sum().backward()
    np.testing.assert_allclose(b.grad, w.T @ np.ones((4, 3)))


def test_matmul_rejects_bad_operands():
    a = tm.randn(3, 4)
    with pytest.raises(ValueError, match=r"matmul: inner dimensions .*\(3, 4\) @ \(3, 4\)"):
        a @ tm.randn(3, 4)
    with pytest.raises(ValueError, match="matmul: both operands must be at least 1-D"):
        a @ tm.tensor(2.0)
    with pytest.raises(TypeError, match="matmul: both operands must be tensors"):
        ew.matmul(a, 2.0)
    with pytest.raises(ValueError, match="matmul: batch dimensions of"):
        tm.randn(2, 3, 4) @ tm.randn(3, 4, 5)
    with pytest.raises(TypeError, match="matmul: unsupported operand of type str"):
        ew.matmul(a, "b")


# ----------------------------------------------------------------------------- unary ops
UNARY = {
    # name: (tinymm fn, torch fn, strategy keywords for the input's domain)
    "neg": (lambda t: -t, lambda t: -t, {}),
    "exp": (lambda t: t.exp(), lambda t: t.exp(), {}),
    "log": (lambda t: t.log(), lambda t: t.log(), {"min_value": 0.1, "max_value": 3.0}),
    "sqrt": (lambda t: t.sqrt(), lambda t: t.sqrt(), {"min_value": 0.1, "max_value": 3.0}),
    "tanh": (lambda t: t.tanh(), lambda t: t.tanh(), {}),
    "sigmoid": (lambda t: t.sigmoid(), lambda t: t.sigmoid(), {}),
    "relu": (lambda t: t.relu(), lambda t: t.relu(), {"away_from": (0.0,)}),
    "abs": (lambda t: t.abs(), lambda t: t.abs(), {"away_from": (0.0,)}),
    "clamp": (lambda t: t.clamp(-0.5, 1.0), lambda t: t.clamp(-0.5, 1.0),
              {"away_from": (-0.5, 1.0)}),
    "clamp_min": (lambda t: t.clamp(min=0.2), lambda t: t.clamp(min=0.2), {"away_from": (0.2,)}),
    "clamp_max": (lambda t: t.clamp(max=0.2), lambda t: t.clamp(max=0.2), {"away_from": (0.2,)}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_op_gradients(data, name):
    fn, _, domain = UNARY[name]
    x = data.draw(tst.tensors(tst.shapes(0, 3), **domain), label="x")
    assert_gradients_close(fn, x, names=("x",))


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops_match_torch(data, name):
    pytest.importorskip("torch")
    fn, torch_fn, domain = UNARY[name]
    x = data.draw(tst.tensors(tst.shapes(0, 3), **domain), label="x")
    assert_matches_torch(fn, torch_fn, x.data, names=("x",))


def test_kinks_follow_torch_conventions():
    x = tm.tensor(np.array([-1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    (x.relu() + x.abs() + x.clamp(0.0, 1.0)).sum().backward()
    # relu'(0) = 0, abs'(0) = 0, clamp passes the gradient at its (inclusive) bounds
    np.testing.assert_array_equal(x.grad, [-1.0 + 0, 0 + 0 + 1, 1 + 1 + 1, 1 + 1 + 0])


def test_sigmoid_and_tanh_saturate_without_overflow():
    x = tm.tensor(np.array([-1000.0, 1000.0]), requires_grad=True)
    with np.errstate(all="raise"):
        y = x.sigmoid()
    np.testing.assert_array_equal(y.data, [0.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_unary_ops_keep_float32():
    x = tm.rand(3, requires_grad=True) + 0.5
    for y in (x.exp(), x.log(), x.sqrt(), x.tanh(), x.sigmoid(), x.relu(), x.abs(),
              x.clamp(0.6, 0.9), -x):
        assert y.dtype == np.float32


def test_comparisons_are_boolean_and_not_differentiable():
    a = tm.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tm.tensor([3.0, 2.0, 1.0])
    for y, want in ((a < b, [1, 0, 0]), (a <= b, [1, 1, 0]), (a > b, [0, 0, 1]),
                    (a >= b, [0, 1, 1]), (a == b, [0, 1, 0]), (a != b, [1, 0, 1]),
                    (a > 1.5, [0, 1, 1])):
        assert y.dtype == np.bool_ and not y.requires_grad
        np.testing.assert_array_equal(y.data, np.array(want, bool))
    np.testing.assert_array_equal(((a > 1.5) & (b > 1.5)).data, [False, True, False])
    np.testing.assert_array_equal(((a > 2.5) | (b > 2.5)).data, [True, False, True])
    np.testing.assert_array_equal((~(a > 1.5)).data, [True, False, False])


# ----------------------------------------------------------------------------- bad input
def test_binary_ops_reject_unsupported_operands():
    x = tm.randn(3)
    for op, name in ((operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                     (operator.truediv, "div"), (operator.pow, "pow")):
        with pytest.raises(TypeError, match=f"{name}: unsupported operand of type str"):
            op(x, "a")
        with pytest.raises(TypeError, match=f"{name}: unsupported operand of type dict"):
            op({}, x)


def test_binary_ops_name_themselves_when_shapes_do_not_broadcast():
    for op, name in ((operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                     (operator.truediv, "div"), (operator.pow, "pow")):
        with pytest.raises(ValueError, match=fr"{name}: .*\(2, 3\).*\(4,\)"):
            op(tm.randn(2, 3), tm.randn(4))


def test_unary_functions_reject_non_tensors_and_bad_clamp():
    for name in ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "gelu"):
        with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got list"):
            getattr(ew, name)([1.0])
    x = tm.randn(3)
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        x.clamp()
    with pytest.raises(TypeError, match="clamp: min must be a number or None, got str"):
        x.clamp(min="0")
    with pytest.raises(TypeError, match="clamp: max must be a number or None, got Tensor"):
        x.clamp(max=tm.tensor(1.0))
    with pytest.raises(TypeError, match="~: only bool tensors can be inverted"):
        _ = ~x
