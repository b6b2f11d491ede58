"""Robustness tools: hide modalities, or corrupt one with noise of a given strength.

Both work on a batch (a dict of stacked arrays, as the DataLoader yields) or on an
array-backed dataset (DictDataset / MultimodalDataset, or a Subset of one), and return a new
object, leaving the input untouched. A dataset's ceilings stay valid as upper bounds: noise
that is independent of the label can only lower the best possible accuracy.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .dataset import RESERVED_KEYS, DictDataset, Subset, resolve_generator


def _unpack(fn: str, data, modalities: Sequence[str] | None):
    """-> (arrays dict, modality order or None, rebuild(arrays) -> same kind as data)."""
    if isinstance(data, Subset):
        data = data.materialize()
    if isinstance(data, DictDataset):
        return dict(data.arrays), data.modalities, data.with_arrays
    if isinstance(data, Mapping):
        order = tuple(modalities) if modalities is not None else tuple(
            k for k in data if k not in RESERVED_KEYS)
        return {k: np.asarray(v) for k, v in data.items()}, order, dict
    raise TypeError(f"{fn}: data must be a batch dict or a DictDataset (or a Subset of one), "
                    f"got {type(data).__name__}")


def _names(fn: str, which, arrays: Mapping, order: Sequence[str]) -> list[str]:
    names = [which] if isinstance(which, str) else list(which)
    unknown = [m for m in names if m not in arrays or m in RESERVED_KEYS]
    if unknown:
        raise ValueError(f"{fn}: unknown modalities {unknown}; data has {tuple(order)}")
    return names


def _column(fn: str, arrays: Mapping, order: Sequence[str], name: str) -> int | None:
    """Index of ``name`` in the mask, or None without a mask."""
    if "mask" not in arrays:
        return None
    mask = arrays["mask"]
    if mask.ndim != 2 or mask.shape[1] != len(order):
        raise ValueError(f"{fn}: mask has shape {mask.shape} but the modality order "
                         f"{tuple(order)} has {len(order)} entries; pass modalities=")
    return list(order).index(name)


def mask_modalities(data, modalities: str | Iterable[str], p: float = 1.0, seed=None,
                    order: Sequence[str] | None = None):
    """Hide modalities: blank their arrays (zeros; token ids become <pad> = 0) and set their
    mask entries False.

    modalities: a name or names to hide. p: probability that each sample loses each listed
    modality, independently (1.0: all samples; < 1: modality dropout for training); drawn from
    ``seed`` (int / Generator / None = tinymm's global generator). order: the mask's modality
    order for a batch dict (default: the batch's keys other than "label" and "mask", in order);
    datasets know theirs. Returns a new batch dict or dataset.

    >>> batch = {"image": np.ones((2, 3)), "text": np.ones((2, 4), int),
    ...          "mask": np.ones((2, 2), bool)}
    >>> mask_modalities(batch, "text")["mask"].tolist()
    [[True, False], [True, False]]
    """
    fn = "mask_modalities"
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{fn}: p must be a probability in [0, 1], got {p!r}")
    arrays, order, rebuild = _unpack(fn, data, order)
    names = _names(fn, modalities, arrays, order)
    n = next(iter(arrays.values())).shape[0]
    rng = resolve_generator(fn, seed) if p < 1 else None
    for name in names:
        hide = np.ones(n, dtype=bool) if rng is None else rng.random(n) < p       # (N,)
        x = arrays[name]
        arrays[name] = np.where(hide.reshape((n,) + (1,) * (x.ndim - 1)), x.dtype.type(0), x)
        col = _column(fn, arrays, order, name)
        if col is not None:
            mask = arrays["mask"].copy()
            mask[:, col] &= ~hide
            arrays["mask"] = mask
    return rebuild(arrays)


def add_noise(data, modality: str, strength: float, seed=None, vocab_size: int | None = None,
              order: Sequence[str] | None = None):
    """Corrupt one modality with noise of a given strength (for robustness curves).

    Float modalities (images, audio): add Gaussian noise of std ``strength * s``, where s is
    the modality's standard deviation over ``data``, so strength 1 is noise as strong as the
    signal. Integer token ids: replace each non-padding token, with probability ``strength``
    (must be <= 1), by a random word id in [2, vocab_size) (vocab_size from the dataset, the
    argument, or the largest id + 1). Samples whose mask hides the modality stay blank.
    seed: int / Generator / None (tinymm's global generator). Returns a new batch or dataset.

    >>> batch = {"image": np.arange(6, dtype=np.float32).reshape(2, 3),
    ...          "text": np.array([[5, 6, 0], [7, 0, 0]])}
    >>> noisy = add_noise(batch, "text", 1.0, seed=0, vocab_size=10)
    >>> noisy["text"].shape, (noisy["text"] == 0).tolist() == (batch["text"] == 0).tolist()
    ((2, 3), True)
    >>> noisy = add_noise(batch, "image", 0.5, seed=0)
    >>> noisy["image"].shape, bool(np.allclose(noisy["image"], batch["image"]))
    ((2, 3), False)
    """
    fn = "add_noise"
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or strength < 0:
        raise ValueError(f"{fn}: strength must be a number >= 0, got {strength!r}")
    vocab_size = vocab_size if vocab_size is not None else getattr(data, "vocab_size", None)
    arrays, order, rebuild = _unpack(fn, data, order)
    (name,) = _names(fn, modality, arrays, order)
    rng = resolve_generator(fn, seed)
    x = arrays[name]
    if x.dtype.kind in "iu":
        if strength > 1:
            raise ValueError(f"{fn}: strength is a replacement probability for token ids and "
                             f"must be <= 1, got {strength}")
        high = int(vocab_size) if vocab_size is not None else int(x.max()) + 1
        if high <= 2:
            raise ValueError(f"{fn}: vocab_size must be > 2 to draw replacement words, "
                             f"got {high}")
        swap = (rng.random(x.shape) < strength) & (x != 0)
        noisy = np.where(swap, rng.integers(2, high, x.shape), x).astype(x.dtype)
    elif x.dtype.kind == "f":
        scale = float(x.std()) if x.size else 0.0
        noisy = (x + strength * scale * rng.standard_normal(x.shape)).astype(x.dtype)
    else:
        raise TypeError(f"{fn}: modality {name!r} has dtype {x.dtype}; expected float or int")
    col = _column(fn, arrays, order, name)
    if col is not None:  # keep hidden samples blank
        shown = arrays["mask"][:, col].reshape((x.shape[0],) + (1,) * (x.ndim - 1))
        noisy = np.where(shown, noisy, x)
    arrays[name] = noisy
    return rebuild(arrays)
