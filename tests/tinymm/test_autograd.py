"""The engine: deep graphs, accumulation, broadcasting, retain_graph, no_grad, detach, Function."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
import tinymm.functional as F
from tinymm.testing import assert_gradients_close
from tinymm.testing import strategies as tst


def test_a_20000_op_chain_backpropagates_without_recursion_error():
    x = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for i in range(20000):
        y = y * 1.0001 if i % 2 else y + 0.5
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0001 ** 10000, rtol=1e-9)


def test_diamond_graph_accumulates():
    x = tm.tensor(np.array([2.0, 3.0]), requires_grad=True)
    a = x * 3  # x feeds two paths that meet again
    b = x.exp()
    y = (a * b + a + b).sum()
    y.backward()
    want = 3 * np.exp(x.data) + 3 * x.data * np.exp(x.data) + 3 + np.exp(x.data)
    np.testing.assert_allclose(x.grad, want)


def test_same_tensor_used_twice_in_one_op():
    x = tm.tensor(np.array([1.0, -2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_gradients_accumulate_across_backward_calls():
    x = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])
    x.zero_grad_()
    assert x.grad is None


@given(st.data())
def test_broadcast_gradients_are_summed_to_input_shapes(data):
    sa, sb = data.draw(tst.broadcastable_shapes(2, 0, 3, max_side=3))
    a = data.draw(tst.tensors(sa), label="a")
    b = data.draw(tst.tensors(sb), label="b")
    y = a * b + a
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    out = np.broadcast_shapes(sa, sb)
    ga = g * np.broadcast_to(b.data, out) + g
    gb = g * np.broadcast_to(a.data, out)
    np.testing.assert_allclose(a.grad, _sum_to(ga, sa), atol=1e-12)
    np.testing.assert_allclose(b.grad, _sum_to(gb, sb), atol=1e-12)


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def test_second_backward_without_retain_graph_raises_a_clear_error():
    x = tm.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward: the graph through .* was freed by an "
                                           "earlier backward; pass retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_doubles_grads():
    x = tm.tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_no_grad_records_nothing():
    x = tm.randn(3, requires_grad=True)
    with tm.no_grad():
        assert not tm.is_grad_enabled()
        y = x * 2 + x.exp()
        z = F.softmax(x, 0)
        with tm.enable_grad():
            w = x * 2
    assert tm.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and not z.requires_grad
    assert w.requires_grad and not w.is_leaf

    @tm.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and tm.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(KeyError), tm.no_grad():
        raise KeyError
    assert tm.is_grad_enabled()


def test_no_grad_decorator_survives_recursion():
    """A recursive function decorated with one @tm.no_grad() stays grad-free throughout."""
    x = tm.randn(2, requires_grad=True)

    @tm.no_grad()
    def recurse(n):
        if n:
            recurse(n - 1)
        return x * 2  # recorded only if grad mode leaked back on

    assert not recurse(2).requires_grad
    assert tm.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3
    z = (y.detach() * x).sum()  # d z / d x = y (treated as a constant)
    z.backward()
    np.testing.assert_array_equal(x.grad, y.data)


def test_backward_stops_at_tensors_that_do_not_require_grad():
    x = tm.randn(2, requires_grad=True)
    c = tm.randn(2)
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_backward_on_a_leaf():
    x = tm.tensor(np.array([2.0]), requires_grad=True)
    x.backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_grads_have_the_leaf_dtype():
    x32 = tm.randn(3, requires_grad=True)
    x64 = tm.randn(3, dtype=tm.float64, requires_grad=True)
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


# ----------------------------------------------------------------------------- Function
class ScaleShift(tm.Function):
    """(a * s + b, a - b) — two outputs, a non-Tensor argument, needs_input_grad."""

    @staticmethod
    def forward(ctx, a, s, b):
        ctx.save_for_backward(a, b)
        ctx.s = s
        ctx.seen_needs = ctx.needs_input_grad
        return a * s + b, a - b

    @staticmethod
    def backward(ctx, g1, g2):
        assert ctx.saved_tensors[0].shape == g1.shape
        return g1 * ctx.s + g2, None, g1 - g2


def test_custom_function_with_two_outputs_and_a_constant():
    a = tm.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tm.tensor(np.array([0.5]), requires_grad=True)
    assert_gradients_close(lambda x, y: ScaleShift.apply(x, 3.0, y), a, b, names=("a", "b"))
    y1, y2 = ScaleShift.apply(a, 3.0, b)
    y1.sum().backward()  # the second output gets a zero gradient
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad, [2.0])


def test_needs_input_grad():
    a = tm.randn(2, requires_grad=True)
    b = tm.randn(2)
    y, _ = ScaleShift.apply(a, 2.0, b)
    assert y.grad_fn.ctx.seen_needs == (True, False, False)


def test_function_returning_too_few_gradients_is_reported():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a, b = tm.randn(2, requires_grad=True), tm.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients for 2 forward "
                                           "arguments"):
        Bad.apply(a, b).sum().backward()


def test_a_wrongly_shaped_gradient_is_reported():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g[:, :1]

    a = tm.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: gradient of shape \(2, 1\) cannot be "
                                           r"summed to \(2, 3\)"):
        Bad.apply(a).sum().backward()


def test_a_gradient_with_too_few_dims_is_reported_clearly():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.reshape(-1)  # (4, 1) input, (4,) gradient

    a = tm.randn(4, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: gradient of shape \(4,\) cannot be "
                                           r"summed to \(4, 1\)"):
        Bad.apply(a).sum().backward()


def test_integer_outputs_do_not_require_grad():
    x = tm.randn(2, 3, requires_grad=True)
    values, indices = x.max(dim=1)
    assert values.requires_grad and not indices.requires_grad


# ----------------------------------------------------------------------------- seeding
def test_manual_seed_makes_randomness_reproducible():
    def draw():
        x = tm.ones(50)
        return tm.randn(4).data, tm.rand(4).data, F.dropout(x, 0.5).data

    tm.manual_seed(42)
    first = draw()
    tm.manual_seed(42)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    tm.manual_seed(43)
    assert not np.array_equal(draw()[0], first[0])


def test_leaf_gradients_never_share_memory():
    """Leaves keep kernel-fresh gradients without a copy, but never an array that someone
    else holds: the caller's grad_output, or one array handed to two leaves."""
    a = tm.tensor(np.ones(3), requires_grad=True)
    b = tm.tensor(np.ones(3), requires_grad=True)
    gy = np.arange(3.0)
    (a + b).backward(tm.tensor(gy))  # add's backward returns (g, g), g being gy itself
    assert not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, gy) and not np.shares_memory(b.grad, gy)
    a.grad[:] = 100.0
    np.testing.assert_array_equal(b.grad, gy)
    np.testing.assert_array_equal(gy, [0.0, 1.0, 2.0])

    c = tm.tensor(np.ones((2, 3)), requires_grad=True)
    g2 = np.ones((6,))
    c.reshape(6).backward(tm.tensor(g2))  # an identity-like backward passes a view of g2
    assert not np.shares_memory(c.grad, g2)

    d = tm.tensor(np.ones(3), requires_grad=True)
    (d * 3.0).sum().backward()  # a fresh kernel result: kept as is, and right
    np.testing.assert_array_equal(d.grad, [3.0, 3.0, 3.0])


def test_retained_graph_gradients_are_copies():
    a = tm.tensor(np.ones(3), requires_grad=True)
    y = (a * 2.0).sum()
    y.backward(retain_graph=True)
    first = a.grad
    a.grad = None
    y.backward()
    assert not np.shares_memory(first, a.grad)
    np.testing.assert_array_equal(a.grad, [2.0, 2.0, 2.0])


def test_leaf_gradient_never_aliases_a_view_of_the_callers_grad_output():
    owner = np.arange(6.0)
    a = tm.tensor(np.ones((2, 3)), requires_grad=True)
    a.reshape(6).backward(tm.tensor(owner[:]))  # grad_output is a view; reshape passes it on
    assert not np.shares_memory(a.grad, owner)


def test_workspace_backed_gradients_are_copied():
    """A kernel result that lives in a reused workspace must not become a leaf's .grad."""
    from tinymm.kernels.workspace import workspace

    from tinymm.autograd import _fresh

    w = workspace("test.autograd", (3, 4), np.float64)
    assert not _fresh(w, set())
    fresh = np.ones((3, 4))
    assert _fresh(fresh, set()) and _fresh(fresh.reshape(12), set())
    assert not _fresh(fresh.reshape(12), {id(fresh)})
    assert not _fresh(fresh[:2], set()) and not _fresh(fresh.T, set())
    assert not _fresh(np.broadcast_to(np.ones(4), (3, 4)), set())
