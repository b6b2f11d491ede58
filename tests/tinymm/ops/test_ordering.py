"""Order statistics and reductions (sort, argsort, topk, min/argmin, maximum/minimum, cumsum,
prod, logsumexp, norm): PyTorch parity forward and backward, finite differences, errors."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

torch = pytest.importorskip("torch")

BACKENDS = ("numpy", "numba") if tm.kernels.numba_available() else ("numpy",)
# Small integers as floats: many ties, exactly representable, for tie-breaking rules.
TIED = st.integers(-2, 2).map(float)


@st.composite
def x_and_dim(draw, distinct=True, min_dims=1, elements=None):
    if elements is not None:
        x = draw(tst.tensors(tst.shapes(min_dims, 3), elements=elements), label="x")
    else:
        x = draw(tst.tensors(tst.shapes(min_dims, 3), distinct=distinct), label="x")
    return x, draw(st.integers(-x.ndim, x.ndim - 1), label="dim")


# ----------------------------------------------------------------------------- sort / topk
@given(x_and_dim(), st.booleans())
def test_sort_argsort_match_torch(xd, descending):
    x, dim = xd
    for backend in BACKENDS:
        with tm.backend(backend):
            assert_matches_torch(lambda a: tm.sort(a, dim, descending),
                                 lambda a: torch.sort(a, dim, descending), x.data)
    assert_matches_torch(lambda a: a.argsort(dim, descending), lambda a: a.argsort(dim, descending),
                         x.data)
    assert_gradients_close(lambda a: a.sort(dim, descending=descending).values, x, names=("x",))


@given(x_and_dim(elements=TIED), st.booleans())
def test_stable_sort_keeps_tied_order_as_torch(xd, descending):
    x, dim = xd
    assert_matches_torch(lambda a: a.sort(dim, descending=descending, stable=True),
                         lambda a: a.sort(dim=dim, descending=descending, stable=True), x.data)
    ints = x.data.astype(np.int64)
    np.testing.assert_array_equal(
        tm.tensor(ints).argsort(dim, descending=descending, stable=True).data,
        torch.tensor(ints).argsort(dim=dim, descending=descending, stable=True).numpy())


@given(x_and_dim(), st.booleans(), st.data())
def test_topk_matches_torch(xd, largest, data):
    x, dim = xd
    k = data.draw(st.integers(0, x.shape[dim]), label="k")
    assert_matches_torch(lambda a: a.topk(k, dim, largest), lambda a: a.topk(k, dim, largest),
                         x.data)
    if k:
        assert_gradients_close(lambda a: tm.topk(a, k, dim, largest).values, x, names=("x",))


# ----------------------------------------------------------------------------- min / argmin
@given(x_and_dim(), st.booleans())
def test_min_along_dim_and_argmin_match_torch(xd, keepdim):
    x, dim = xd
    assert_matches_torch(lambda a: a.min(dim, keepdim), lambda a: a.min(dim, keepdim), x.data)
    assert_matches_torch(lambda a: tm.argmin(a, dim, keepdim), lambda a: a.argmin(dim, keepdim),
                         x.data)
    assert_matches_torch(lambda a: a.argmin(), lambda a: a.argmin(), x.data)
    assert_gradients_close(lambda a: a.min(dim, keepdim=keepdim).values, x, names=("x",))


@given(x_and_dim(elements=TIED), st.booleans())
def test_min_with_ties_splits_like_torch(xd, keepdim):
    """min() shares the gradient among tied minima; min(dim) gives it to the first one."""
    x, dim = xd
    assert_matches_torch(lambda a: a.min(), lambda a: a.min(), x.data)
    assert_matches_torch(lambda a: tm.min(a, dim, keepdim), lambda a: torch.min(a, dim, keepdim),
                         x.data)
    assert_matches_torch(lambda a: tm.amin(a, dim, keepdim), lambda a: torch.amin(a, dim, keepdim),
                         x.data)
    assert_matches_torch(lambda a: tm.max(a, dim, keepdim), lambda a: torch.max(a, dim, keepdim),
                         x.data)


@given(tst.broadcastable_shapes(2, 0, 3), st.data())
def test_maximum_minimum_match_torch_with_ties(shapes, data):
    a = data.draw(tst.arrays(shapes[0], np.float64, TIED), label="a")
    b = data.draw(tst.arrays(shapes[1], np.float64, TIED), label="b")
    for name in ("maximum", "minimum"):
        assert_matches_torch(getattr(tm, name), getattr(torch, name), a, b, names=("a", "b"))
    assert_matches_torch(lambda u, v: tm.min(u, v), lambda u, v: torch.min(u, v), a, b)
    assert_matches_torch(lambda u, v: tm.max(u, v), lambda u, v: torch.max(u, v), a, b)


@given(tst.broadcastable_shapes(2, 0, 3), st.data())
def test_maximum_gradient_away_from_ties(shapes, data):
    a = data.draw(tst.tensors(shapes[0]), label="a")
    b = data.draw(tst.tensors(shapes[1]), label="b")
    assume(np.all(np.abs(np.subtract(a.data, b.data)) > 1e-3))  # the derivative jumps at a tie
    assert_gradients_close(tm.maximum, a, b, names=("a", "b"))
    assert_gradients_close(tm.minimum, a, b, names=("a", "b"))


# ----------------------------------------------------------------------------- cumsum / prod
@given(x_and_dim(distinct=False))
def test_cumsum_matches_torch(xd):
    x, dim = xd
    assert_matches_torch(lambda a: a.cumsum(dim), lambda a: a.cumsum(dim), x.data)
    assert_gradients_close(lambda a: tm.cumsum(a, dim), x, names=("x",))
    ints = x.data.astype(np.int32)
    out = tm.tensor(ints).cumsum(dim)
    assert out.dtype == tm.int64
    np.testing.assert_array_equal(out.data, torch.tensor(ints).cumsum(dim).numpy())
    assert tm.cumsum(x, dim, dtype=tm.float32).dtype == tm.float32


ZERO_HEAVY = st.sampled_from([-1.5, -1.0, 0.0, 0.0, 0.5, 1.25, 2.0])


@given(x_and_dim(elements=ZERO_HEAVY), st.booleans())
def test_prod_matches_torch_including_zeros(xd, keepdim):
    x, dim = xd
    assert_matches_torch(lambda a: a.prod(dim, keepdim), lambda a: a.prod(dim, keepdim), x.data)
    assert_matches_torch(lambda a: tm.prod(a), lambda a: torch.prod(a), x.data)
    assert_gradients_close(lambda a: a.prod(dim, keepdim=keepdim), x, names=("x",))
    assert_gradients_close(lambda a: a.prod(), x, names=("x",))
    ints = x.data.astype(np.int64)
    assert tm.tensor(ints).prod().item() == torch.tensor(ints).prod().item()


# ----------------------------------------------------------------------------- logsumexp
@given(tst.tensors(tst.shapes(1, 3)), st.data(), st.booleans())
def test_logsumexp_matches_torch(x, data, keepdim):
    dims = data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim,
                              unique=True).map(tuple), label="dims")
    assert_matches_torch(lambda a: a.logsumexp(dims, keepdim), lambda a: a.logsumexp(dims, keepdim),
                         x.data)
    assert_gradients_close(lambda a: tm.logsumexp(a, dims, keepdim), x, names=("x",))


def test_logsumexp_is_stable_for_large_and_infinite_inputs():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [-np.inf, 3.0]])
    assert_matches_torch(lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), x)
    assert np.isclose(tm.tensor(x).logsumexp(1).data[0], 1000.0 + math.log(2.0))
    assert tm.tensor([1, 2]).logsumexp(0).dtype == tm.float32


# ----------------------------------------------------------------------------- norm
@pytest.mark.parametrize("p", ["fro", 1, 2, 3, 0.5, math.inf, -math.inf, 0])
@given(x=tst.tensors(tst.shapes(1, 3), distinct=True), data=st.data())
def test_norm_matches_torch(p, x, data):
    dim = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    assume(np.all(np.abs(x.data) > 1e-3))  # |x| has a kink at 0 (|x|^(p-1) a pole for p < 1)
    if p in (math.inf, -math.inf):  # a max of |x|: tied magnitudes make finite differences jump
        mags = np.sort(np.abs(x.data).reshape(-1))
        assume(np.all(np.diff(mags) > 1e-3))
    assert_matches_torch(lambda a: a.norm(p, dim, keepdim), lambda a: a.norm(p, dim, keepdim),
                         x.data)
    if p != 0:
        assert_gradients_close(lambda a: tm.norm(a, p, dim, keepdim), x, names=("x",))


def test_norm_gradient_at_zero_is_zero_as_torch():
    for p in (2, 3):
        assert_matches_torch(lambda a, p=p: a.norm(p), lambda a, p=p: a.norm(p), np.zeros((2, 3)))


# ----------------------------------------------------------------------------- errors
X = tm.zeros(2, 3)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: X.sort(2), ValueError, "sort: dim=2 is out of range"),
    (lambda: X.sort(descending=1), TypeError, "sort: descending must be a bool"),
    (lambda: tm.sort([1, 2]), TypeError, "sort: input must be a Tensor"),
    (lambda: X.argsort(-3), ValueError, "argsort: dim=-3"),
    (lambda: X.topk(4), ValueError, "topk: k=4 is out of range"),
    (lambda: X.topk(1.0), TypeError, "topk: k must be an int"),
    (lambda: X.min(5), ValueError, "min: dim=5"),
    (lambda: tm.zeros(0).min(), ValueError, "min: cannot reduce an empty tensor"),
    (lambda: X.argmin(keepdim=None), TypeError, "argmin: keepdim must be a bool"),
    (lambda: tm.maximum(X, tm.zeros(4)), ValueError, "maximum: shapes"),
    (lambda: tm.minimum(X, 1.0), TypeError, "minimum: other must be a Tensor"),
    (lambda: X.cumsum(2), ValueError, "cumsum: dim=2"),
    (lambda: X.prod((0, 1)), TypeError, "prod: dim must be an int"),
    (lambda: X.logsumexp(None), TypeError, "logsumexp: dim must be an int or a tuple"),
    (lambda: X.logsumexp((0, 0)), ValueError, "logsumexp: dim"),
    (lambda: X.norm("nuc"), ValueError, "norm: p must be 'fro' or a number"),
    (lambda: X.norm(-1), ValueError, "norm: p must be >= 0"),
    (lambda: tm.tensor([1, 2]).norm(), TypeError, "norm: input must have a floating dtype"),
])
def test_invalid_arguments_name_the_function(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_return_types_are_named_like_torch():
    x = tm.tensor([[3.0, 1.0], [2.0, 5.0]])
    r = x.min(1)
    assert type(r).__name__ == "min" and r.indices.tolist() == [1, 0]
    values, indices = x.sort(0)
    assert type(x.sort()).__name__ == "sort" and indices.tolist() == [[1, 0], [0, 1]]
    assert type(x.topk(1)).__name__ == "topk"
    assert x.min().item() == 1.0 and x.argmin().item() == 1
    assert type(tm.max(x, 0)).__name__ == "max" and tm.max(x, 0).indices.tolist() == [0, 1]


def test_fuzz_findings_promotion_empty_dims_and_float16():
    """maximum/minimum promote as torch.result_type; logsumexp over an empty dim is -inf;
    float16 is refused by name (tinymm has no float16 kernels)."""
    a = np.arange(6).reshape(2, 3)
    b = np.full((2, 3), 2.5, np.float32)
    for name in ("maximum", "minimum"):
        ours = getattr(tm, name)(tm.tensor(a), tm.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == tm.float32
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    empty = np.zeros((2, 0), np.float32)
    np.testing.assert_array_equal(tm.tensor(empty).logsumexp(1).data,
                                  torch.tensor(empty).logsumexp(1).numpy())  # [-inf, -inf]
    for call in (lambda x: x.sort(), lambda x: tm.logsumexp(x, 0), lambda x: tm.cumsum(x, 0)):
        with pytest.raises(TypeError, match="float16"):
            call(tm.tensor(np.ones(3, np.float16)))
