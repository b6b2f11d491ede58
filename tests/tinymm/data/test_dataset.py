"""Dataset protocol, ArrayDataset, DictDataset, MultimodalDataset, Subset and random_split."""

import numpy as np
import pytest

from tinymm.data import (
    ArrayDataset,
    CeilingTable,
    Dataset,
    DictDataset,
    MultimodalDataset,
    Subset,
    get_dataset,
    random_split,
)


def make_dict_dataset(n=10):
    return DictDataset({
        "image": np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2),
        "text": np.arange(n * 3).reshape(n, 3),
        "label": np.arange(n) % 3,
    })


def test_dataset_base_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_array_dataset_tuples_and_batches():
    x, y = np.random.default_rng(0).random((6, 3)), np.arange(6)
    ds = ArrayDataset(x, y)
    assert len(ds) == 6
    a, b = ds[-1]
    np.testing.assert_array_equal(a, x[5])
    assert b == 5
    bx, by = ds.get_batch(np.array([4, 1]))
    np.testing.assert_array_equal(bx, x[[4, 1]])
    np.testing.assert_array_equal(by, [4, 1])


def test_array_dataset_rejects_bad_input():
    with pytest.raises(ValueError, match="ArrayDataset.*first dimension"):
        ArrayDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="ArrayDataset"):
        ArrayDataset()
    ds = ArrayDataset(np.zeros(3))
    with pytest.raises(IndexError, match="ArrayDataset"):
        ds[3]
    with pytest.raises(TypeError, match="ArrayDataset: index"):
        ds[1.0]


def test_dict_dataset_samples():
    ds = make_dict_dataset()
    assert len(ds) == 10 and ds.modalities == ("image", "text")
    s = ds[4]
    assert set(s) == {"image", "text", "label"}
    assert isinstance(s["label"], int) and s["label"] == 1
    np.testing.assert_array_equal(s["text"], [12, 13, 14])
    assert ds.labels.dtype == np.int64
    b = ds.get_batch([0, 9])
    assert b["image"].shape == (2, 1, 2, 2) and b["label"].tolist() == [0, 0]


def test_dict_dataset_iterates_like_a_sequence():
    ds = make_dict_dataset(4)
    assert [s["label"] for s in ds] == [0, 1, 2, 0]  # IndexError ends iteration


def test_dict_dataset_mask_from_dict_follows_modality_order():
    n = 4
    mask = {"text": np.array([1, 0, 1, 0], bool), "image": np.ones(n, bool)}
    ds = DictDataset({"image": np.zeros((n, 2)), "text": np.zeros((n, 3), int),
                      "label": np.zeros(n, int), "mask": mask})
    assert ds.arrays["mask"].dtype == bool
    np.testing.assert_array_equal(ds[1]["mask"], [True, False])


def test_dict_dataset_rejects_bad_input():
    with pytest.raises(TypeError, match="DictDataset: arrays"):
        DictDataset([np.zeros(3)])
    with pytest.raises(ValueError, match="DictDataset.*first dimension"):
        DictDataset({"a": np.zeros(3), "label": np.zeros(4, int)})
    with pytest.raises(TypeError, match="DictDataset: label must be an integer"):
        DictDataset({"a": np.zeros(3), "label": np.zeros(3)})
    with pytest.raises(ValueError, match="DictDataset: mask must have shape"):
        DictDataset({"a": np.zeros(3), "mask": np.ones((3, 2), bool)})
    with pytest.raises(ValueError, match="DictDataset: modalities"):
        DictDataset({"a": np.zeros(3)}, modalities=("a", "b"))
    with pytest.raises(ValueError, match="DictDataset: mask dict keys"):
        DictDataset({"a": np.zeros(3), "mask": {"b": np.ones(3, bool)}})


def test_select_copies_and_keeps_metadata():
    ds = get_dataset("shapes_captions", size=50)
    sub = ds.select(np.array([3, 7, 7]))
    assert isinstance(sub, MultimodalDataset) and len(sub) == 3
    assert sub.ceilings == ds.ceilings and sub.modalities == ds.modalities
    np.testing.assert_array_equal(sub.arrays["image"][2], ds.arrays["image"][7])
    np.testing.assert_array_equal(sub.latents["shape"], ds.latents["shape"][[3, 7, 7]])
    sub.arrays["image"][0] += 1  # a copy: the original is untouched
    assert not np.array_equal(sub.arrays["image"][0], ds.arrays["image"][3])


def test_multimodal_dataset_metadata():
    ds = get_dataset("video_events", size=40)
    assert ds.shapes == {"video": (4, 1, 16, 16), "audio": (32, 40), "text": (8,)}
    assert ds.dtypes["text"] == np.int64 and ds.vocab_size == len(ds.vocab)
    assert ds.arrays["mask"].shape == (40, 3) and ds.arrays["mask"].all()
    assert 0 < ds.chance <= 0.2
    assert "video_events" in repr(ds) and "audio+text+video" in ds.describe()


def test_ceiling_table_accepts_any_subset_spelling():
    table = CeilingTable({"audio+text": 0.9, "text": 0.5})
    assert table[frozenset({"text", "audio"})] == 0.9
    assert table["text+audio"] == 0.9 and table[("text",)] == 0.5
    assert ("audio", "text") in table and "image" not in table
    assert table.get("image", -1) == -1


def test_subset_indexing_batches_and_metadata():
    ds = get_dataset("shapes_captions", size=30)
    sub = Subset(ds, [5, 2, 9])
    assert len(sub) == 3 and sub[1]["label"] == ds[2]["label"]
    np.testing.assert_array_equal(sub.get_batch([2, 0])["image"],
                                  ds.arrays["image"][[9, 5]])
    assert sub.modalities == ds.modalities and sub.num_classes == 12
    assert sub.ceilings["image+text"] == ds.ceilings["image+text"]
    np.testing.assert_array_equal(sub.latents["colour"], ds.latents["colour"][[5, 2, 9]])
    np.testing.assert_array_equal(sub.labels, ds.labels[[5, 2, 9]])
    assert not hasattr(sub, "not_an_attribute")
    with pytest.raises(IndexError, match="Subset"):
        Subset(ds, [30])


def test_nested_subset_materializes_in_order():
    ds = make_dict_dataset(10)
    inner = Subset(ds, [9, 8, 7, 6])
    outer = Subset(inner, [3, 0])
    flat = outer.materialize()
    assert isinstance(flat, DictDataset)
    np.testing.assert_array_equal(flat.arrays["text"], ds.arrays["text"][[6, 9]])
    with pytest.raises(TypeError, match="Subset.materialize"):
        Subset(ArrayDataset(np.zeros(3)), [0]).materialize()


def test_subset_without_get_batch_has_none():
    class Plain(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.array([i]), "label": i}

    sub = Subset(Plain(), [2, 0])
    assert not hasattr(sub, "get_batch") and sub[0]["label"] == 2


@pytest.mark.parametrize("lengths,sizes", [
    ([3, 7], [3, 7]),
    ([0.3, 0.3, 0.4], [3, 3, 4]),
    ([0.25, 0.25, 0.5], [3, 2, 5]),   # floor 2, 2, 5, the remainder 1 goes to the first
    ([1.0], [10]),
    ([0.0, 1.0], [0, 10]),
])
def test_random_split_sizes_and_disjointness(lengths, sizes):
    parts = random_split(make_dict_dataset(10), lengths, seed=0)
    assert [len(p) for p in parts] == sizes
    all_idx = np.concatenate([p.indices for p in parts])
    assert sorted(all_idx.tolist()) == list(range(10))  # disjoint and covering


@pytest.mark.parametrize("fractions", [[0.25, 0.25, 0.5], [0.1, 0.2, 0.7], [1 / 3] * 3,
                                       [0.05, 0.95], [0.5, 0.5]])
@pytest.mark.parametrize("n", [7, 10, 101])
def test_random_split_fraction_sizes_match_pytorch(fractions, n):
    torch = pytest.importorskip("torch")
    expected = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
    assert [len(p) for p in random_split(ArrayDataset(np.arange(n)), fractions, seed=0)] == expected


def test_random_split_deterministic_for_a_seed():
    ds = make_dict_dataset(50)
    a = [p.indices for p in random_split(ds, [0.8, 0.2], seed=1)]
    b = [p.indices for p in random_split(ds, [0.8, 0.2], seed=1)]
    c = [p.indices for p in random_split(ds, [0.8, 0.2], seed=2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    g = np.random.default_rng(1)  # a Generator is accepted as the seed
    assert [len(p) for p in random_split(ds, [10, 40], seed=g)] == [10, 40]


def test_random_split_keeps_dataset_metadata():
    train, val = random_split(get_dataset("spoken_digits", size=100), [0.9, 0.1], seed=0)
    assert train.modalities == ("audio", "text") and val.ceilings["audio+text"] > 0.9
    assert len(train.latents["label"]) == 90


def test_random_split_rejects_bad_input():
    ds = make_dict_dataset(10)
    with pytest.raises(ValueError, match="random_split: lengths sum to 9"):
        random_split(ds, [4, 5], seed=0)
    with pytest.raises(ValueError, match="random_split: fractional lengths"):
        random_split(ds, [0.5, 0.4], seed=0)
    with pytest.raises(ValueError, match="random_split: lengths must be >= 0"):
        random_split(ds, [-1, 11], seed=0)
    with pytest.raises(TypeError, match="random_split: lengths"):
        random_split(ds, [True, 9], seed=0)
    with pytest.raises(TypeError, match="random_split: lengths"):
        random_split(ds, "55", seed=0)
    with pytest.raises(TypeError, match="random_split: dataset"):
        random_split(42, [1], seed=0)
    with pytest.raises(TypeError, match="random_split: seed"):
        random_split(ds, [5, 5], seed="0")
    with pytest.raises(ValueError, match="random_split: seed must be >= 0"):
        random_split(ds, [5, 5], seed=-3)


def test_datasets_copy_and_pickle():
    import copy
    import pickle

    ds = get_dataset("shapes_captions", size=12)
    sub = Subset(ds, [4, 1])
    for clone in (copy.deepcopy(sub), pickle.loads(pickle.dumps(sub))):
        assert len(clone) == 2 and clone.num_classes == 12
        np.testing.assert_array_equal(clone.get_batch([1])["image"], ds.arrays["image"][[1]])
    back = pickle.loads(pickle.dumps(ds))
    assert back.ceilings["text+image"] == ds.ceilings["image+text"]
    np.testing.assert_array_equal(back.arrays["text"], ds.arrays["text"])
