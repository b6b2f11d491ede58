"""Tensor hooks, retain_grad, post-accumulate-grad hooks and autograd.grad, as in PyTorch."""

import numpy as np
import pytest

import tinymm as tm

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.0, 2.0])
W = np.array([1.5, 0.25, -0.75])


def _leaves(lib):
    return (lib.tensor(X.copy(), requires_grad=True), lib.tensor(W.copy(), requires_grad=True))


def _graph(x, w):
    """x is used twice, h is a non-leaf consumed twice."""
    h = x * w
    return h, (h * h).sum() + (h * x).sum()


def _run(lib, register):
    x, w = _leaves(lib)
    h, loss = _graph(x, w)
    calls = register(x, w, h)
    loss.backward()
    return x, w, h, calls


def _np(a):
    return None if a is None else np.asarray(a.detach() if isinstance(a, torch.Tensor) else a)


def _compare(register):
    got = _run(tm, register)
    want = _run(torch, register)
    for g, t in zip(got[:3], want[:3]):
        if not (t.is_leaf or t.retains_grad):
            assert g.grad is None
        elif t.grad is None:
            assert g.grad is None
        else:
            np.testing.assert_allclose(g.grad, t.grad.numpy(), rtol=1e-12)
    assert len(got[3]) == len(want[3])  # the hooks ran as often as in PyTorch
    for a, b in zip(got[3], want[3]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)


def test_a_leaf_hook_sees_the_whole_gradient_once_and_may_replace_it():
    def register(x, w, h):
        seen = []
        x.register_hook(lambda g: seen.append(g * 1) or g * 10)
        return seen
    _compare(register)


def test_a_non_leaf_hook_changes_what_flows_further():
    def register(x, w, h):
        seen = []
        h.register_hook(lambda g: seen.append(g * 1) or g * -2)
        return seen
    _compare(register)


def test_retain_grad_runs_after_the_other_hooks_and_sees_their_result():
    def register(x, w, h):
        h.retain_grad()
        h.register_hook(lambda g: g + 1)
        return []
    _compare(register)


def test_post_accumulate_grad_hook_runs_once_with_the_accumulated_grad():
    def register(x, w, h):
        seen = []
        w.grad = np.ones(3) if isinstance(w, tm.Tensor) else torch.ones(3, dtype=torch.float64)
        w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad * 1))
        return seen
    _compare(register)


def test_removed_hooks_do_not_run_and_handles_work_as_context_managers():
    x, w = _leaves(tm)
    calls = []
    handle = x.register_hook(lambda g: calls.append("x"))
    with w.register_post_accumulate_grad_hook(lambda p: calls.append("w")):
        _graph(x, w)[1].backward()
    assert sorted(calls) == ["w", "x"]
    handle.remove()
    handle.remove()  # a second remove is harmless, as in PyTorch
    _graph(x, w)[1].backward()
    assert sorted(calls) == ["w", "x"]


def test_retain_grad_accumulates_over_backwards_like_torch():
    results = []
    for lib in (tm, torch):
        x, w = _leaves(lib)
        h, loss = _graph(x, w)
        h.retain_grad()
        assert h.retains_grad and not x.retains_grad
        loss.backward(retain_graph=True)
        loss.backward()
        results.append(_np(h.grad))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_hook_errors():
    x = tm.ones(2)
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor "
                                           "that does not require grad"):
        x.register_hook(lambda g: g)
    y = tm.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="register_post_accumulate_grad_hook: only leaf"):
        y.register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError, match="hook must be callable"):
        y.register_hook(3)
    y.register_hook(lambda g: np.ones(5))
    with pytest.raises(ValueError, match=r"returned a gradient of shape \(5,\), expected \(2,\)"):
        y.sum().backward()


# ----------------------------------------------------------------------------- autograd.grad
def test_autograd_grad_matches_torch_and_leaves_grad_untouched():
    got, want = [], []
    for lib, out in ((tm, got), (torch, want)):
        x, w = _leaves(lib)
        h, loss = _graph(x, w)
        gx, gh = lib.autograd.grad(loss, [x, h], retain_graph=True)
        out += [gx, gh]
        assert x.grad is None and w.grad is None
        (gw,) = lib.autograd.grad([h.sum(), loss], w, grad_outputs=[lib.tensor(2.0, dtype=lib.float64),
                                                                    None])
        out.append(gw)
    for a, b in zip(got, want):
        assert isinstance(a, tm.Tensor)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)


def test_autograd_grad_unused_inputs_and_freed_graphs():
    x, w = _leaves(tm)
    z = tm.ones(3, requires_grad=True)
    loss = (x * w).sum()
    with pytest.raises(RuntimeError, match=r"autograd.grad: inputs\[1\] was not used"):
        tm.autograd.grad(loss, [x, z], retain_graph=True)
    gx, gz = tm.autograd.grad(loss, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_array_equal(gx.numpy(), W)
    with pytest.raises(RuntimeError, match="was freed by an earlier backward"):
        tm.autograd.grad(loss, x)
    with pytest.raises(RuntimeError, match=r"inputs\[0\] does not require grad"):
        tm.autograd.grad((w * 2).sum(), tm.ones(3))
    with pytest.raises(ValueError, match="create_graph=True is not supported"):
        tm.autograd.grad((w * 2).sum(), w, create_graph=True)
    with pytest.raises(ValueError, match="gradient can be omitted only for a one-element"):
        tm.autograd.grad(w * 2, w)


def test_autograd_grad_runs_tensor_hooks_but_no_post_accumulate_hooks():
    x, w = _leaves(tm)
    calls = []
    x.register_hook(lambda g: g * 3)
    x.register_post_accumulate_grad_hook(lambda p: calls.append(p))
    w.register_hook(lambda g: calls.append(g))  # w is not asked for: its hook does not run
    (gx,) = tm.autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), 3 * W)
    assert calls == [] and x.grad is None and w.grad is None


def test_grad_fn_names_the_op():
    x = tm.ones(2, requires_grad=True)
    assert x.grad_fn is None
    assert repr((x * 2).grad_fn) == "<MulBackward>"
    assert "grad_fn=<MulBackward>" in repr(x * 2)
