"""Layout ops (split, chunk, repeat, tile, flip, roll, tril, triu, clamp_min/max): PyTorch
parity forward and backward, finite differences, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinymm as tm
from tinymm.testing import assert_gradients_close, assert_matches_torch
from tinymm.testing import strategies as tst

torch = pytest.importorskip("torch")


@st.composite
def x_and_dim(draw, min_dims=1):
    x = draw(tst.tensors(tst.shapes(min_dims, 3, max_side=5)), label="x")
    return x, draw(st.integers(-x.ndim, x.ndim - 1), label="dim")


def _sum_of(pieces):
    """One scalar depending on every piece (so each piece's gradient is exercised)."""
    total = None
    for k, p in enumerate(pieces):
        term = (p * (k + 1.0)).sum()
        total = term if total is None else total + term
    return total


@given(x_and_dim(), st.data())
def test_split_by_size_and_sections_matches_torch(xd, data):
    x, dim = xd
    n = x.shape[dim]
    size = data.draw(st.integers(1, n + 1), label="size")
    assert_matches_torch(lambda a: a.split(size, dim), lambda a: a.split(size, dim), x.data)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3), label="cuts"))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    assert_matches_torch(lambda a: tm.split(a, sections, dim),
                         lambda a: torch.split(a, sections, dim), x.data)
    assert_gradients_close(lambda a: _sum_of(a.split(sections, dim)), x, names=("x",))


@given(x_and_dim(), st.integers(1, 6))
def test_chunk_matches_torch(xd, chunks):
    x, dim = xd
    assert_matches_torch(lambda a: a.chunk(chunks, dim), lambda a: a.chunk(chunks, dim), x.data)
    assert_gradients_close(lambda a: _sum_of(tm.chunk(a, chunks, dim)), x, names=("x",))


def test_unused_split_pieces_get_zero_gradient():
    x = tm.ones(5, requires_grad=True)
    first, _second, third = x.split(2)
    (first.sum() + 3 * third.sum()).backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 0, 0, 3])


@given(tst.tensors(tst.shapes(0, 3, max_side=3)), st.data())
def test_repeat_and_tile_match_torch(x, data):
    extra = data.draw(st.integers(0, 2), label="extra dims")
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=x.ndim + extra,
                                    max_size=x.ndim + extra), label="reps"))
    if not reps:
        reps = (2,)
    assert_matches_torch(lambda a: a.repeat(*reps), lambda a: a.repeat(*reps), x.data)
    assert_matches_torch(lambda a: a.repeat(reps), lambda a: a.repeat(reps), x.data)
    short = reps[: max(len(reps) - extra - 1, 0)] or (1,)
    assert_matches_torch(lambda a: tm.tile(a, short), lambda a: torch.tile(a, short), x.data)
    assert_gradients_close(lambda a: a.repeat(*reps), x, names=("x",))


@given(x_and_dim(), st.data())
def test_flip_and_roll_match_torch(xd, data):
    x, _ = xd
    dims = tuple(data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1,
                                    max_size=x.ndim, unique_by=lambda d: d % x.ndim),
                           label="dims"))
    shifts = tuple(data.draw(st.lists(st.integers(-7, 7), min_size=len(dims), max_size=len(dims)),
                             label="shifts"))
    assert_matches_torch(lambda a: a.flip(dims), lambda a: a.flip(dims), x.data)
    assert_matches_torch(lambda a: tm.flip(a, dims=dims), lambda a: torch.flip(a, dims=dims), x.data)
    assert_matches_torch(lambda a: a.roll(shifts, dims), lambda a: a.roll(shifts, dims), x.data)
    assert_matches_torch(lambda a: tm.roll(a, shifts[0]), lambda a: torch.roll(a, shifts[0]), x.data)
    assert_gradients_close(lambda a: a.roll(shifts, dims).flip(dims), x, names=("x",))


@given(tst.tensors(tst.shapes(2, 4, max_side=4)), st.integers(-4, 4))
def test_tril_triu_match_torch(x, diagonal):
    for name in ("tril", "triu"):
        assert_matches_torch(lambda a, n=name: getattr(a, n)(diagonal),
                             lambda a, n=name: getattr(torch, n)(a, diagonal), x.data)
        assert_gradients_close(lambda a, n=name: getattr(tm, n)(a, diagonal), x, names=("x",))


@given(tst.tensors(tst.shapes(1, 3), away_from=(0.25, -0.5)))
def test_clamp_min_max_match_torch(x):
    assert_matches_torch(lambda a: a.clamp_min(0.25), lambda a: a.clamp_min(0.25), x.data)
    assert_matches_torch(lambda a: tm.clamp_max(a, -0.5), lambda a: torch.clamp_max(a, -0.5), x.data)
    assert_gradients_close(lambda a: tm.clamp_min(a, 0.25), x, names=("x",))


X = tm.zeros(2, 3)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: X.split([1, 1], 1), ValueError, "split: sections"),
    (lambda: X.split(1.5), TypeError, "split: split_size_or_sections must be an int"),
    (lambda: X.split(1, 2), ValueError, "split: dim=2 is out of range"),
    (lambda: tm.split(np.zeros(3), 1), TypeError, "split: tensor must be a Tensor"),
    (lambda: X.chunk(0), ValueError, "chunk: chunks must be >= 1"),
    (lambda: X.repeat(2), ValueError, "repeat: 1 repeat sizes given for a 2-D tensor"),
    (lambda: X.repeat(2, -1), ValueError, "repeat: repeat sizes must be >= 0"),
    (lambda: X.flip(0, 0), ValueError, "flip: dims"),
    (lambda: X.flip(3), ValueError, "flip: dims=3 is out of range"),
    (lambda: X.roll((1, 2), 0), ValueError, "roll: shifts"),
    (lambda: X.roll((1, 2)), ValueError, "roll: with dims=None"),
    (lambda: tm.zeros(3).tril(), ValueError, "tril: input must have at least 2 dims"),
    (lambda: X.triu(0.5), TypeError, "triu: diagonal must be an int"),
    (lambda: X.clamp_min(X), TypeError, "clamp_min: min must be a number"),
])
def test_invalid_arguments_name_the_function(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_clamp_min_max_of_integers_by_a_float_give_float32_as_torch():
    a = np.arange(-3, 3)
    for name, bound in (("clamp_min", 0.5), ("clamp_max", -0.5)):
        ours = getattr(tm, name)(tm.tensor(a), bound)
        theirs = getattr(torch, name)(torch.tensor(a), bound)
        assert ours.dtype == tm.float32
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert tm.clamp_min(tm.tensor(a), 0).dtype == tm.int64


def test_chunk_and_split_of_an_empty_dim_as_torch():
    x = np.zeros((2, 0))
    assert_matches_torch(lambda a: a.chunk(3, 1), lambda a: a.chunk(3, 1), x)
    assert_matches_torch(lambda a: a.split(2, 1), lambda a: a.split(2, 1), x)
    assert_matches_torch(lambda a: a.split(0, 1), lambda a: a.split(0, 1), x)
