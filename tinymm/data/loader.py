"""DataLoader: iterate a dataset in (optionally shuffled) batches of stacked numpy arrays."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from .dataset import resolve_generator


def default_collate(samples: Sequence, modalities: Sequence[str] | None = None):
    """Stack a list of samples into a batch.

    dict samples -> dict of stacked arrays (``"label"`` as (B,) int64, ``"mask"`` as (B, M)
    bool; a mask given as ``{modality: bool}`` is ordered by ``modalities``, or by the dict's
    own order); tuple samples -> tuple of stacked arrays; arrays and numbers -> one array.

    >>> default_collate([{"x": np.zeros(2), "label": 1}, {"x": np.ones(2), "label": 0}])["label"]
    array([1, 0])
    """
    if not samples:
        raise ValueError("default_collate: needs at least one sample")
    first = samples[0]
    if isinstance(first, Mapping):
        batch = {}
        for key in first:
            column = [s[key] for s in samples]
            if key == "label":
                batch[key] = np.asarray(column, dtype=np.int64)
            elif key == "mask":
                batch[key] = _collate_mask(column, modalities)
            else:
                batch[key] = np.stack([np.asarray(x) for x in column])
        return batch
    if isinstance(first, tuple):
        return tuple(default_collate(list(column)) for column in zip(*samples))
    return np.stack([np.asarray(x) for x in samples])


def _collate_mask(column: list, modalities: Sequence[str] | None) -> np.ndarray:
    if isinstance(column[0], Mapping):
        order = tuple(modalities) if modalities is not None else tuple(column[0])
        column = [[bool(m[k]) for k in order] for m in column]
    return np.asarray(column, dtype=bool)  # (B, M)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


class DataLoader:
    """Batches of a dataset, as dicts (or tuples) of stacked numpy arrays.

    DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None,
               sampler=None)

    - Array-backed datasets (those with ``get_batch(indices)``, e.g. the built-ins, DictDataset,
      Subset of them) are batched by one fancy-indexing per key; others sample by sample
      through ``collate_fn`` (default: ``default_collate``).
    - ``shuffle``: a new permutation every epoch. With an int ``seed`` the loader owns a
      generator seeded once, so two loaders with the same seed give the same sequence of
      epochs; with ``seed=None`` each epoch draws from tinymm's global generator
      (``tm.manual_seed`` makes that repeatable).
    - ``drop_last``: drop the final incomplete batch.
    - ``sampler``: an iterable of indices with a length (e.g.
      :class:`tinymm.distributed.DistributedSampler`) that decides which samples, in which
      order; it excludes ``shuffle=True``, as in PyTorch.

    >>> from tinymm.data import ArrayDataset
    >>> [b[0].tolist() for b in DataLoader(ArrayDataset(np.arange(5)), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 collate_fn: Callable | None = None, sampler=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got "
                            f"{type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable or None")
        if sampler is not None:
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise TypeError(f"DataLoader: sampler must be iterable with a length (e.g. a "
                                f"DistributedSampler), got {type(sampler).__name__}")
            if shuffle:
                raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive "
                                 "(the sampler decides the order; e.g. DistributedSampler(shuffle=True))")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = _check_bool("shuffle", shuffle)
        self.drop_last = _check_bool("drop_last", drop_last)
        self.seed = seed
        self.collate_fn = collate_fn
        self.sampler = sampler
        # validate the seed now; an int seed gives the loader its own stream of epochs
        self._generator = None if seed is None else resolve_generator("DataLoader", seed)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self._generator if self._generator is not None else resolve_generator(
            "DataLoader", None)
        return rng.permutation(n)

    def _fetch(self, indices: np.ndarray):
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        return default_collate(samples, getattr(self.dataset, "modalities", None))

    def __iter__(self) -> Iterator:
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])

    def __repr__(self) -> str:
        return (f"DataLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
