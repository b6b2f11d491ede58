"""Programs the MPI tests run under ``mpiexec -n 2``: ``python mpi_cases.py CASE``.

Each case asserts on every rank and prints ``CASE ok rank R`` at the end; the test reads the
output and the exit code. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import sys

import numpy as np

import tinymm as tm
import tinymm.distributed as dist
import tinymm.functional as F
from tinymm import nn, optim


def collectives(rank: int, size: int) -> None:
    for n in (1, 7, 1001):  # odd sizes
        for dtype in (np.float32, np.float64, np.int32, np.int64, np.uint8):
            x = (np.arange(n) % 5 + rank).astype(dtype)
            want = sum((np.arange(n) % 5 + r).astype(np.float64) for r in range(size))
            np.testing.assert_array_equal(dist.all_reduce(x.copy()), want.astype(dtype))
            np.testing.assert_array_equal(dist.all_reduce(x.copy(), op="max"),
                                          (np.arange(n) % 5 + size - 1).astype(dtype))
    t = tm.tensor(np.full((3, 5), float(rank + 1)))
    version = t._version
    out = dist.all_reduce(t, op="mean")
    assert out is t and t._version == version + 1
    np.testing.assert_allclose(t.data, np.full((3, 5), (size + 1) / 2))
    view = np.arange(12.0).reshape(3, 4).T * (rank + 1)  # non-contiguous: written back
    dist.broadcast(view, src=1)
    np.testing.assert_array_equal(view, np.arange(12.0).reshape(3, 4).T * 2)
    flags = np.array([rank == 0, True, False])
    gathered = dist.all_gather(flags)
    assert [g.tolist() for g in gathered] == [[r == 0, True, False] for r in range(size)]
    parts = dist.all_gather(tm.tensor([float(rank)] * 3))
    assert [p.data.tolist() for p in parts] == [[float(r)] * 3 for r in range(size)]
    try:
        dist.all_gather(np.zeros(rank + 1))
    except ValueError as exc:
        assert "same shape" in str(exc)
    else:
        raise AssertionError("all_gather accepted different shapes")


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((32, 6)), rng.integers(0, 3, 32)


def ddp_matches_single_process(rank: int, size: int) -> None:
    """2 ranks x batch 16 == 1 process x batch 32 after several Adam steps (float64)."""
    x, y = _data()
    tm.manual_seed(rank)  # different init on each rank: DDP must broadcast rank 0's
    model = _model().double()
    tm.manual_seed(0)
    reference = _model().double()
    ddp = dist.DistributedDataParallel(model, bucket_mb=0.001)  # several buckets
    for p, q in zip(model.parameters(), reference.parameters()):
        comm_p = dist.all_gather(p.data)
        np.testing.assert_array_equal(comm_p[0], comm_p[1])
        q.data[...] = p.data
    opt, opt_ref = optim.Adam(model.parameters(), lr=1e-2), optim.Adam(reference.parameters(), lr=1e-2)
    share = slice(rank * 16, rank * 16 + 16)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(ddp(tm.tensor(x[share])), tm.tensor(y[share])).backward()
        opt.step()
        opt_ref.zero_grad()
        F.cross_entropy(reference(tm.tensor(x)), tm.tensor(y)).backward()
        opt_ref.step()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-10, atol=1e-12)
    assert ddp.stats["backward_passes"] == 5 and ddp.stats["buckets_sent"] >= 10


def buckets_equal_per_parameter(rank: int, size: int) -> None:
    """Bucketed, overlapped averaging gives the gradients of one all_reduce per parameter."""
    x, y = _data(1)
    share = slice(rank * 16, rank * 16 + 16)
    grads = {}
    for bucket_mb in (1e-4, 25):
        tm.manual_seed(0)
        model = _model()
        ddp = dist.DistributedDataParallel(model, bucket_mb=bucket_mb)
        F.cross_entropy(ddp(tm.tensor(x[share], dtype=tm.float32)), tm.tensor(y[share])).backward()
        grads[bucket_mb] = [p.grad.copy() for p in model.parameters()]
    tm.manual_seed(0)
    plain = _model()
    F.cross_entropy(plain(tm.tensor(x[share], dtype=tm.float32)), tm.tensor(y[share])).backward()
    manual = [dist.all_reduce(p.grad.copy(), op="mean") for p in plain.parameters()]
    for a, b, c in zip(grads[1e-4], grads[25], manual):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)


def no_sync_accumulates(rank: int, size: int) -> None:
    """Two micro-batches, the first under no_sync: the mean over ranks of the summed grads."""
    x, y = _data(2)
    tm.manual_seed(0)
    model = _model().double()
    ddp = dist.DistributedDataParallel(model)
    halves = [slice(rank * 16, rank * 16 + 8), slice(rank * 16 + 8, rank * 16 + 16)]
    with ddp.no_sync():
        F.cross_entropy(ddp(tm.tensor(x[halves[0]])), tm.tensor(y[halves[0]])).backward()
    local_first = [p.grad.copy() for p in model.parameters()]
    F.cross_entropy(ddp(tm.tensor(x[halves[1]])), tm.tensor(y[halves[1]])).backward()
    tm.manual_seed(0)
    plain = _model().double()
    for h in halves:
        F.cross_entropy(plain(tm.tensor(x[h])), tm.tensor(y[h])).backward()
    for p, q, first in zip(model.parameters(), plain.parameters(), local_first):
        np.testing.assert_allclose(p.grad, dist.all_reduce(q.grad.copy(), op="mean"), rtol=1e-12)
        assert not np.allclose(first, p.grad)


def unused_parameter(rank: int, size: int) -> None:
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    x = tm.randn(5, 4)
    ddp = dist.DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    ddp(x).sum().backward()
    assert ddp.stats["backward_passes"] == 1
    strict = dist.DistributedDataParallel(TwoHeads())
    strict(x).sum().backward()
    try:
        strict(x)
    except RuntimeError as exc:
        assert "find_unused_parameters" in str(exc)
    else:
        raise AssertionError("an unfinished reduction was not reported")


def rank_fails(rank: int, size: int) -> None:
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.barrier()  # rank 0 would wait here forever without the abort


CASES = {f.__name__: f for f in (collectives, ddp_matches_single_process,
                                  buckets_equal_per_parameter, no_sync_accumulates,
                                  unused_parameter, rank_fails)}

if __name__ == "__main__":
    name = sys.argv[1]
    rank, size = dist.init()
    assert size == 2, f"run under mpiexec -n 2, got a world of {size}"
    CASES[name](rank, size)
    dist.barrier()
    print(f"{name} ok rank {rank}", flush=True)
