"""Top-level functions (``tm.exp``, ``tm.sum``, ``tm.max``, ...): the same call with PyTorch's
argument names gives PyTorch's values and gradients, and a non-Tensor input is rejected
with the function's name."""

import numpy as np
import pytest

import tinymm as tm
from tinymm.testing import assert_matches_torch

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A = RNG.uniform(0.5, 2.0, (3, 4))  # positive: log and sqrt are defined
B = RNG.uniform(-2.0, 2.0, (3, 4))
M = RNG.uniform(-1.0, 1.0, (4, 5))
BA = RNG.uniform(-1.0, 1.0, (2, 3, 4))
BB = RNG.uniform(-1.0, 1.0, (2, 4, 2))
IDX = np.array([[0, 2], [1, 1], [3, 0]])


def same(name, *kwargs_list, arrays=(A,)):
    """A case calling ``tm.<name>`` and ``torch.<name>`` with the same arguments."""
    kwargs = kwargs_list[0] if kwargs_list else {}
    return pytest.param(lambda *a: getattr(tm, name)(*a, **kwargs),
                        lambda *a: getattr(torch, name)(*a, **kwargs), arrays, id=name)


def call(name, fn_tm, fn_torch, arrays=(A,)):
    return pytest.param(fn_tm, fn_torch, arrays, id=name)


CASES = [
    *(same(n) for n in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "neg")),
    same("clamp", {"min": 0.7, "max": 1.5}),
    same("clip", {"min": 0.7}),
    same("add", {"alpha": 2.0}, arrays=(A, B)),
    same("sub", {"alpha": 0.5}, arrays=(A, B)),
    same("mul", arrays=(A, B)),
    same("div", arrays=(B, A)),
    same("pow", arrays=(A, B)),
    same("matmul", arrays=(A, M)),
    same("mm", arrays=(A, M)),
    same("bmm", arrays=(BA, BB)),
    same("sum", {"dim": 1, "keepdim": True}),
    same("mean", {"dim": (0, 1)}),
    call("var", lambda a: tm.var(a, 0), lambda a: torch.var(a, 0)),
    call("std", lambda a: tm.std(a, 1, keepdim=True), lambda a: torch.std(a, 1, keepdim=True)),
    same("amax", {"dim": 0}),
    same("amin", {"dim": -1, "keepdim": True}),
    call("max_all", lambda a: tm.max(a), lambda a: torch.max(a)),
    call("max_dim", lambda a: tm.max(a, 1), lambda a: torch.max(a, 1)),
    call("max_other", lambda a, b: tm.max(a, b), lambda a, b: torch.max(a, b), (A, B)),
    call("min_dim", lambda a: tm.min(a, 0, keepdim=True), lambda a: torch.min(a, 0, keepdim=True)),
    same("argmax", {"dim": 1}),
    same("argmin", {"dim": 0}),
    same("maximum", arrays=(A, B)),
    same("minimum", arrays=(A, B)),
    same("prod", {"dim": 1}),
    same("cumsum", {"dim": 0}),
    same("logsumexp", {"dim": 1}),
    call("norm", lambda a: tm.norm(a, p=1, dim=0), lambda a: torch.norm(a, p=1, dim=0)),
    same("reshape", {"shape": (4, 3)}),
    same("flatten", {"start_dim": 0, "end_dim": -1}),
    same("transpose", {"dim0": 0, "dim1": 1}),
    same("permute", {"dims": (1, 0)}),
    call("squeeze", lambda a: tm.squeeze(tm.unsqueeze(a, 0), 0),
         lambda a: torch.squeeze(torch.unsqueeze(a, 0), 0)),
    same("softmax", {"dim": 1}),
    same("log_softmax", {"dim": 0}),
    call("gather", lambda a, i: tm.gather(a, 1, i), lambda a, i: torch.gather(a, 1, i), (A, IDX)),
    call("index_select", lambda a: tm.index_select(a, 1, tm.tensor([3, 0, 3])),
         lambda a: torch.index_select(a, 1, torch.tensor([3, 0, 3]))),
    call("masked_fill", lambda a, b: tm.masked_fill(a, b > 0, 0.0),
         lambda a, b: torch.masked_fill(a, b > 0, 0.0), (A, B)),
    call("scatter_add", lambda a, i, s: tm.scatter_add(a, 1, i, s),
         lambda a, i, s: torch.scatter_add(a, 1, i, s), (A, IDX, B[:, :2].copy())),
    same("sort", {"dim": 0, "descending": True}, arrays=(B,)),
    same("argsort", {"dim": 1}, arrays=(B,)),
    same("topk", {"k": 2, "dim": 1, "largest": False}, arrays=(B,)),
    call("split", lambda a: tm.split(a, 3, dim=1), lambda a: torch.split(a, 3, dim=1)),
    call("chunk", lambda a: tm.chunk(a, 2, dim=0), lambda a: torch.chunk(a, 2, dim=0)),
    same("flip", {"dims": (0,)}),
    same("roll", {"shifts": 1, "dims": 1}),
    same("tril", {"diagonal": -1}),
    same("triu", {"diagonal": 1}),
    same("clamp_min", {"min": 1.0}),
    same("clamp_max", {"max": 1.0}),
    call("tile", lambda a: tm.tile(a, (2,)), lambda a: torch.tile(a, (2,))),
    call("cat_where", lambda a, b: tm.where(a > 1, a, b), lambda a, b: torch.where(a > 1, a, b),
         (A, B)),
]


@pytest.mark.parametrize("ours, theirs, arrays", CASES)
def test_top_level_function_matches_torch(ours, theirs, arrays):
    assert_matches_torch(ours, theirs, *arrays)


@pytest.mark.parametrize("name, args", [
    ("exp", ()), ("sum", ()), ("max", ()), ("min", ()), ("gather", (0, tm.tensor([0]))),
    ("sort", ()), ("flip", ((0,),)), ("reshape", ((2,),)), ("transpose", (0, 0)),
    ("softmax", (0,)), ("norm", ()), ("cumsum", (0,)), ("mm", (tm.zeros(2, 2),)),
    ("index_select", (0, tm.tensor([0]))), ("split", (1,)), ("tril", ()), ("topk", (1,)),
])
def test_non_tensor_input_is_rejected_by_name(name, args):
    with pytest.raises(TypeError, match=rf"^{name}: (input|tensor) must be a Tensor"):
        getattr(tm, name)([1.0, 2.0], *args)


def test_every_exported_name_exists():
    for name in tm.__all__:
        assert hasattr(tm, name), name
    assert tm.numel(tm.zeros(2, 3)) == 6
