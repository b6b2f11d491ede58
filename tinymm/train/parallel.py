"""How the Trainer splits its work over MPI processes (a world of one changes nothing).

Under ``mpiexec -n P tinymm train`` (or ``tinymm train --nproc P``) every process builds the
same model from the same seed, and:

- the model is wrapped in :class:`~tinymm.distributed.DistributedDataParallel`, so every
  backward pass leaves gradients averaged over the processes and the optimizer steps stay
  identical everywhere;
- each epoch's training samples are split by a :class:`~tinymm.distributed.DistributedSampler`
  (shuffled with a seed all ranks share, reshuffled per epoch); the **global** batch size stays
  the one asked for, each process taking ``ceil(batch_size / P)`` samples of it;
- validation samples are split rank by rank (``rank::P``) and the sums behind the loss and
  the accuracy are added up over the processes, so every rank sees the same metrics and makes
  the same early-stopping decision;
- a non-finite loss on any rank stops every rank at the same step;
- only rank 0 prints and writes checkpoints; the others wait for it before reading one.
"""

from __future__ import annotations

import numpy as np

from .. import distributed as dist
from ..data.loader import DataLoader

__all__ = ["DataParallelPlan"]


class DataParallelPlan:
    """The world the Trainer runs in and the few collective steps it needs."""

    def __init__(self):
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.size = dist.get_world_size() if dist.is_initialized() else 1
        self.is_main = self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    def wrap(self, model):
        """The module to run forward/backward through: DDP across ranks, else the model.

        ``find_unused_parameters``: with modality dropout a batch may leave an encoder or a
        "missing" vector out of the loss, on one rank and not on another; those parameters
        then contribute zeros to the average (as in PyTorch) instead of stalling it."""
        if not self.parallel:
            return model
        return dist.DistributedDataParallel(model, find_unused_parameters=True)

    def train_loader(self, dataset, batch_size: int, epoch: int, seed: int) -> DataLoader:
        if not self.parallel:
            return DataLoader(dataset, batch_size=batch_size, shuffle=True)
        sampler = dist.DistributedSampler(dataset, num_replicas=self.size, rank=self.rank,
                                          shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=-(-batch_size // self.size), sampler=sampler)

    def eval_share(self, dataset):
        """This rank's share of an evaluation set (all of it in a world of one)."""
        if not self.parallel:
            return dataset
        from ..data.dataset import Subset

        return Subset(dataset, np.arange(self.rank, len(dataset), self.size))

    def sums(self, *values: float) -> list[float]:
        """Each value added up over the ranks."""
        arr = np.asarray(values, dtype=np.float64)
        if self.parallel:
            dist.all_reduce(arr)
        return arr.tolist()

    def any(self, flag: bool) -> bool:
        """True if ``flag`` is True on any rank."""
        if not self.parallel:
            return bool(flag)
        return bool(dist.all_reduce(np.array([1.0 if flag else 0.0]), op="max")[0])

    def shared_seed(self, local_seed: int) -> int:
        """Rank 0's ``local_seed`` on every rank."""
        if not self.parallel:
            return int(local_seed)
        return int(dist.broadcast(np.array([local_seed], dtype=np.int64), src=0)[0])

    def barrier(self) -> None:
        if self.parallel:
            dist.barrier()
