"""nn.Module: registration, traversal order and names, state dicts, modes, dtypes, Linear init,
and PyTorch parity of names, state dicts, outputs and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn


def _net(lib, dtype=None):
    """The same nested model in tinymm or torch: Sequential, ModuleList, ModuleDict, own param."""
    kw = {} if dtype is None else {"dtype": dtype}

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.nn.Sequential(lib.nn.Linear(3, 4, **kw), lib.nn.ReLU(),
                                          lib.nn.Sequential(lib.nn.Linear(4, 4, **kw)))
            self.blocks = lib.nn.ModuleList([lib.nn.Linear(4, 4, **kw),
                                             lib.nn.Linear(4, 4, bias=False, **kw)])
            self.heads = lib.nn.ModuleDict({"b": lib.nn.Linear(4, 2, **kw),
                                            "a": lib.nn.Linear(4, 1, **kw)})
            self.scale = lib.nn.Parameter(lib.ones(1, **kw))

        def forward(self, x):
            h = self.stem(x)
            for block in self.blocks:
                h = block(h).tanh()
            return lib.cat([self.heads["b"](h), self.heads["a"](h)], 1) * self.scale

    return Net()


NAMES = ["scale", "stem.0.weight", "stem.0.bias", "stem.2.0.weight", "stem.2.0.bias",
         "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "heads.b.weight", "heads.b.bias",
         "heads.a.weight", "heads.a.bias"]


# ---------------------------------------------------------------------------- registration
def test_registration_of_parameters_modules_and_plain_attributes():
    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones(2))
            self.sub = nn.Linear(2, 2)
            self.not_a_param = tm.ones(3)  # a plain Tensor is an ordinary attribute
            self.size = 5
            self.register_parameter("absent", None)

    toy = Toy()
    assert list(toy._parameters) == ["w", "absent"] and list(toy._modules) == ["sub"]
    assert [n for n, _ in toy.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert toy.absent is None and toy.size == 5 and "not_a_param" not in toy.state_dict()
    with pytest.raises(TypeError, match=r"Toy: cannot assign Tensor to parameter 'w'"):
        toy.w = tm.ones(2)
    toy.w = None  # a parameter may be set to None
    assert "w" not in dict(toy.named_parameters())
    toy.sub = nn.Identity()  # replacing a submodule drops the old one's parameters
    assert [n for n, _ in toy.named_parameters()] == []
    del toy.sub
    assert list(toy.children()) == []
    with pytest.raises(AttributeError, match=r"'Toy' object has no attribute 'missing'"):
        toy.missing  # noqa: B018


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match=r"Broken: call super\(\).__init__\(\)"):
        Broken()


def test_register_rejects_wrong_types():
    m = nn.Module()
    with pytest.raises(TypeError, match=r"register_parameter: 'w' must be a Parameter or None"):
        m.register_parameter("w", np.ones(2))
    with pytest.raises(TypeError, match=r"register_module: 'm' must be a Module"):
        m.register_module("m", 3)


def test_register_parameter_replaces_a_plain_attribute_of_the_same_name():
    # PyTorch: a bias-less Linear gets a bias back with register_parameter. In tinymm,
    # nn.Linear(bias=False) stores a plain attribute `bias = None` as well as the registry
    # entry, and register_parameter leaves that attribute in place, so `lin.bias` stays None
    # (forward ignores the bias) while state_dict() lists it. Reported to the lead.
    lin = nn.Linear(2, 3, bias=False)
    lin.register_parameter("bias", nn.Parameter(np.ones(3, np.float32)))
    assert "bias" in lin.state_dict()
    assert lin.bias is not None, "register_parameter left a stale plain attribute 'bias' = None"


# ---------------------------------------------------------------------------- traversal
def test_named_parameters_names_and_order():
    net = _net(tm)
    assert [n for n, _ in net.named_parameters()] == NAMES
    assert [n for n, _ in net.named_modules()] == [
        "", "stem", "stem.0", "stem.1", "stem.2", "stem.2.0", "blocks", "blocks.0", "blocks.1",
        "heads", "heads.b", "heads.a"]
    assert [type(c).__name__ for c in net.children()] == ["Sequential", "ModuleList", "ModuleDict"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.stem.named_parameters(prefix="stem")] == NAMES[1:5]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())


def test_names_and_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _net(tm), _net(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.shape == tuple(q.shape)


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                 torch.nn.Linear(3, 1, bias=False))
    assert repr(ours) == repr(theirs)


def test_shared_parameters_are_listed_and_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 3, bias=False)
            self.dec = nn.Linear(4, 3)
            self.dec.weight = self.enc.weight

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["enc.weight", "dec.bias"]
    assert tied.num_parameters() == 12 + 3
    assert list(tied.state_dict()) == ["enc.weight", "dec.weight", "dec.bias"]  # as PyTorch


def test_shared_submodule_state_dict_matches_pytorch():
    # PyTorch lists a module registered under two names under both prefixes in state_dict()
    # (named_parameters() lists it once). tinymm's state_dict()/load_state_dict() walk
    # named_modules(), which skips the second name, so loading PyTorch's state dict of such a
    # model fails with "unexpected key 'b.weight'". Reported to the lead.
    torch = pytest.importorskip("torch")

    def shared(lib):
        class Shared(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = lib.nn.Linear(2, 2)
                self.b = self.a

        return Shared()

    ours, theirs = shared(tm), shared(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())


# ---------------------------------------------------------------------------- state dicts
def test_state_dict_shares_memory_and_holds_persistent_buffers():
    m = nn.Linear(2, 2)
    m.register_buffer("running", np.zeros(2))
    m.register_buffer("scratch", np.zeros(2), persistent=False)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias", "running"]
    assert sd["weight"] is m.weight.data  # as PyTorch: the state dict aliases the parameters
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]


def test_load_state_dict_copies_in_place_and_casts():
    m = nn.Linear(3, 2)
    weight = m.weight
    array = m.weight.data
    new = {"weight": np.arange(6.0).reshape(2, 3), "bias": np.array([1.0, 2.0])}  # float64
    result = m.load_state_dict(new)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert m.weight is weight and m.weight.data is array  # optimizers keep working
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, new["weight"])
    new["weight"][0, 0] = 100.0
    assert m.weight.data[0, 0] == 0.0  # copied, not aliased


def test_load_state_dict_strict_lists_every_problem_in_one_message():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    before = {k: v.copy() for k, v in m.state_dict().items()}
    bad = {
        "0.weight": np.zeros((2, 4)),  # mis-shaped
        "0.bias": np.zeros(2),
        "1.weight": np.zeros((3, 3)),  # mis-shaped
        "extra.weight": np.zeros(1),  # unexpected
        "2.bias": np.zeros(1),  # unexpected
    }  # "1.bias" is missing
    with pytest.raises(ValueError, match=r"load_state_dict: 5 problem\(s\) loading into "
                                         r"Sequential") as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    for piece in ["0.weight: shape (2, 4) in the state dict, (2, 3) in the model",
                  "1.weight: shape (3, 3) in the state dict, (2, 2) in the model",
                  "missing key '1.bias'", "unexpected key 'extra.weight'",
                  "unexpected key '2.bias'"]:
        assert piece in msg
    for k, v in m.state_dict().items():  # nothing was loaded
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_returns_the_keys():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    result = m.load_state_dict({"0.weight": np.ones((2, 3)), "head.weight": np.ones(2)},
                               strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["head.weight"]
    missing, unexpected = result  # a named tuple, as PyTorch's
    assert missing == result.missing_keys and unexpected == result.unexpected_keys
    np.testing.assert_array_equal(m[0].weight.data, 1.0)
    with pytest.raises(ValueError, match=r"0.weight: shape \(3, 2\) in the state dict"):
        m.load_state_dict({"0.weight": np.ones((3, 2))}, strict=False)  # shapes always count


def test_load_state_dict_rejects_a_non_mapping():
    with pytest.raises(TypeError, match=r"load_state_dict: state_dict must be a mapping, got list"):
        nn.Linear(2, 2).load_state_dict([np.ones((2, 2))])


# ---------------------------------------------------------------------------- modes, grads, dtypes
def test_train_eval_propagate_to_every_submodule():
    net = _net(tm)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].training and not net.stem.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match=r"train: mode must be a bool, got str"):
        net.train("no")


def test_zero_grad():
    net = _net(tm)
    net(tm.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.any() for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_float_double():
    net = _net(tm)
    net.register_buffer("stats", np.ones(2, np.float32))
    net.register_buffer("count", np.zeros(1, np.int64))
    net(tm.randn(2, 3)).sum().backward()
    params = list(net.parameters())
    assert net.double() is net
    assert list(net.parameters()) == params  # the same Parameter objects, new arrays
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.stats.dtype == np.float64 and net.count.dtype == np.int64
    assert net(tm.randn(2, 3, dtype=tm.float64)).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters()) and net.stats.dtype == np.float32
    net.to("float64")
    assert all(p.dtype == np.float64 for p in net.parameters())
    with pytest.raises(TypeError, match=r"to: dtype must be a floating dtype, got int64"):
        net.to(np.int64)


def test_num_parameters():
    net = _net(tm)
    expected = 1 + (12 + 4) + (16 + 4) + (16 + 4) + 16 + (8 + 2) + (4 + 1)
    assert net.num_parameters() == expected == sum(p.data.size for p in net.parameters())
    net.stem.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == expected - (12 + 4) - (16 + 4)
    assert net.num_parameters() == expected


def test_apply_visits_children_first():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


# ---------------------------------------------------------------------------- Linear init
def test_linear_default_init_has_pytorchs_distribution():
    torch = pytest.importorskip("torch")
    tm.manual_seed(0)
    torch.manual_seed(0)
    in_f, out_f = 400, 300
    ours, theirs = nn.Linear(in_f, out_f), torch.nn.Linear(in_f, out_f)
    bound = 1 / math.sqrt(in_f)  # kaiming_uniform(a=√5) gives U(±1/√in); bias U(±1/√in)
    for w in (ours.weight.data, theirs.weight.detach().numpy()):
        assert w.dtype == np.float32
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.999 * bound  # it reaches the bound: uniform, not narrower
        assert abs(w.mean()) < 0.01 * bound
        assert w.var() == pytest.approx(bound**2 / 3, rel=0.02)  # variance of U(-b, b)
    for b in (ours.bias.data, theirs.bias.detach().numpy()):
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound
    small = nn.Linear(7, 5)
    assert np.abs(small.weight.data).max() <= 1 / math.sqrt(7)


def test_manual_seed_makes_init_reproducible():
    tm.manual_seed(123)
    a = nn.Linear(5, 4)
    tm.manual_seed(123)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


# ---------------------------------------------------------------------------- PyTorch parity
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pytorch_state_dict_gives_equal_outputs_and_gradients(dtype, backend):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    theirs = _net(torch, tdtype)
    with torch.no_grad():
        theirs.scale.fill_(1.5)
    ours = _net(tm, dtype)
    ours.load_state_dict(theirs.state_dict())  # torch tensors straight in
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3)).astype(dtype)
    r = rng.standard_normal((6, 3)).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    (theirs(xt) * torch.from_numpy(r)).sum().backward()
    xo = tm.tensor(x, requires_grad=True)
    with tm.backend(backend):
        out = ours(xo)
        (out * tm.tensor(r)).sum().backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, theirs(xt).detach().numpy(), **tol)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **tol)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.grad.dtype == dtype, name
        np.testing.assert_allclose(p.grad, q.grad.numpy(), err_msg=name, **tol)


def test_tinymm_state_dict_loads_into_pytorch():
    torch = pytest.importorskip("torch")
    tm.manual_seed(1)
    ours = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    want = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(tm.tensor(x)).data, want, rtol=1e-6, atol=1e-6)
