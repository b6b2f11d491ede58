"""Module hooks against PyTorch's semantics, on both backends.

Every test builds the same module and the same hooks in both libraries (the hooks only
record and transform through operations both share), runs both, and compares the recorded
event lists, the values the hooks saw and the results: order (registration, ``prepend``),
modification (args, kwargs, output, grad_input, grad_output), removal, the ``with_kwargs``
form and ``always_call``. float64 throughout; tolerance rtol 1e-10 (a few ops on O(1) values).
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _arr(t):
    """A tinymm or torch tensor (or None) as an ndarray (or None)."""
    if t is None:
        return None
    if isinstance(t, tm.Tensor):
        return t.data
    if isinstance(t, np.ndarray):  # a tinymm .grad
        return t
    return t.detach().numpy()


def _linear_pair(seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Linear(3, 2, dtype=torch.float64)
    mine = nn.Linear(3, 2, dtype=np.float64)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return mine, theirs


class _MixMine(nn.Module):
    """(a·w + alpha·b, a·b) with a non-Tensor argument ``alpha`` and a tuple output."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.array([1.5, -2.0, 0.5]))

    def forward(self, a, alpha, b, scale=1.0):
        return (a * self.w + b * alpha) * scale, a * b


class _MixTheirs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64))

    def forward(self, a, alpha, b, scale=1.0):
        return (a * self.w + b * alpha) * scale, a * b


def _inputs(lib, requires=(True, True)):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    if lib == "tm":
        return tm.tensor(a, requires_grad=requires[0]), tm.tensor(b, requires_grad=requires[1])
    return torch.tensor(a, requires_grad=requires[0]), torch.tensor(b, requires_grad=requires[1])


def _install_order_hooks(module, events):
    handles = [
        module.register_forward_pre_hook(lambda m, args: events.append(("pre", 1))),
        module.register_forward_pre_hook(lambda m, args: events.append(("pre", 2))),
        module.register_forward_pre_hook(lambda m, args: events.append(("pre", 0)), prepend=True),
        module.register_forward_pre_hook(
            lambda m, args, kwargs: events.append(("pre_kw", sorted(kwargs))), with_kwargs=True),
        module.register_forward_hook(lambda m, args, out: events.append(("fwd", 1))),
        module.register_forward_hook(lambda m, args, out: events.append(("fwd", 0)), prepend=True),
        module.register_forward_hook(
            lambda m, args, kwargs, out: events.append(("fwd_kw", sorted(kwargs))),
            with_kwargs=True),
        module.register_full_backward_pre_hook(lambda m, go: events.append(("bwd_pre", 1))),
        module.register_full_backward_pre_hook(lambda m, go: events.append(("bwd_pre", 0)),
                                               prepend=True),
        module.register_full_backward_hook(lambda m, gi, go: events.append(("bwd", 1))),
        module.register_full_backward_hook(lambda m, gi, go: events.append(("bwd", 0)),
                                           prepend=True),
    ]
    return handles


def test_hook_order_and_removal_match_torch(backend):
    logs = {}
    for lib, module in (("tm", _MixMine()), ("torch", _MixTheirs())):
        events = logs[lib] = []
        handles = _install_order_hooks(module, events)
        a, b = _inputs(lib)
        out, prod = module(a, 2.0, b, scale=0.5)
        (out.sum() + prod.sum()).backward()
        events.append("---")
        for h in handles[1::2]:  # remove every other hook
            h.remove()
        out, prod = module(a, 2.0, b)
        out.sum().backward()
    assert logs["tm"] == logs["torch"]
    assert logs["tm"][:3] == [("pre", 0), ("pre", 1), ("pre", 2)]


def test_handle_is_a_context_manager(backend):
    mine, _ = _linear_pair()
    seen = []
    with mine.register_forward_hook(lambda m, args, out: seen.append(1)):
        mine(tm.randn(1, 3, dtype=tm.float64))
    mine(tm.randn(1, 3, dtype=tm.float64))
    assert seen == [1]


def test_forward_hooks_modify_args_kwargs_and_output_like_torch(backend):
    results = {}
    for lib, module in (("tm", _MixMine()), ("torch", _MixTheirs())):
        # a non-tuple return is the only argument... which forward rejects in both: so the
        # tuple form changes alpha, the kwargs form changes scale, the forward hook the output
        module.register_forward_pre_hook(lambda m, args: (args[0], 3.0, args[2]))
        module.register_forward_pre_hook(
            lambda m, args, kwargs: (args, {**kwargs, "scale": kwargs.get("scale", 1.0) * 4}),
            with_kwargs=True)
        module.register_forward_hook(lambda m, args, out: (out[0] * args[1], out[1]))
        seen = []
        module.register_forward_hook(
            lambda m, args, kwargs, out, seen=seen: seen.append((args[1], kwargs["scale"])),
            with_kwargs=True)
        a, b = _inputs(lib)
        out, prod = module(a, 1.0, b, scale=0.5)
        out.sum().backward()
        results[lib] = (_arr(out), _arr(prod), _arr(a.grad), _arr(b.grad), seen)
    for mine, theirs in zip(results["tm"][:4], results["torch"][:4]):
        np.testing.assert_allclose(mine, theirs, **TOL)
    assert results["tm"][4] == results["torch"][4] == [(3.0, 2.0)]


def test_pre_hook_returning_a_single_value_is_wrapped_like_torch(backend):
    outs = []
    for lib, (mine, theirs) in (("tm", _linear_pair()), ("torch", _linear_pair())):
        module = mine if lib == "tm" else theirs
        module.register_forward_pre_hook(lambda m, args: args[0] * 2)  # not a tuple
        x = tm.ones(1, 3, dtype=tm.float64) if lib == "tm" else torch.ones(1, 3, dtype=torch.float64)
        outs.append(_arr(module(x)))
    np.testing.assert_allclose(outs[0], outs[1], **TOL)


def test_with_kwargs_pre_hook_must_return_args_and_kwargs(backend):
    mine, theirs = _linear_pair()
    for module, x in ((mine, tm.ones(1, 3, dtype=tm.float64)),
                      (theirs, torch.ones(1, 3, dtype=torch.float64))):
        module.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
        with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
            module(x)


def test_always_call_hook_runs_when_forward_raises(backend):
    logs = {}
    for lib, module in (("tm", _MixMine()), ("torch", _MixTheirs())):
        events = logs[lib] = []
        module.register_forward_hook(lambda m, args, out, ev=events: ev.append("plain"))
        module.register_forward_hook(lambda m, args, out, ev=events: ev.append(("always", out)),
                                     always_call=True)
        module.register_forward_hook(
            lambda m, args, kw, out, ev=events: ev.append(("always_kw", kw)),
            always_call=True, with_kwargs=True)
        a, _ = _inputs(lib)
        with pytest.raises(TypeError):
            module(a, 1.0, "not a tensor", scale=2.0)
        module(a, 1.0, a)
        events[-3:] = ["ok"]
    assert logs["tm"] == logs["torch"] == [("always", None), ("always_kw", {"scale": 2.0}), "ok"]


def test_full_backward_hook_sees_and_replaces_grad_input_like_torch(backend):
    results = {}
    for lib, module in (("tm", _MixMine()), ("torch", _MixTheirs())):
        seen = []

        def hook(m, grad_input, grad_output, seen=seen):
            seen.append(([_arr(g) for g in grad_input], [_arr(g) for g in grad_output]))
            return (grad_input[0] * 10, None, grad_input[2])

        module.register_full_backward_hook(hook)
        a, b = _inputs(lib)
        out, prod = module(a, 2.0, b)
        (3 * out.sum() + prod.sum()).backward()
        results[lib] = (seen, _arr(a.grad), _arr(b.grad), _arr(module.w.grad))
    (gi_m, go_m), = results["tm"][0]
    (gi_t, go_t), = results["torch"][0]
    assert [g is None for g in gi_m] == [g is None for g in gi_t] == [False, True, False]
    assert len(go_m) == len(go_t) == 2
    for mine, theirs in zip(gi_m + go_m, gi_t + go_t):
        if theirs is not None:
            np.testing.assert_allclose(mine, theirs, **TOL)
    for mine, theirs in zip(results["tm"][1:], results["torch"][1:]):
        np.testing.assert_allclose(mine, theirs, **TOL)


def test_full_backward_pre_hook_replaces_grad_output_like_torch(backend):
    results = {}
    for lib, (mine, theirs) in (("tm", _linear_pair(1)), ("torch", _linear_pair(1))):
        module = mine if lib == "tm" else theirs
        module.register_full_backward_pre_hook(lambda m, go: (go[0] * -2,))
        seen = []
        module.register_full_backward_hook(lambda m, gi, go, seen=seen: seen.append(_arr(go[0])))
        rng = np.random.default_rng(4)
        x = rng.standard_normal((4, 3))
        x = tm.tensor(x, requires_grad=True) if lib == "tm" else torch.tensor(x, requires_grad=True)
        module(x).sum().backward()
        results[lib] = (_arr(x.grad), _arr(module.weight.grad), _arr(module.bias.grad), seen[0])
    for mine, theirs in zip(results["tm"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, **TOL)
    np.testing.assert_allclose(results["tm"][3], -2.0)


def test_full_backward_hook_without_input_gradients_fires_at_outputs(backend):
    results = {}
    for lib, (mine, theirs) in (("tm", _linear_pair()), ("torch", _linear_pair())):
        module = mine if lib == "tm" else theirs
        seen = []
        module.register_full_backward_hook(
            lambda m, gi, go, seen=seen: seen.append((gi, _arr(go[0]).copy())))
        x = np.ones((2, 3))
        x = tm.tensor(x) if lib == "tm" else torch.tensor(x)
        with pytest.warns(UserWarning) if lib == "torch" else _nothing():
            module(x).sum().backward()
        results[lib] = seen
    assert results["tm"][0][0] == results["torch"][0][0] == (None,)
    np.testing.assert_allclose(results["tm"][0][1], results["torch"][0][1], **TOL)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_hooks_are_not_called_without_grad_and_not_after_removal(backend):
    mine, _ = _linear_pair()
    seen = []
    handle = mine.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    x = tm.tensor(np.ones((2, 3)), requires_grad=True)
    with tm.no_grad():
        mine(x)
    mine(x).sum().backward()
    handle.remove()
    mine(x).sum().backward()
    assert seen == [1]


def test_with_kwargs_pre_hook_asks_attention_for_its_weights_like_torch(backend):
    """The PyTorch recipe for attention maps: a TransformerEncoderLayer calls self_attn with
    need_weights=False; a with_kwargs pre-hook turns the weights on, a forward hook keeps them."""
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype=torch.float64)
    mine = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype=np.float64)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    maps = {}
    for lib, layer in (("tm", mine), ("torch", theirs)):
        def ask(m, args, kwargs):
            return args, {**kwargs, "need_weights": True, "average_attn_weights": False}

        def keep(m, args, out, lib=lib):
            maps[lib] = _arr(out[1])

        layer.self_attn.register_forward_pre_hook(ask, with_kwargs=True)
        layer.self_attn.register_forward_hook(keep)
        x = np.random.default_rng(5).standard_normal((5, 3, 8))
        x = tm.tensor(x, requires_grad=True) if lib == "tm" else torch.tensor(x, requires_grad=True)
        layer(x).sum().backward()
    assert maps["tm"].shape == maps["torch"].shape == (3, 2, 5, 5)
    np.testing.assert_allclose(maps["tm"], maps["torch"], rtol=1e-7, atol=1e-9)


def test_register_rejects_a_non_callable():
    mine, _ = _linear_pair()
    with pytest.raises(TypeError, match="hook must be callable"):
        mine.register_forward_hook("not a function")
