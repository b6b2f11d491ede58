"""tm.save / tm.load with a .safetensors path: the same arrays, readable by PyTorch's reader."""

import numpy as np
import pytest

import tinymm as tm

safetensors = pytest.importorskip("safetensors")


def test_round_trip_state_dict(tmp_path):
    model = tm.nn.Sequential(tm.nn.Linear(3, 4), tm.nn.LSTM(4, 2))
    path = tmp_path / "model.safetensors"
    tm.save(model.state_dict(), path)
    loaded = tm.load(path)
    assert set(loaded) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert loaded[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded[k], v)
    assert not list(tmp_path.glob(".*tmp"))


def test_mixed_dtypes_and_non_contiguous(tmp_path):
    arrays = {"a": np.arange(12.0).reshape(3, 4).T, "b": np.array([1, 2], np.int64),
              "c": tm.tensor(np.float32(2.5)), "d": np.array([True, False])}
    path = tmp_path / "x.safetensors"
    tm.save(arrays, path)
    loaded = tm.load(path)
    np.testing.assert_array_equal(loaded["a"], arrays["a"])
    assert loaded["b"].dtype == np.int64 and loaded["c"].shape == () and loaded["d"].dtype == bool


def test_pytorch_reads_and_writes_the_same_file(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    mine = tm.nn.Linear(3, 2)
    path = tmp_path / "mine.safetensors"
    tm.save(mine.state_dict(), path)
    theirs = torch.nn.Linear(3, 2)
    theirs.load_state_dict(load_file(str(path)))
    np.testing.assert_array_equal(theirs.weight.detach().numpy(), mine.weight.data)

    torch.nn.init.normal_(theirs.weight)
    save_file(theirs.state_dict(), str(tmp_path / "theirs.safetensors"))
    mine.load_state_dict(tm.load(tmp_path / "theirs.safetensors"))
    np.testing.assert_array_equal(mine.weight.data, theirs.weight.detach().numpy())


def test_errors(tmp_path):
    with pytest.raises(TypeError, match="save: a .safetensors file holds a flat dict"):
        tm.save([np.zeros(2)], tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="save: .safetensors values must be arrays"):
        tm.save({"a": {"nested": np.zeros(2)}}, tmp_path / "x.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="load: .* is not a readable .safetensors file"):
        tm.load(bad)
