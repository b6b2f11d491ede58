"""The generic attacks of the API fuzz: each turns a valid registry sample into a hostile one.

An attack is ``(name, expect, mutate)``: ``mutate(spec, sample, rng)`` returns the hostile
:class:`Sample` (or None where the attack does not apply to the entry) and ``expect`` says
which outcomes are allowed:

* ``"either"``  a result whose shape and dtype equal PyTorch's (when PyTorch accepts the
  call), or an error naming the op (ValueError/TypeError, IndexError for an index);
* ``"refuse"``  an error naming the op, of the types the attack lists (float16 inputs must be
  refused with TypeError whatever PyTorch does);
* ``"same"``    a result equal to the valid call's (a strided or reversed view of the same
  values must not change the answer).

Results are also compared with PyTorch's values (a garbage detector, see ``runner.py``)
unless the attack sets ``values=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from registry import Sample, Spec

# far beyond any memory (2**31 elements would still fit on a large machine and be slow)
HUGE = (2**40, 2**62, 2**63 - 1)


@dataclass(frozen=True)
class Attack:
    name: str
    expect: str  # "either" | "refuse" | "same"
    mutate: Callable[[Spec, Sample, np.random.Generator], Sample | None]
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError)
    # compare values with PyTorch's (not for non-finite or overflowing inputs, where IEEE
    # leaves conventions open: 0·inf in zero padding, softmax of +inf scores, ...)
    values: bool = True


def _arrays(sample: Sample, kind: str | None = None) -> list[str]:
    """Names of the given arrays (``kind``: "f" float, "iu" integer, None: all)."""
    return [k for k, v in sample.arrays.items()
            if isinstance(v, np.ndarray) and (kind is None or v.dtype.kind in kind)]


def _pick(rng, names: list[str]) -> str | None:
    return None if not names else names[int(rng.integers(len(names)))]


def _size_target(spec: Spec, sample: Sample) -> tuple[dict, str]:
    return (sample.init, "init") if spec.is_module else (sample.options, "options")


def _with_size_option(spec: Spec, sample: Sample, rng, values) -> Sample | None:
    """One of the entry's size options set to one of ``values`` (as a scalar, or in one slot
    of a tuple value)."""
    where, field = _size_target(spec, sample)
    names = [n for n in spec.size_options if n in where or field == "options"]
    name = _pick(rng, names)
    if name is None:
        return None
    value = values[int(rng.integers(len(values)))]
    old = where.get(name)
    if isinstance(old, tuple) and old:
        new = list(old)
        new[int(rng.integers(len(new)))] = value
        value = tuple(new)
    return sample.with_init(**{name: value}) if field == "init" else \
        sample.with_options(**{name: value})


def wrong_ndim(spec, sample, rng):
    name = _pick(rng, _arrays(sample))
    a = sample.arrays[name]
    if rng.random() < 0.5 or a.ndim == 0:
        b = np.stack([a, a])  # one more leading dim
    else:
        b = np.ascontiguousarray(a[0])  # one dim fewer
    return sample.with_arrays(**{name: b})


def zero_size(spec, sample, rng):
    """One dim of one array set to 0 (an empty tensor)."""
    name = _pick(rng, _arrays(sample))
    a = sample.arrays[name]
    if a.ndim == 0:
        return None
    axis = int(rng.integers(a.ndim))
    return sample.with_arrays(**{name: np.take(a, np.arange(0), axis=axis)})


def empty_batch(spec, sample, rng):
    """Every array with the first array's leading size cut to 0 there (a batch of none)."""
    first = _arrays(sample)[0]
    n = sample.arrays[first].shape[0] if sample.arrays[first].ndim else None
    if not n:
        return None
    cut = {k: v[:0] for k, v in sample.arrays.items()
           if v is not None and v.ndim and v.shape[0] == n}
    return sample.with_arrays(**cut)


def mismatched_shape(spec, sample, rng):
    """One dim of one array other than the first grown by one."""
    names = _arrays(sample)[1:]
    name = _pick(rng, names)
    if name is None:
        return None
    a = sample.arrays[name]
    if a.ndim == 0:
        return None
    axis = int(rng.integers(a.ndim))
    return sample.with_arrays(**{name: np.concatenate([a, np.take(a, [0], axis=axis)], axis)})


def nan_inf(spec, sample, rng):
    """NaN, +inf and -inf at random places of every float array."""
    out = {}
    for name in _arrays(sample, "f"):
        a = sample.arrays[name].copy()
        flat = a.reshape(-1)
        if flat.size:
            for v in (np.nan, np.inf, -np.inf):
                flat[int(rng.integers(flat.size))] = v
        out[name] = a
    return sample.with_arrays(**out) if out else None


def huge_values(spec, sample, rng):
    """Finite but huge values (±1e30 / ±3e38) in every float array."""
    out = {}
    for name in _arrays(sample, "f"):
        a = sample.arrays[name]
        big = np.finfo(a.dtype).max / 2 if rng.random() < 0.5 else 1e30
        out[name] = (np.sign(a) * big).astype(a.dtype)
    return sample.with_arrays(**out) if out else None


def _dtype_swap(dtype):
    def mutate(spec, sample, rng):
        name = _pick(rng, _arrays(sample, "f"))
        if name is None:
            return None
        a = sample.arrays[name]
        b = (a > 0) if dtype == np.bool_ else np.clip(a, -60000, 60000).astype(dtype)
        return sample.with_arrays(**{name: b})
    return mutate


def _all_float16(spec, sample, rng):
    out = {k: sample.arrays[k].astype(np.float16) for k in _arrays(sample, "f")}
    return sample.with_arrays(**out) if out else None


def float_indices(spec, sample, rng):
    """An integer (index) array given as floats."""
    name = _pick(rng, _arrays(sample, "iu"))
    if name is None:
        return None
    return sample.with_arrays(**{name: sample.arrays[name].astype(np.float32)})


def int32_indices(spec, sample, rng):
    name = _pick(rng, _arrays(sample, "iu"))
    if name is None:
        return None
    return sample.with_arrays(**{name: sample.arrays[name].astype(np.int32)})


def strided_view(spec, sample, rng):
    """Every array as a non-contiguous view (every other element of a doubled last axis)."""
    out = {}
    for name in _arrays(sample):
        a = sample.arrays[name]
        if a.ndim == 0:
            continue
        big = np.repeat(a, 2, axis=-1)
        out[name] = big[..., ::2]
    return sample.with_arrays(**out) if out else None


def reversed_view(spec, sample, rng):
    """Every array as a negative-stride view (a reversed copy, reversed back) of the same values."""
    out = {}
    for name in _arrays(sample):
        a = sample.arrays[name]
        if a.ndim == 0:
            continue
        axis = int(rng.integers(a.ndim))
        rev = np.flip(a, axis).copy()
        out[name] = np.flip(rev, axis)
    return sample.with_arrays(**out) if out else None


def transposed_view(spec, sample, rng):
    """Every array of >= 2 dims as a transposed view (Fortran order) of the same values."""
    out = {k: np.asfortranarray(v) for k, v in sample.arrays.items()
           if v is not None and v.ndim >= 2}
    return sample.with_arrays(**out) if out else None


def zero_size_option(spec, sample, rng):
    return _with_size_option(spec, sample, rng, (0,))


def negative_size_option(spec, sample, rng):
    return _with_size_option(spec, sample, rng, (-1, -2, -(2**31)))


def huge_size_option(spec, sample, rng):
    return _with_size_option(spec, sample, rng, HUGE)


def wrong_type_option(spec, sample, rng):
    return _with_size_option(spec, sample, rng, (2.5, True, "3", None, (1, 2, 3)))


class AsList:
    """Marks an array that is passed as a nested Python list instead of a Tensor."""

    def __init__(self, array: np.ndarray):
        self.array = array


def not_a_tensor(spec, sample, rng):
    """The first array passed as a nested list instead of a Tensor."""
    name = _arrays(sample)[0]
    return sample.with_arrays(**{name: AsList(sample.arrays[name])})


ATTACKS: tuple[Attack, ...] = (
    Attack("wrong ndim", "either", wrong_ndim),
    Attack("zero-size dim", "either", zero_size),
    Attack("empty batch", "either", empty_batch),
    Attack("mismatched shapes", "either", mismatched_shape),
    Attack("NaN/inf values", "either", nan_inf, values=False),
    Attack("huge values", "either", huge_values, values=False),
    Attack("int64 for float", "either", _dtype_swap(np.int64)),
    Attack("int32 for float", "either", _dtype_swap(np.int32)),
    Attack("bool for float", "either", _dtype_swap(np.bool_)),
    Attack("float16 for float", "refuse", _dtype_swap(np.float16), (TypeError,)),
    Attack("all float16", "refuse", _all_float16, (TypeError,)),
    Attack("float indices", "either", float_indices),
    Attack("int32 indices", "either", int32_indices),
    Attack("strided views", "same", strided_view),
    Attack("negative-stride views", "same", reversed_view),
    Attack("transposed views", "same", transposed_view),
    Attack("zero size option", "either", zero_size_option),
    Attack("negative size option", "either", negative_size_option),
    Attack("huge size option", "either", huge_size_option),
    Attack("wrong-type size option", "either", wrong_type_option),
    Attack("list for Tensor", "either", not_a_tensor),
)
