"""DataLoader: batching, shuffling, drop_last, determinism, the get_batch fast path, collation."""

import importlib
import sys
import types

import numpy as np
import pytest

import tinymm
from tinymm.data import ArrayDataset, DataLoader, Dataset, DictDataset, default_collate, get_dataset


def dict_dataset(n=10):
    return DictDataset({"x": np.arange(n * 2, dtype=np.float32).reshape(n, 2),
                        "label": np.arange(n) % 4,
                        "mask": np.ones((n, 1), bool)})


class PerSample(Dataset):
    """The same samples without get_batch: forces the per-sample path."""

    def __init__(self, base):
        self.base = base
        self.modalities = getattr(base, "modalities", None)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return self.base[i]


def labels_of(loader):
    return [b["label"].tolist() for b in loader]


@pytest.mark.parametrize("n,bs,drop_last,sizes", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]),
    (2, 5, True, []),
    (4, 1, False, [1, 1, 1, 1]),
])
def test_batch_sizes_and_len(n, bs, drop_last, sizes):
    loader = DataLoader(dict_dataset(n), batch_size=bs, drop_last=drop_last)
    assert [len(b["label"]) for b in loader] == sizes
    assert len(loader) == len(sizes)


def test_unshuffled_order_and_dtypes():
    batches = list(DataLoader(dict_dataset(5), batch_size=2))
    assert labels_of(batches) == [[0, 1], [2, 3], [0]]
    b = batches[0]
    assert b["label"].dtype == np.int64 and b["mask"].dtype == bool
    assert b["x"].shape == (2, 2) and b["mask"].shape == (2, 1)


def test_shuffle_visits_every_sample_once_per_epoch():
    ds = ArrayDataset(np.arange(23))
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    for _ in range(3):
        seen = np.concatenate([b[0] for b in loader])
        assert sorted(seen.tolist()) == list(range(23))


def test_shuffle_deterministic_given_seed_and_new_each_epoch():
    ds = ArrayDataset(np.arange(40))
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=5)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=5)
    c = DataLoader(ds, batch_size=8, shuffle=True, seed=6)
    ea = [np.concatenate([x[0] for x in a]) for _ in range(3)]
    eb = [np.concatenate([x[0] for x in b]) for _ in range(3)]
    ec = np.concatenate([x[0] for x in c])
    assert all(np.array_equal(x, y) for x, y in zip(ea, eb))   # same seed, same epochs
    assert not np.array_equal(ea[0], ea[1])                      # a new order every epoch
    assert not np.array_equal(ea[0], ec)                         # seeds differ
    assert not np.array_equal(ea[0], np.arange(40))


def test_shuffle_with_drop_last_drops_a_random_tail():
    loader = DataLoader(ArrayDataset(np.arange(10)), batch_size=4, shuffle=True,
                        drop_last=True, seed=0)
    seen = np.concatenate([b[0] for b in loader])
    assert len(seen) == 8 and len(set(seen.tolist())) == 8


def test_fast_path_equals_per_sample_path():
    ds = get_dataset("sentiment_prosody", size=37)
    fast = list(DataLoader(ds, batch_size=8, shuffle=True, seed=3))
    slow = list(DataLoader(PerSample(ds), batch_size=8, shuffle=True, seed=3))
    assert len(fast) == len(slow) == 5
    for f, s in zip(fast, slow):
        assert f.keys() == s.keys()
        for k in f:
            assert f[k].dtype == s[k].dtype
            np.testing.assert_array_equal(f[k], s[k])


def test_builtin_batches_are_dicts_of_stacked_arrays():
    ds = get_dataset("shapes_captions", size=20)
    b = next(iter(DataLoader(ds, batch_size=16)))
    assert b["image"].shape == (16, 1, 16, 16) and b["image"].dtype == np.float32
    assert b["text"].shape == (16, 8) and b["text"].dtype == np.int64
    assert b["label"].shape == (16,) and b["label"].dtype == np.int64
    assert b["mask"].shape == (16, 2) and b["mask"].dtype == bool


def test_collate_fn_is_used():
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return len(samples)

    loader = DataLoader(dict_dataset(5), batch_size=2, collate_fn=collate)
    assert list(loader) == [2, 2, 1] and calls == [2, 2, 1]


def test_default_collate_dicts_tuples_and_masks():
    samples = [{"a": np.zeros(3), "label": 1, "mask": {"b": False, "a": True}},
               {"a": np.ones(3), "label": 2, "mask": {"b": True, "a": True}}]
    batch = default_collate(samples, modalities=("a", "b"))
    assert batch["a"].shape == (2, 3) and batch["label"].dtype == np.int64
    np.testing.assert_array_equal(batch["mask"], [[True, False], [True, True]])
    # without an order, the dict's own order
    np.testing.assert_array_equal(default_collate(samples)["mask"], [[False, True], [True, True]])
    xs, ys = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
    assert xs.shape == (2, 2) and ys.tolist() == [1, 0]
    assert default_collate([1.5, 2.5]).tolist() == [1.5, 2.5]
    with pytest.raises(ValueError, match="default_collate"):
        default_collate([])


def test_per_sample_path_orders_dict_masks_by_dataset_modalities():
    class Masked(Dataset):
        modalities = ("image", "text")

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"image": np.zeros(2), "label": i, "mask": {"text": bool(i), "image": True}}

    b = next(iter(DataLoader(Masked(), batch_size=2)))
    np.testing.assert_array_equal(b["mask"], [[True, False], [True, True]])


def _fake_random_module():
    """A stand-in for tinymm.random while the lead's module does not exist yet."""
    mod = types.ModuleType("tinymm.random")
    state = {"g": np.random.default_rng(0)}
    mod.generator = lambda: state["g"]
    mod.manual_seed = lambda s: state.__setitem__("g", np.random.default_rng(s))
    return mod


@pytest.fixture
def reseed(monkeypatch):
    """A function seeding tinymm's global generator (the real one when it exists)."""
    try:
        real = importlib.import_module("tinymm.random")
    except ImportError:
        real = None
    if real is not None and hasattr(tinymm, "manual_seed"):
        return tinymm.manual_seed
    fake = _fake_random_module()
    monkeypatch.setitem(sys.modules, "tinymm.random", fake)
    monkeypatch.setattr(tinymm, "random", fake, raising=False)
    return fake.manual_seed


def test_seed_none_draws_from_tinymm_global_generator(reseed):
    ds = ArrayDataset(np.arange(30))
    loader = DataLoader(ds, batch_size=30, shuffle=True)
    reseed(11)
    first = [next(iter(loader))[0] for _ in range(2)]
    reseed(11)
    again = [next(iter(loader))[0] for _ in range(2)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not np.array_equal(first[0], first[1])


def test_rejects_bad_arguments():
    ds = dict_dataset(4)
    with pytest.raises(ValueError, match="DataLoader: batch_size must be >= 1"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="DataLoader: batch_size"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(TypeError, match="DataLoader: batch_size"):
        DataLoader(ds, batch_size=True)
    with pytest.raises(TypeError, match="DataLoader: shuffle"):
        DataLoader(ds, shuffle="yes")
    with pytest.raises(TypeError, match="DataLoader: drop_last"):
        DataLoader(ds, drop_last=1)
    with pytest.raises(TypeError, match="DataLoader: dataset"):
        DataLoader(5)
    with pytest.raises(TypeError, match="DataLoader: seed"):
        DataLoader(ds, seed="1")
    with pytest.raises(ValueError, match="DataLoader: seed"):
        DataLoader(ds, seed=-1)
    with pytest.raises(TypeError, match="DataLoader: collate_fn"):
        DataLoader(ds, collate_fn=3)
