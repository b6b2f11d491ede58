"""DistributedSampler: PyTorch's sharding rules (padding, drop_last, epochs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinymm.distributed import DistributedSampler


@given(n=st.integers(1, 60), replicas=st.integers(1, 7), drop_last=st.booleans(),
       shuffle=st.booleans(), epoch=st.integers(0, 3))
def test_shards_are_equal_sized_and_cover_the_data(n, replicas, drop_last, shuffle, epoch):
    shards = []
    for rank in range(replicas):
        s = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=3, drop_last=drop_last)
        s.set_epoch(epoch)
        shards.append(s.indices())
        assert len(shards[-1]) == len(s)
    sizes = {len(x) for x in shards}
    assert len(sizes) == 1
    every = np.concatenate(shards)
    if drop_last:
        assert len(every) == (n // replicas) * replicas
        assert len(set(every.tolist())) == len(every)  # no sample twice
    else:
        assert set(every.tolist()) == set(range(n))  # every sample at least once
        assert len(every) == -(-n // replicas) * replicas


@pytest.mark.parametrize(("n", "replicas", "drop_last"),
                         [(10, 4, False), (10, 4, True), (2, 5, False), (7, 3, True), (12, 3, False)])
def test_matches_torch_without_shuffle(n, replicas, drop_last):
    tud = pytest.importorskip("torch.utils.data")
    for rank in range(replicas):
        ours = list(DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last))
        theirs = list(tud.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                             drop_last=drop_last))
        assert ours == theirs


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    a = [DistributedSampler(range(20), 2, r, seed=1) for r in range(2)]
    first = [s.indices().tolist() for s in a]
    for s in a:
        s.set_epoch(1)
    second = [s.indices().tolist() for s in a]
    assert first != second
    assert sorted(first[0] + first[1]) == sorted(second[0] + second[1]) == list(range(20))
    again = DistributedSampler(range(20), 2, 0, seed=1)
    again.set_epoch(1)
    assert again.indices().tolist() == second[0]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"num_replicas": 0}, "num_replicas must be an integer >= 1"),
    ({"num_replicas": 2, "rank": 2}, "rank must be in [0, 2)"),
    ({"num_replicas": 2, "rank": -1}, "rank must be an integer >= 0"),
    ({"seed": 1.5}, "seed must be an integer"),
])
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError) as info:
        DistributedSampler(range(4), **kwargs)
    assert "DistributedSampler" in str(info.value) and words in str(info.value)
