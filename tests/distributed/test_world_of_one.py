"""tinymm.distributed without mpiexec: a world of one, every collective the identity."""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
import tinymm.distributed as dist
import tinymm.functional as F
from tinymm import nn
from tinymm.data import ArrayDataset, DataLoader


def test_init_outside_mpiexec_is_a_world_of_one():
    assert dist.init() == (0, 1)
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    dist.barrier()


@pytest.mark.parametrize("op", ["sum", "max", "mean"])
def test_collectives_are_the_identity(op):
    x = np.arange(6.0).reshape(2, 3)
    assert dist.all_reduce(x, op=op) is x
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    assert dist.broadcast(x, src=0) is x
    (only,) = dist.all_gather(x)
    np.testing.assert_array_equal(only, x)
    assert only is not x


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: dist.all_reduce([1.0, 2.0]), TypeError, "all_reduce: x must be a tinymm Tensor"),
    (lambda: dist.all_reduce(np.zeros(3, np.float16)), TypeError, "all_reduce: x has dtype float16"),
    (lambda: dist.all_reduce(np.zeros(3, bool)), TypeError, "cannot reduce a bool"),
    (lambda: dist.all_reduce(np.zeros(3), op="median"), ValueError, "op must be one of"),
    (lambda: dist.all_reduce(np.zeros(3, np.int64), op="mean"), TypeError, "floating-point"),
    (lambda: dist.broadcast(np.zeros(3), src=1), ValueError, "src must be a rank in [0, 1)"),
    (lambda: dist.DistributedDataParallel(lambda x: x), TypeError, "must be a tinymm nn.Module"),
    (lambda: dist.DistributedDataParallel(nn.Linear(2, 2), bucket_mb=0), ValueError, "bucket_mb"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)


def test_ddp_in_a_world_of_one_is_the_module():
    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    ddp = dist.DistributedDataParallel(model)
    x = tm.randn(5, 4)
    np.testing.assert_array_equal(ddp(x).data, model(x).data)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    F.mse_loss(ddp(x), tm.zeros(5, 2)).backward()
    assert all(p.grad is not None for p in model.parameters())
    with ddp.no_sync():
        ddp(x)


def test_sampler_feeds_a_dataloader():
    data = ArrayDataset(np.arange(10))
    sampler = dist.DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)
    batches = [b[0].tolist() for b in DataLoader(data, batch_size=2, sampler=sampler)]
    assert batches == [[1, 3], [5, 7], [9]]
    assert len(DataLoader(data, batch_size=2, sampler=sampler)) == 3
    with pytest.raises(ValueError, match="DataLoader: sampler and shuffle=True"):
        DataLoader(data, sampler=sampler, shuffle=True)
    with pytest.raises(TypeError, match="DataLoader: sampler must be iterable"):
        DataLoader(data, sampler=3)
