"""DistributedDataParallel: one model replica per process, gradients averaged in buckets.

The rule (as PyTorch's ``DistributedDataParallel`` and Horovod): every process holds the
same parameters (rank 0's, broadcast at construction), runs forward and backward on its own
share of the batch, and before the optimizer step every gradient is replaced by its mean over
the processes. The optimizer then makes the same step everywhere, so the replicas stay equal.

How the averaging overlaps the backward pass: parameters are grouped into *buckets* of about
``bucket_mb`` MiB, in reverse order of ``module.parameters()`` (roughly the order in which
backward finishes their gradients). A post-accumulate-grad hook on each parameter counts the
gradients that are complete; when a bucket is full its gradients are copied into one flat
buffer and a non-blocking ``MPI_Iallreduce`` starts, while backward goes on with the layers
below. Buckets start in index order on every rank (MPI needs the same order of collectives
everywhere). When the last bucket has started, the hook waits for all of them and writes the
means back into ``.grad``. Whether the communication really overlaps depends on the MPI
library making progress in the background (MPICH does with ``MPIR_CVAR_ASYNC_PROGRESS=1``);
each hook also pokes progress with ``MPI_Testall``.

In a world of one process this is a thin wrapper: no buffers, no hooks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np

from ..autograd import is_grad_enabled
from ..nn.module import Module
from . import comm

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel in one flat buffer."""

    def __init__(self, index: int, params: list, dtype: np.dtype):
        self.index = index
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params])
        self.flat = np.empty(int(self.offsets[-1]), dtype=dtype)
        self.ready = 0
        self.request = None

    def pack(self) -> None:
        for p, a, b in zip(self.params, self.offsets[:-1], self.offsets[1:]):
            if p.grad is None:  # unused in this step: contributes zeros, as in PyTorch
                self.flat[a:b] = 0
            else:
                self.flat[a:b] = p.grad.reshape(-1)

    def unpack(self, scale) -> None:
        self.flat *= scale
        for p, a, b in zip(self.params, self.offsets[:-1], self.offsets[1:]):
            mean = self.flat[a:b].reshape(p.data.shape)
            if p.grad is None:
                p.grad = mean.copy()
            else:
                p.grad[...] = mean


def _make_buckets(params: list, bucket_bytes: float) -> list[_Bucket]:
    """Consecutive parameters of one dtype, at most ``bucket_bytes`` per bucket (a larger
    parameter gets a bucket of its own)."""
    buckets: list[_Bucket] = []
    group: list = []
    size = 0
    for p in params:
        nbytes = p.data.nbytes
        if group and (size + nbytes > bucket_bytes or p.data.dtype != group[0].data.dtype):
            buckets.append(_Bucket(len(buckets), group, group[0].data.dtype))
            group, size = [], 0
        group.append(p)
        size += nbytes
    if group:
        buckets.append(_Bucket(len(buckets), group, group[0].data.dtype))
    return buckets


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``backward()`` leaves every gradient averaged over all ranks.

    DistributedDataParallel(module, bucket_mb=25, broadcast_buffers=True,
                            find_unused_parameters=False)

    - Call it like the module; ``.module`` is the wrapped model (its state_dict keys get the
      prefix ``module.``, as in PyTorch).
    - ``with ddp.no_sync():`` runs backward without communication (gradients accumulate
      locally); the next backward outside it averages everything accumulated.
    - ``find_unused_parameters=True``: after each forward, parameters the output does not
      depend on are counted as ready (contributing zeros), so their bucket still starts.
      Without it, a parameter that gets no gradient leaves the reduction unfinished and the
      next forward raises ``RuntimeError`` saying so.
    - ``stats``: buckets and bytes sent, seconds spent waiting for MPI at the end of backward.

    Call :func:`tinymm.distributed.init` first (it starts MPI when run under ``mpiexec``).

    In a world of one it is the module itself, gradients untouched:

    >>> import tinymm.distributed as dist
    >>> model = nn.Linear(3, 2)
    >>> ddp = dist.DistributedDataParallel(model)
    >>> ddp(tm.ones(4, 3)).sum().backward()
    >>> model.weight.grad.shape, list(ddp.state_dict())
    ((2, 3), ['module.weight', 'module.bias'])
    """

    def __init__(self, module: Module, bucket_mb: float = 25, broadcast_buffers: bool = True,
                 find_unused_parameters: bool = False):
        super().__init__()
        fn = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{fn}: module must be a tinymm nn.Module, got {type(module).__name__}")
        if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or not bucket_mb > 0:
            raise ValueError(f"{fn}: bucket_mb must be a positive number, got {bucket_mb!r}")
        self.module = module
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "find_unused_parameters", bool(find_unused_parameters))
        object.__setattr__(self, "world_size", comm.get_world_size())
        object.__setattr__(self, "stats", {"buckets_sent": 0, "bytes_sent": 0, "wait_seconds": 0.0,
                                           "backward_passes": 0})
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_armed", False)
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        object.__setattr__(self, "_params", params)
        for p in params:
            comm.broadcast(p, src=0)
        self._broadcast_buffers()
        if self.world_size == 1:
            object.__setattr__(self, "_buckets", [])
            return
        buckets = _make_buckets(list(reversed(params)), bucket_mb * 2**20)
        object.__setattr__(self, "_buckets", buckets)
        object.__setattr__(self, "_bucket_of", {id(p): b for b in buckets for p in b.params})
        object.__setattr__(self, "_next", 0)  # the next bucket to start, in index order
        for p in params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------------ forward
    def _broadcast_buffers(self) -> None:
        if self.broadcast_buffers:
            for _, buf in self.module.named_buffers():
                comm.broadcast(buf, src=0)

    def forward(self, *args, **kwargs):
        if self._armed:
            missing = [i for i, p in enumerate(self._params) if id(p) not in self._counted]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not produce gradients for "
                f"{len(missing)} parameter(s), so their average was never computed; pass "
                "find_unused_parameters=True if some parameters take no part in the loss")
        if self.world_size > 1 and self.broadcast_buffers and self.training:
            self._broadcast_buffers()
        out = self.module(*args, **kwargs)
        if self.world_size > 1 and self._sync and is_grad_enabled():
            self._arm(out)
        return out

    def _arm(self, out) -> None:
        object.__setattr__(self, "_armed", True)
        object.__setattr__(self, "_counted", set())
        object.__setattr__(self, "_next", 0)
        for b in self._buckets:
            b.ready, b.request = 0, None
        if self.find_unused_parameters:
            used = _leaves_reached(out)
            for p in self._params:
                if id(p) not in used:
                    self._grad_ready(p)

    # ------------------------------------------------------------------ backward
    def _grad_ready(self, p) -> None:
        if not self._armed or id(p) in self._counted:
            return
        self._counted.add(id(p))
        bucket = self._bucket_of[id(p)]
        bucket.ready += 1
        from mpi4py import MPI

        while self._next < len(self._buckets):
            b = self._buckets[self._next]
            if b.ready < len(b.params):
                break
            b.pack()
            b.request = comm._get_world().comm.Iallreduce(MPI.IN_PLACE, b.flat, op=MPI.SUM)
            self.stats["buckets_sent"] += 1
            self.stats["bytes_sent"] += b.flat.nbytes
            object.__setattr__(self, "_next", self._next + 1)
        started = [b.request for b in self._buckets[:self._next]]
        if self._next == len(self._buckets):
            t0 = time.perf_counter()
            MPI.Request.Waitall(started)
            self.stats["wait_seconds"] += time.perf_counter() - t0
            for b in self._buckets:
                b.unpack(b.flat.dtype.type(1.0 / self.world_size))
            self.stats["backward_passes"] += 1
            object.__setattr__(self, "_armed", False)
        elif started:
            MPI.Request.Testall(started)  # lets MPICH progress the started reductions

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communication."""
        previous = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", previous)

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"


def _leaves_reached(out) -> set[int]:
    """ids of the leaf tensors that the graph of ``out`` (a Tensor or nested tuple/list/dict
    of them) reads."""
    from ..tensor import Tensor

    stack, seen_nodes, leaves = [out], set(), set()
    while stack:
        x = stack.pop()
        if isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, Tensor):
            node = x._node
            if node is None:
                leaves.add(id(x))
            elif id(node) not in seen_nodes:
                seen_nodes.add(id(node))
                stack.extend(t for t in (node.inputs or ()) if t is not None)
    return leaves
