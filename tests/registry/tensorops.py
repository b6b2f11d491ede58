"""Registry entries for the PyTorch-surface tensor ops (tinymm/ops/indexing.py, ordering.py,
layout.py): ``tm.gather``, ``tm.sort``, ``tm.split``, ...

These are top-level functions (``torch.gather``), not ``torch.nn.functional`` ones, so each
call picks the top-level namespace that matches the functional one it is given: ``tinymm``
for ``tinymm.functional``, ``torch`` for ``torch.nn.functional``. One lambda then serves
both frameworks, as in the other registry modules.
"""

from __future__ import annotations

import sys

import numpy as np

import tinymm as tm

from ._build import distinct, indices, out_of_range, randn
from .spec import Invalid, Sample, Spec

INDEX_ERRORS = (IndexError, ValueError)


def _ns(F):
    """``tinymm`` for ``tinymm.functional``, ``torch`` for ``torch.nn.functional``."""
    return tm if F.__name__.startswith("tinymm") else sys.modules["torch"]


# ----------------------------------------------------------------------------- samples
def _gather(rng, d, dtype):
    """index (N, L, E // 2 + 1) into dim 2 of (N, L, E)."""
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "index": indices(rng, (d.N, d.L, d.E // 2 + 1), d.E)},
                  options={"dim": 2}, grad=("input",))


def _scatter_add(rng, d, dtype):
    """src (N, L, 2E) scattered into dim 2 of (N, L, E) (repeats add up)."""
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "index": indices(rng, (d.N, d.L, 2 * d.E), d.E),
                   "src": randn(rng, (d.N, d.L, 2 * d.E), dtype)},
                  options={"dim": 2}, grad=("input", "src"))


def _scatter(rng, d, dtype):
    """index names each place along dim 2 at most once (so the result is defined)."""
    m = max(d.E // 2, 1)
    order = np.argsort(rng.random((d.N, d.L, d.E)), axis=2)[:, :, :m]
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "index": np.ascontiguousarray(order.astype(np.int64)),
                   "src": randn(rng, (d.N, d.L, m), dtype)},
                  options={"dim": 2}, grad=("input", "src"))


def _index_select(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "index": indices(rng, (d.L + 2,), d.L)}, options={"dim": 1}, grad=("input",))


def _masked_fill(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "mask": rng.random((d.L, 1)) < 0.5}, options={"value": -1.5},
                  grad=("input",))


def _take_along_dim(rng, d, dtype):
    """indices (1, L, 3) broadcast against input (N, L, E) outside dim 2."""
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "indices": indices(rng, (1, d.L, 3), d.E)}, options={"dim": 2},
                  grad=("input",))


def _pair(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.E), dtype),
                   "other": randn(rng, (d.L, d.E), dtype)}, grad=("input", "other"))


def _prod(rng, d, dtype):
    """Values near ±1 (a product of many stays finite), some exact zeros."""
    x = (1.0 + 0.1 * rng.standard_normal((d.N, d.L, d.E))) * rng.choice([-1.0, 1.0, 0.0],
                                                                          (d.N, d.L, d.E),
                                                                          p=[0.45, 0.45, 0.1])
    return Sample({"input": x.astype(dtype)}, options={"dim": 1}, grad=("input",))


def _square(rng, d, dtype):
    return Sample({"input": randn(rng, (d.N, d.L, d.L + 1), dtype)}, options={"diagonal": 0},
                  grad=("input",))


def _ranked(**options):
    """input (N, L, E) holding distinct integers as floats: no ties, and none after a cast to
    an integer dtype either (sort/topk/argmin order ties as they like)."""
    def build(rng, d, dtype):
        n = d.N * d.L * d.E
        x = (rng.permutation(n) - n // 2).reshape(d.N, d.L, d.E).astype(dtype)
        return Sample({"input": x}, options=dict(options), grad=("input",))
    return build


def _x_options(ties_possible: bool = False, **options):
    """input (N, L, E) and fixed options; values without ties unless ``ties_possible``
    (sort, topk and min then have one answer)."""
    def build(rng, d, dtype):
        shape = (d.N, d.L, d.E)
        x = randn(rng, shape, dtype) if ties_possible else distinct(rng, shape, dtype)
        return Sample({"input": x}, options=dict(options), grad=("input",))
    return build


# ----------------------------------------------------------------------------- invalid variants
def _dim_out_of_range(s: Sample, rng) -> Sample:
    return s.with_options(dim=s.arrays["input"].ndim + 2)


def _index_past_end(key: str, dim_of: str = "dim"):
    def make(s: Sample, rng) -> Sample:
        size = s.arrays["input"].shape[s.options.get(dim_of, 0)]
        return s.with_arrays(**{key: out_of_range(s.arrays[key], size)})
    return make


def _negative_index(key: str):
    def make(s: Sample, rng) -> Sample:
        return s.with_arrays(**{key: out_of_range(s.arrays[key], -1)})
    return make


def _float_index(key: str):
    def make(s: Sample, rng) -> Sample:
        return s.with_arrays(**{key: s.arrays[key].astype(np.float32)})
    return make


DIM = Invalid("dim out of range", _dim_out_of_range, INDEX_ERRORS)


def _index_invalid(key: str) -> tuple[Invalid, ...]:
    return (Invalid("index out of range", _index_past_end(key), INDEX_ERRORS),
            Invalid("negative index", _negative_index(key), INDEX_ERRORS),
            Invalid("float index", _float_index(key), (TypeError,)), DIM)


def _ordering(name, *, k=None, differentiable=True, extra=()):
    opts = {"dim": 2} if k is None else {"k": k, "dim": 2}
    return Spec(f"tm.{name}", getattr(tm, name), _ranked(**opts),
                lambda F, a, o: getattr(_ns(F), name)(a["input"], **o),
                differentiable=differentiable, invalid=(DIM, *extra))


SPECS = [
    Spec("tm.gather", tm.gather, _gather,
         lambda F, a, o: _ns(F).gather(a["input"], o["dim"], a["index"]),
         invalid=_index_invalid("index")),
    Spec("tm.scatter_add", tm.scatter_add, _scatter_add,
         lambda F, a, o: _ns(F).scatter_add(a["input"], o["dim"], a["index"], a["src"]),
         invalid=_index_invalid("index")),
    Spec("tm.scatter", tm.scatter, _scatter,
         lambda F, a, o: _ns(F).scatter(a["input"], o["dim"], a["index"], a["src"]),
         invalid=(*_index_invalid("index"),
                  Invalid("reduce='multiply'", lambda s, r: s.with_options(reduce="multiply"),
                          (ValueError, TypeError), torch_may_accept=True))),
    Spec("tm.index_select", tm.index_select, _index_select,
         lambda F, a, o: _ns(F).index_select(a["input"], o["dim"], a["index"]),
         invalid=_index_invalid("index")),
    Spec("tm.masked_fill", tm.masked_fill, _masked_fill,
         lambda F, a, o: _ns(F).masked_fill(a["input"], a["mask"], o["value"]),
         invalid=(Invalid("float mask", lambda s, r: s.with_arrays(
             mask=s.arrays["mask"].astype(np.float32)), (TypeError,)),
                  Invalid("mask does not broadcast", lambda s, r: s.with_arrays(
                      mask=np.ones((s.arrays["input"].shape[1] + 1, 2), bool))))),
    Spec("tm.take_along_dim", tm.take_along_dim, _take_along_dim,
         lambda F, a, o: _ns(F).take_along_dim(a["input"], a["indices"], o["dim"]),
         invalid=(Invalid("index out of range", _index_past_end("indices"), INDEX_ERRORS),
                  Invalid("negative index", _negative_index("indices"), INDEX_ERRORS), DIM)),
    _ordering("sort"),
    _ordering("argsort", differentiable=False),
    _ordering("topk", k=2, extra=(Invalid("k > size", lambda s, r: s.with_options(
        k=s.arrays["input"].shape[2] + 1)),)),
    Spec("tm.min", tm.min, _ranked(dim=1, keepdim=False),
         lambda F, a, o: _ns(F).min(a["input"], **o), invalid=(DIM,)),
    _ordering("argmin", differentiable=False),
    Spec("tm.amin", tm.amin, _ranked(dim=(0, 2), keepdim=True),
         lambda F, a, o: _ns(F).amin(a["input"], **o), invalid=(DIM,)),
    Spec("tm.maximum", tm.maximum, _pair,
         lambda F, a, o: _ns(F).maximum(a["input"], a["other"])),
    Spec("tm.minimum", tm.minimum, _pair,
         lambda F, a, o: _ns(F).minimum(a["input"], a["other"])),
    _ordering("cumsum"),
    Spec("tm.prod", tm.prod, _prod, lambda F, a, o: _ns(F).prod(a["input"], **o), invalid=(DIM,)),
    Spec("tm.logsumexp", tm.logsumexp, _x_options(dim=(1, 2)),
         lambda F, a, o: _ns(F).logsumexp(a["input"], **o), invalid=(DIM,)),
    Spec("tm.norm", tm.norm, _x_options(p=3, dim=1),
         lambda F, a, o: _ns(F).norm(a["input"], **o),
         invalid=(DIM, Invalid("p='nuc'", lambda s, r: s.with_options(p="nuc"),
                               (ValueError, TypeError), torch_may_accept=True))),
    Spec("tm.split", tm.split, _x_options(split_size_or_sections=3, dim=2),
         lambda F, a, o: _ns(F).split(a["input"], **o), size_options=("split_size_or_sections",),
         invalid=(DIM,)),
    Spec("tm.chunk", tm.chunk, _x_options(chunks=3, dim=1),
         lambda F, a, o: _ns(F).chunk(a["input"], **o), size_options=("chunks",), invalid=(DIM,)),
    Spec("tm.Tensor.repeat", tm.Tensor.repeat, _x_options(sizes=(2, 1, 1, 3)),
         lambda F, a, o: _ns(F).Tensor.repeat(a["input"], *o["sizes"]),
         invalid=(Invalid("fewer sizes than dims", lambda s, r: s.with_options(sizes=(2,))),),
         error_name="repeat"),
    Spec("tm.tile", tm.tile, _x_options(dims=(2, 3)),
         lambda F, a, o: _ns(F).tile(a["input"], o["dims"])),
    Spec("tm.flip", tm.flip, _x_options(dims=(0, 2)),
         lambda F, a, o: _ns(F).flip(a["input"], o["dims"]),
         invalid=(Invalid("dims out of range", lambda s, r: s.with_options(dims=(5,)),
                          INDEX_ERRORS),)),
    Spec("tm.roll", tm.roll, _x_options(shifts=(2, -1), dims=(1, 2)),
         lambda F, a, o: _ns(F).roll(a["input"], **o),
         invalid=(Invalid("shifts and dims differ in length", lambda s, r: s.with_options(
             shifts=(1, 2, 3))),)),
    Spec("tm.tril", tm.tril, _square, lambda F, a, o: _ns(F).tril(a["input"], **o)),
    Spec("tm.triu", tm.triu, _square, lambda F, a, o: _ns(F).triu(a["input"], **o)),
    Spec("tm.clamp_min", tm.clamp_min, _x_options(True, min=0.1),
         lambda F, a, o: _ns(F).clamp_min(a["input"], o["min"])),
    Spec("tm.clamp_max", tm.clamp_max, _x_options(True, max=-0.1),
         lambda F, a, o: _ns(F).clamp_max(a["input"], o["max"])),
]
