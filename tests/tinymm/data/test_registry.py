"""The registry (list_datasets / get_dataset / dataset_info) and the optional sklearn digits."""

import sys
import types

import numpy as np
import pytest

import tinymm.data as data
from tinymm.data import digits_captions
from tinymm.data._synth import all_subsets, subset_key

CORE = ["sentiment_prosody", "shapes_captions", "spoken_digits", "video_events"]


@pytest.fixture
def fake_sklearn(monkeypatch):
    """A stand-in scikit-learn whose load_digits returns 300 labelled 8x8 images; image k has
    the value k / 300 in its top-left pixel, so tests can tell which image a sample used."""
    images = np.zeros((300, 8, 8))
    target = np.arange(300) % 10
    images[:, 0, 0] = np.arange(300) / 300 * 16
    images[:, 4, 2:6] = target[:, None] / 9 * 16          # something digit-dependent
    datasets = types.ModuleType("sklearn.datasets")
    datasets.load_digits = lambda: types.SimpleNamespace(images=images, target=target)
    sklearn = types.ModuleType("sklearn")
    sklearn.datasets = datasets
    monkeypatch.setitem(sys.modules, "sklearn", sklearn)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", datasets)
    return target


@pytest.fixture
def no_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)


def test_list_datasets_names_the_builtins():
    names = data.list_datasets()
    assert names == sorted(names) and set(CORE) <= set(names)
    assert "digits_captions" in data.list_datasets(include_unavailable=True)


def test_digits_listed_only_with_sklearn(fake_sklearn):
    assert "digits_captions" in data.list_datasets()


def test_digits_absent_without_sklearn(no_sklearn):
    assert "digits_captions" not in data.list_datasets()
    assert set(CORE) <= set(data.list_datasets())
    with pytest.raises(ImportError, match="digits_captions: needs scikit-learn"):
        data.get_dataset("digits_captions", size=10)
    # describing it needs nothing
    assert data.dataset_info("digits_captions")["available"] is False


@pytest.mark.parametrize("name", CORE)
def test_get_dataset_builds_each_split(name):
    train, val, test = data.get_dataset(name, split=("train", "val", "test"), size=(30, 10, 20))
    assert (len(train), len(val), len(test)) == (30, 10, 20)
    assert train.name == name and train.modalities == val.modalities
    for m in train.modalities:
        assert not np.array_equal(train.arrays[m][:10], val.arrays[m])
    again = data.get_dataset(name, split="val", size=10)
    np.testing.assert_array_equal(again.arrays["label"], val.arrays["label"])


def test_get_dataset_passes_options_and_default_sizes():
    ds = data.get_dataset("spoken_digits", split="val", seed=3, audio_format="waveform")
    assert len(ds) == data.dataset_info("spoken_digits")["default_sizes"]["val"]
    assert ds.shapes["audio"] == (1, 1312) and ds.info["options"]["audio_format"] == "waveform"
    a, b = data.get_dataset("shapes_captions", split=["train", "test"], size=12)
    assert len(a) == len(b) == 12


@pytest.mark.parametrize("name", CORE + ["digits_captions"])
def test_dataset_info_and_description(name):
    info = data.dataset_info(name)
    assert info["name"] == name and info["num_classes"] == len(info["class_names"])
    assert set(info["ceilings"]) == {subset_key(s) for s in all_subsets(info["modalities"])}
    text = data.describe_dataset(name)
    assert name in text and "Ceilings" in text and info["ceilings"].table() in text
    for m in info["modalities"]:
        assert m in text


def test_dataset_info_follows_options():
    base = data.dataset_info("video_events")["ceilings"]["audio"]
    louder = data.dataset_info("video_events", silent_prob=0.0)["ceilings"]["audio"]
    assert louder == pytest.approx(0.25) and base < louder


def test_registry_rejects_bad_arguments():
    with pytest.raises(ValueError, match="get_dataset: unknown dataset 'mnist'"):
        data.get_dataset("mnist")
    with pytest.raises(TypeError, match="get_dataset: name"):
        data.get_dataset(3)
    with pytest.raises(ValueError, match="get_dataset: split"):
        data.get_dataset("shapes_captions", split="dev")
    with pytest.raises(ValueError, match="get_dataset: split"):
        data.get_dataset("shapes_captions", split=("train", "dev"), size=4)
    with pytest.raises(ValueError, match="get_dataset: got 2 splits but 3 sizes"):
        data.get_dataset("shapes_captions", split=("train", "val"), size=(1, 2, 3))
    with pytest.raises(TypeError, match="get_dataset: split"):
        data.get_dataset("shapes_captions", split=())
    with pytest.raises(ValueError, match="dataset_info: unknown dataset"):
        data.dataset_info("nope")
    with pytest.raises(TypeError, match="shapes_captions: unknown option"):
        data.get_dataset("shapes_captions", size=4, nosie=0.1)


# --------------------------------------------------------------------------- digits_captions
def test_digits_captions_with_sklearn(fake_sklearn):
    train, test = data.get_dataset("digits_captions", split=("train", "test"), size=(400, 200),
                                   noise=0.0, occlusion_prob=0.0)
    assert train.shapes == {"image": (1, 16, 16), "text": (8,)}
    assert train.num_classes == 20 and train.info["ceilings_exact"] is False
    counts = np.bincount(train.labels, minlength=20)
    assert counts.max() - counts.min() <= 1
    # every image shows its label's digit, and train / test draw from disjoint image pools
    image_id = {s: np.rint(d.arrays["image"][:, 0, 0, 0] * 300).astype(int)
                for s, d in (("train", train), ("test", test))}
    for ds, ids in ((train, image_id["train"]), (test, image_id["test"])):
        np.testing.assert_array_equal(fake_sklearn[ids], ds.latents["digit"])
    assert not set(image_id["train"]) & set(image_id["test"])
    small = data.get_dataset("digits_captions", size=5, image_size=8)
    assert small.shapes["image"] == (1, 8, 8)


def test_digits_captions_oracle_matches_ceilings():
    n = 200_000
    latents = digits_captions.sample_latents(n, np.random.default_rng(0))
    table = digits_captions.ceilings()
    for subset in all_subsets(digits_captions.MODALITIES):
        acc = (digits_captions.oracle_predict(latents, subset) == latents["label"]).mean()
        se = np.sqrt(table[subset] * (1 - table[subset]) / n)
        assert abs(acc - table[subset]) < 3 * se + 1e-4
    assert table["image"] < table["image+text"] - 0.3 and table["text"] < 0.5
