"""Data-parallel training on many processes, over MPI (mpi4py).

    mpiexec -n 4 python train.py          # any MPI; `pip install mpich mpi4py` brings one

    import tinymm.distributed as dist
    rank, world = dist.init()             # a world of one without mpiexec
    model = dist.DistributedDataParallel(model)
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader: ...          # backward() leaves averaged gradients

Without MPI every call works on a world of one (rank 0, size 1, collectives the identity).
"""

from .comm import (
                   all_gather,
                   all_reduce,
                   barrier,
                   broadcast,
                   get_rank,
                   get_world_size,
                   init,
                   is_available,
                   is_initialized,
)
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = ["init", "is_initialized", "is_available", "get_rank", "get_world_size", "barrier",
           "all_reduce", "broadcast", "all_gather", "DistributedDataParallel", "DistributedSampler"]
