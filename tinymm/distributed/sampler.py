"""DistributedSampler: each rank reads its own share of a data set, the same shares every run."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np

from . import comm

__all__ = ["DistributedSampler"]


def _check_int(fn: str, name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{fn}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """Indices of ``dataset`` for one rank, as PyTorch's ``DistributedSampler``.

    DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                       drop_last=False)

    Every epoch the indices ``0 .. len(dataset)-1`` are permuted with a generator seeded by
    ``seed + epoch`` (identically on every rank; call :meth:`set_epoch` at the start of each
    epoch for a new order), then made divisible by the number of replicas — by repeating
    indices from the start (``drop_last=False``, so every sample is seen at least once) or
    by dropping the tail (``drop_last=True``) — and rank ``r`` takes every
    ``num_replicas``-th index starting at ``r``. The ranks' shares are disjoint (but for the
    repeated padding) and together cover the data set. The permutation comes from NumPy, so
    the order differs from PyTorch's, but the rules are the same.

    >>> list(DistributedSampler(range(10), num_replicas=4, rank=1, shuffle=False))
    [1, 5, 9]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        fn = "DistributedSampler"
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"{fn}: dataset must have a length, got {type(dataset).__name__}")
        self.num_replicas = (comm.get_world_size() if num_replicas is None
                             else _check_int(fn, "num_replicas", num_replicas, 1))
        self.rank = comm.get_rank() if rank is None else _check_int(fn, "rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"{fn}: rank must be in [0, {self.num_replicas}), got {self.rank}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = _check_int(fn, "seed", seed, 0)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (each epoch a new permutation when shuffling)."""
        self.epoch = _check_int("DistributedSampler.set_epoch", "epoch", epoch, 0)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            reps = math.ceil((self.total_size - n) / max(n, 1))
            order = np.concatenate([order] + [order] * reps)[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
