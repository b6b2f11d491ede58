"""Each assertion passes on a correct op and fails, naming the input, on a wrong one."""

import sys

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import kernels
from tinymm.testing import (
    MissingDependency,
    NoNumbaTwin,
    assert_backends_agree,
    assert_gradients_close,
    assert_matches_torch,
)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


class Square(tm.Function):
    """x², with a backward that can be broken on purpose."""

    mode = "right"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if Square.mode == "wrong_value":
            return 3 * g * x
        if Square.mode == "wrong_shape":
            return (2 * g * x)[..., :1]
        return 2 * g * x


@pytest.fixture
def square():
    yield Square
    Square.mode = "right"


# ----------------------------------------------------------------------------- gradients
def test_gradients_close_passes_on_correct_ops():
    x = tm.tensor(_rand(3, 4), requires_grad=True)
    w = tm.tensor(_rand(5, 4, seed=1), requires_grad=True)
    assert_gradients_close(lambda a, b: F.linear(a, b).tanh(), x, w, names=("x", "w"))


def test_gradients_close_keeps_float64_views():
    seen = []
    base = np.asfortranarray(_rand(3, 4))
    x = tm.Tensor(base, requires_grad=True)

    def fn(t):
        seen.append(t.data.flags.c_contiguous)
        return t.exp()

    assert_gradients_close(fn, x)
    assert seen[0] is False  # the analytic pass saw the caller's transposed layout


def test_gradients_close_fails_on_wrong_gradient(square):
    square.mode = "wrong_value"
    x = tm.tensor(_rand(2, 3), requires_grad=True)
    with pytest.raises(AssertionError, match=r"gradient of input 'x'.*worst at") as info:
        assert_gradients_close(lambda a, b: Square.apply(a) + b, x, x.detach(),
                               names=("x", "c"))
    assert "analytic" in str(info.value) and "numeric" in str(info.value)


def test_gradients_close_names_second_input(square):
    square.mode = "wrong_value"
    x = tm.tensor(_rand(2, 3), requires_grad=True)
    w = tm.tensor(_rand(2, 3, seed=2), requires_grad=True)
    with pytest.raises(AssertionError, match="gradient of input 'w' \\(argument 1"):
        assert_gradients_close(lambda a, b: a * 2 + Square.apply(b), x, w, names=("x", "w"))


def test_gradients_close_fails_on_wrong_output():
    class BadExp(tm.Function):  # forward is not the function its backward differentiates
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.exp(x) + x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * np.exp(x)

    x = tm.tensor(_rand(4), requires_grad=True)
    with pytest.raises(AssertionError, match="input 'logits'"):
        assert_gradients_close(BadExp.apply, x, names=("logits",))


def test_gradients_close_fails_on_wrong_shape(square):
    square.mode = "wrong_shape"
    x = tm.tensor(_rand(2, 3), requires_grad=True)
    with pytest.raises(AssertionError, match="backward of fn failed.*'x'"):
        assert_gradients_close(Square.apply, x, names=("x",))


def test_gradients_close_random_projection_catches_errors(square):
    x = tm.tensor(_rand(30, 30), requires_grad=True)
    assert_gradients_close(Square.apply, x, max_elements=100)
    square.mode = "wrong_value"
    with pytest.raises(AssertionError, match="input 'big'.*random projection"):
        assert_gradients_close(Square.apply, x, names=("big",), max_elements=100)


def test_gradients_close_rejects_misuse():
    with pytest.raises(ValueError, match="assert_gradients_close: no argument"):
        assert_gradients_close(lambda a: a * 2, tm.tensor(_rand(2)))
    x = tm.tensor(_rand(2), requires_grad=True)
    with pytest.raises(ValueError, match="assert_gradients_close: names"):
        assert_gradients_close(lambda a: a * 2, x, names=("a", "b"))
    with pytest.raises(AssertionError, match="no floating output"):
        assert_gradients_close(lambda a: a.detach() * 2, x)


# ----------------------------------------------------------------------------- torch
def test_matches_torch_passes():
    pytest.importorskip("torch")
    assert_matches_torch(lambda x, w: F.linear(x, w).sigmoid(),
                         lambda x, w: (x @ w.T).sigmoid(), _rand(3, 4), _rand(2, 4, seed=1),
                         names=("x", "w"))


def test_matches_torch_fails_on_wrong_gradient(square):
    pytest.importorskip("torch")
    square.mode = "wrong_value"
    with pytest.raises(AssertionError, match=r"gradient of input 'x' differs.*tinymm .*torch"):
        assert_matches_torch(Square.apply, lambda t: t * t, _rand(3, 2), names=("x",))


def test_matches_torch_fails_on_wrong_output():
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=r"output 0 differs(.|\n)*inputs: x: float64"):
        assert_matches_torch(lambda t: t.exp() * 1.001, lambda t: t.exp(), _rand(3),
                             names=("x",))


def test_matches_torch_fails_on_wrong_shape_and_dtype():
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=r"shape \(3, 1\) in tinymm but \(3,\) in torch"
                                             r"(.|\n)*x: float64 \(3,\)"):
        assert_matches_torch(lambda t: t.unsqueeze(1), lambda t: t, _rand(3), names=("x",))
    with pytest.raises(AssertionError, match="dtype float32 in tinymm but float64"):
        assert_matches_torch(lambda t: t.float(), lambda t: t, _rand(3), names=("x",))


def test_matches_torch_fails_when_tinymm_records_no_graph():
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match="differentiable in torch but tinymm recorded no"):
        assert_matches_torch(lambda t: t.detach() * 2, lambda t: t * 2, _rand(3))


def test_matches_torch_skips_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(pytest.skip.Exception, match="torch is not installed"):
        assert_matches_torch(lambda t: t, lambda t: t, _rand(3))
    monkeypatch.delitem(sys.modules, "pytest")  # outside pytest: a unittest.SkipTest
    with pytest.raises(MissingDependency, match="torch is not installed"):
        assert_matches_torch(lambda t: t, lambda t: t, _rand(3))


# ----------------------------------------------------------------------------- backends
def test_backends_agree_passes_on_softmax():
    assert_backends_agree(lambda x: F.log_softmax(x, dim=1), _rand(4, 5))
    assert_backends_agree(lambda x: F.softmax(x, dim=0), _rand(4, 5).astype(np.float32))


def test_backends_agree_fails_on_wrong_numba_gradient(monkeypatch):
    kernels.get("softmax_backward", "numba")  # build the tables
    right = kernels._tables["numba"]["softmax_backward"]
    monkeypatch.setitem(kernels._tables["numba"], "softmax_backward",
                        lambda y, g: 1.5 * right(y, g))
    with pytest.raises(AssertionError, match=r"gradient of input 'logits' differs.*numba"):
        assert_backends_agree(lambda x: F.softmax(x, 1), _rand(3, 4), names=("logits",))


def test_backends_agree_fails_on_wrong_numba_output(monkeypatch):
    kernels.get("softmax_forward", "numba")
    right = kernels._tables["numba"]["softmax_forward"]
    monkeypatch.setitem(kernels._tables["numba"], "softmax_forward", lambda x: right(x) + 1e-6)
    with pytest.raises(AssertionError, match=r"output 0 differs(.|\n)*logits: float64"):
        assert_backends_agree(lambda x: F.softmax(x, 1), _rand(3, 4), names=("logits",))


def test_backends_agree_fails_on_wrong_shape():
    def fn(x):
        return x if tm.get_backend() == "numpy" else x[:1]

    with pytest.raises(AssertionError, match=r"shape \(1, 4\) in numba but \(3, 4\) in numpy"
                                             r"(.|\n)*x: float64 \(3, 4\)"):
        assert_backends_agree(fn, _rand(3, 4), names=("x",))


def test_backends_agree_reseeds_dropout():
    def fn(x):  # dropout has no kernel; the softmax after it has a Numba twin
        return F.softmax(F.dropout(x, 0.5), 1)

    assert_backends_agree(fn, _rand(6, 7))
    with pytest.raises(AssertionError, match="output 0 differs"):
        assert_backends_agree(fn, _rand(6, 7), seed=None)


def test_backends_agree_refuses_an_op_without_numba_twin():
    """Agreement of two runs of the same NumPy code proves nothing: say so, name the kernels."""
    with pytest.raises(NoNumbaTwin, match=r"fn ran no kernel with a Numba twin \(kernels it ran "
                                          r"on the numba backend: none\)(.|\n)*x: float64"):
        assert_backends_agree(lambda x: (x * 2).tanh(), _rand(3, 4), names=("x",))
    with pytest.raises(NoNumbaTwin, match="numba backend: none"):  # dropout: no kernel either
        assert_backends_agree(lambda x: F.dropout(x, 0.5), _rand(6, 7))
    # a kernel that only has its reference twin is named
    kernels.get("softmax_forward", "numba")
    monkey = dict(kernels._tables["numba"])
    try:
        kernels._tables["numba"]["softmax_forward"] = kernels.get("softmax_forward", "numpy")
        kernels._tables["numba"]["softmax_backward"] = kernels.get("softmax_backward", "numpy")
        twins = kernels._jit_names
        kernels._jit_names = twins - {"softmax_forward", "softmax_backward"}
        with pytest.raises(NoNumbaTwin, match=r"softmax_backward \(numba\), softmax_forward"):
            assert_backends_agree(lambda x: F.softmax(x, 1), _rand(3, 4))
    finally:
        kernels._tables["numba"].clear()
        kernels._tables["numba"].update(monkey)
        kernels._jit_names = twins
    assert issubclass(NoNumbaTwin, AssertionError)


def test_kernel_trace_records_what_ran():
    x = tm.tensor(_rand(3, 4), requires_grad=True)
    with tm.backend("numba"), kernels.trace() as ran:
        F.softmax(x, 1).sum().backward()
    assert [(name, backend) for name, backend, _ in ran] == [
        ("softmax_forward", "numba"), ("softmax_backward", "numba")]
    assert ran[0][2] is kernels.get("softmax_forward", "numba")
    with kernels.trace() as outer:
        with kernels.trace() as inner:
            F.softmax(x, 1)
        assert len(inner) == 1
    assert outer == []  # the inner block records only into its own list


# ----------------------------------------------------------------------------- in-place writes
class Scale(tm.Function):
    """2x, with a forward that can write into its input on purpose."""

    clobber = False

    @staticmethod
    def forward(ctx, x):
        y = 2 * x
        if Scale.clobber:
            x[..., 0] = 0.0  # the bug: writes into the caller's array
        return y

    @staticmethod
    def backward(ctx, g):
        return 2 * g


@pytest.fixture
def clobbering():
    Scale.clobber = True
    yield Scale.apply
    Scale.clobber = False


def _layouts():
    base = _rand(4, 6, seed=3)
    return {"contiguous": base, "transposed": base.T, "strided": base[:, ::2],
            "reversed": base[::-1]}


@pytest.mark.parametrize("layout", list(_layouts()))
def test_every_assertion_fails_naming_an_input_the_op_wrote_into(clobbering, layout):
    x = _layouts()[layout]
    before = x.copy()
    msg = r"changed its input 'x' in place: \d+ of \d+ elements; first at \(0, 0\)"
    with pytest.raises(AssertionError, match=msg):
        assert_matches_torch(clobbering, lambda t: 2 * t, x, names=("x",))
    with pytest.raises(AssertionError, match=msg):
        assert_gradients_close(clobbering, tm.tensor(x, requires_grad=True), names=("x",))
    with pytest.raises(AssertionError, match=msg):
        assert_backends_agree(lambda t: F.softmax(clobbering(t), 1), x, names=("x",))
    np.testing.assert_array_equal(x, before)  # the caller's array is never handed to the op


def test_copies_keep_the_layout_the_op_sees():
    seen = []

    def record(t):
        seen.append(t.data)
        return F.softmax(t, 1)

    for layout, x in _layouts().items():
        seen.clear()
        assert_backends_agree(record, x)
        assert_matches_torch(record, lambda t: torch_softmax(t), x)
        assert len(seen) == 3
        for arr in seen:
            assert not np.shares_memory(arr, x), layout
            np.testing.assert_array_equal(arr, x)
            assert arr.flags.c_contiguous == x.flags.c_contiguous, layout
            assert arr.flags.f_contiguous == x.flags.f_contiguous, layout
            assert (min(arr.strides) < 0) == (min(x.strides) < 0), layout


def torch_softmax(t):
    import torch

    return torch.softmax(t, 1)


def test_torch_inputs_are_built_from_pristine_copies():
    """An op that zeroes its input must not make torch see zeros too (finding 6)."""
    pytest.importorskip("torch")
    x = _rand(3, 4, seed=5)

    class ZeroAfter(tm.Function):
        @staticmethod
        def forward(ctx, a):
            y = a * 1.0
            a[...] = 0.0
            return y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(AssertionError, match=r"changed its input 'input 0' in place: 12 of 12"):
        assert_matches_torch(ZeroAfter.apply, lambda t: t * 1.0, x)


def test_backends_agree_skips_without_numba(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    with pytest.raises(pytest.skip.Exception, match="numba is not available"):
        assert_backends_agree(lambda x: x, _rand(2))


def test_requires_grad_flags_are_checked():
    with pytest.raises(ValueError, match="assert_backends_agree: requires_grad"):
        assert_backends_agree(lambda x: x, _rand(2), requires_grad=(True, False))
    with pytest.raises(ValueError, match=r"requires_grad\[0\] is True but input 0 has dtype"):
        assert_backends_agree(lambda x: x, np.arange(3), requires_grad=(True,))
