"""Type promotion follows ``torch.result_type`` for every pair of operand kinds and dtypes."""

import itertools
import operator

import numpy as np
import pytest

import tinymm as tm
from tinymm._promotion import promote_types, result_type

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]
SCALARS = [True, 3, -2, 0.5]
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def _pair(dtype: str, zero_dim: bool, value: int = 1):
    """The same values as a tinymm and a torch tensor ((3,) or 0-dim)."""
    arr = np.full(() if zero_dim else (3,), value).astype(dtype)
    return tm.tensor(arr), torch.from_numpy(arr.copy())


def _torch_dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def _outcome(fn, *args):
    """The result's dtype name, or "error" when the op refuses the operands."""
    try:
        return _torch_dtype_name(out) if isinstance(out := fn(*args), torch.Tensor) \
            else str(out.dtype)
    except (RuntimeError, TypeError, ValueError):
        return "error"


KINDS = list(itertools.product(DTYPES, (False, True)))  # (dtype, zero_dim)


@pytest.mark.parametrize("a_kind", KINDS, ids=lambda k: f"{k[0]}{'-0d' if k[1] else ''}")
@pytest.mark.parametrize("b_kind", KINDS, ids=lambda k: f"{k[0]}{'-0d' if k[1] else ''}")
def test_tensor_pairs_match_torch(a_kind, b_kind):
    a, ta = _pair(*a_kind)
    b, tb = _pair(*b_kind, value=2)
    assert str(result_type(a, b)) == _torch_dtype_name(torch.empty(0, dtype=torch.result_type(ta, tb)))
    for name, op in OPS.items():
        expected = _outcome(op, ta, tb)
        got = _outcome(op, a, b)
        assert got == expected, f"{name}({a_kind}, {b_kind}): tinymm {got}, torch {expected}"
        if expected != "error":  # same values too (integer wrap-around, true division)
            np.testing.assert_array_equal(op(a, b).numpy(), op(ta, tb).numpy())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k[0]}{'-0d' if k[1] else ''}")
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
def test_tensor_and_python_scalar_match_torch(kind, scalar):
    a, ta = _pair(*kind, value=3)
    for first in (True, False):
        args, targs = ((a, scalar), (ta, scalar)) if first else ((scalar, a), (scalar, ta))
        assert str(result_type(*args)) == \
            _torch_dtype_name(torch.empty(0, dtype=torch.result_type(*targs)))
        for name, op in {**OPS, "pow": operator.pow}.items():
            expected = _outcome(op, *targs)
            got = _outcome(op, *args)
            if name == "pow" and not first and kind[0] == "bool":
                continue  # torch refuses scalar ** bool tensor; tinymm computes it in bool
            assert got == expected, f"{name}{args}: tinymm {got}, torch {expected}"
            if expected != "error":
                np.testing.assert_allclose(op(*args).numpy(), op(*targs).numpy(), rtol=1e-6)


def test_the_reported_cases():
    assert (tm.arange(5) * 0.5).dtype == np.float32
    np.testing.assert_array_equal((tm.arange(5) * 0.5).numpy(), np.arange(5) * 0.5)
    i64 = tm.tensor([1, 2, 3])
    f32 = tm.tensor([1.0, 2.0, 3.0])
    assert (i64 + f32).dtype == np.float32
    assert (i64 / i64).dtype == np.float32
    assert (tm.tensor([1, 2], dtype=np.uint8) + tm.tensor([1, 2], dtype=np.int8)).dtype == np.int16


def test_promote_types_matches_torch():
    for a, b in itertools.product(DTYPES, DTYPES):
        expected = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert str(promote_types(np.dtype(a), np.dtype(b))) == _torch_dtype_name(
            torch.empty(0, dtype=expected))


def test_integer_scalars_wrap_like_torch():
    a = tm.tensor(np.array([250, 3], dtype=np.uint8))
    ta = torch.tensor([250, 3], dtype=torch.uint8)
    np.testing.assert_array_equal((a + 10).numpy(), (ta + 10).numpy())
    np.testing.assert_array_equal((a * -1).numpy(), (ta * -1).numpy())


@pytest.mark.parametrize("a_dtype", DTYPES[1:])
@pytest.mark.parametrize("b_dtype", DTYPES[1:])
def test_where_cat_stack_comparisons_promote_like_torch(a_dtype, b_dtype):
    a, ta = _pair(a_dtype, False, value=1)
    b, tb = _pair(b_dtype, False, value=2)
    cond = tm.tensor([True, False, True])
    tcond = torch.tensor([True, False, True])
    assert str(tm.where(cond, a, b).dtype) == _torch_dtype_name(torch.where(tcond, ta, tb))
    np.testing.assert_array_equal(tm.where(cond, a, b).numpy(), torch.where(tcond, ta, tb).numpy())
    assert str(tm.cat([a, b]).dtype) == _torch_dtype_name(torch.cat([ta, tb]))
    assert str(tm.stack([a, b]).dtype) == _torch_dtype_name(torch.stack([ta, tb]))
    for op in (operator.lt, operator.eq, operator.ge):
        np.testing.assert_array_equal(op(a, b).numpy(), op(ta, tb).numpy())


@pytest.mark.parametrize("dtype", DTYPES[1:])
def test_where_and_clamp_with_scalars(dtype):
    a, ta = _pair(dtype, False, value=3)
    cond = tm.tensor([True, False, True])
    tcond = torch.tensor([True, False, True])
    for x, y in ((a, 0.5), (0.5, a), (a, 2), (1.0, 0.0)):
        tx = ta if x is a else x
        ty = ta if y is a else y
        assert str(tm.where(cond, x, y).dtype) == _torch_dtype_name(torch.where(tcond, tx, ty))
    assert str(a.clamp(min=0.5).dtype) == _torch_dtype_name(ta.clamp(min=0.5))
    assert str(a.clamp(max=2).dtype) == _torch_dtype_name(ta.clamp(max=2))
    assert (a < 3.5).numpy().all() == (ta < 3.5).numpy().all()


def test_promotion_keeps_gradients_in_input_dtypes():
    w = tm.randn(3, requires_grad=True)
    idx = tm.arange(3)
    y = (w * idx + tm.tensor(2.0, dtype=tm.float64)).sum()
    assert y.dtype == np.float32  # a 0-dim float64 tensor does not promote a float32 one
    y.backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, np.arange(3, dtype=np.float32))


def test_integer_to_negative_power_is_refused():
    with pytest.raises(ValueError, match="pow"):
        tm.arange(3) ** -1
    assert (tm.arange(3) ** -1.0).dtype == np.float32


def test_bool_subtraction_is_refused():
    with pytest.raises(TypeError, match="sub"):
        tm.tensor([True]) - tm.tensor([False])
