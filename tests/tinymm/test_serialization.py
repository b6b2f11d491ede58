"""tm.save / tm.load: round trips, atomic writes, clear errors, and never any pickle."""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn, optim


def _model():
    tm.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_model_state_dict_round_trip(tmp_path):
    model = _model()
    model.register_buffer("counts", np.arange(3))  # an int64 buffer travels too
    path = tmp_path / "model.npz"
    tm.save(model.state_dict(), path)
    loaded = tm.load(path)
    assert list(loaded) == list(model.state_dict())  # same keys, same order
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], np.ndarray)
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key], value)
    tm.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    fresh.register_buffer("counts", np.zeros(3, np.int64))
    fresh.load_state_dict(loaded)
    x = tm.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_nested_optimizer_state_round_trip(tmp_path):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=3e-4, amsgrad=True)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    for _ in range(2):
        opt.zero_grad()
        model(tm.randn(6, 4)).sum().backward()
        opt.step()
        sched.step()
    state = {
        "model": model.state_dict(),
        "optim": opt.state_dict(),
        "sched": sched.state_dict(),
        "epoch": 7,
        "extras": {"best": 0.25, "nan": math.nan, "inf": -math.inf, "flag": True, "none": None,
                   "name": "run-1", "pair": (1, 2.5), "history": [0.9, 0.5, [1, 2]],
                   "scalar": np.float32(1.5), "zero_d": np.array(2.0), "empty": np.zeros((0, 3)),
                   "mask": np.array([True, False]), 3: {-1: "int keys stay ints"}},
    }
    tm.save(state, tmp_path / "ck.npz")
    back = tm.load(tmp_path / "ck.npz")

    osd, bsd = state["optim"], back["optim"]
    assert bsd["state"].keys() == osd["state"].keys()
    assert all(isinstance(k, int) for k in bsd["state"])
    for k, values in osd["state"].items():
        assert bsd["state"][k]["step"] == values["step"] == 2
        assert isinstance(bsd["state"][k]["step"], int)
        for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(bsd["state"][k][name], values[name])
            assert bsd["state"][k][name].dtype == np.float32
    assert bsd["param_groups"] == osd["param_groups"]  # betas come back as a tuple
    assert isinstance(bsd["param_groups"][0]["betas"], tuple)
    assert back["sched"] == state["sched"] and back["epoch"] == 7

    ex = back["extras"]
    assert ex["best"] == 0.25 and math.isnan(ex["nan"]) and ex["inf"] == -math.inf
    assert ex["flag"] is True and ex["none"] is None and ex["name"] == "run-1"
    assert ex["pair"] == (1, 2.5) and ex["history"] == [0.9, 0.5, [1, 2]]
    assert type(ex["scalar"]) is np.float32 and ex["scalar"] == 1.5
    assert isinstance(ex["zero_d"], np.ndarray) and ex["zero_d"].shape == () and ex["zero_d"] == 2.0
    assert ex["empty"].shape == (0, 3)
    assert ex["mask"].dtype == np.bool_ and ex["mask"].tolist() == [True, False]
    assert ex[3] == {-1: "int keys stay ints"}

    opt2 = optim.Adam(model.parameters())
    opt2.load_state_dict(back["optim"])
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_tensors_and_parameters_are_saved_as_arrays(tmp_path):
    t = tm.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(np.ones((2, 2)))
    tm.save({"t": t, "p": p}, tmp_path / "t.npz")
    back = tm.load(tmp_path / "t.npz")
    assert type(back["t"]) is np.ndarray and back["t"].dtype == np.float32
    np.testing.assert_array_equal(back["p"], np.ones((2, 2)))


def test_never_needs_pickle(tmp_path):
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(tm.randn(2, 4)).sum().backward()
    opt.step()
    path = tmp_path / "ck.npz"
    tm.save({"model": model.state_dict(), "optim": opt.state_dict()}, path)
    with np.load(path, allow_pickle=False) as archive:  # would raise on any object array
        members = {name: archive[name] for name in archive.files}
    assert all(a.dtype != object for a in members.values())
    assert len(members) == 1 + 4 + 4  # manifest, 4 parameters, 4 momentum buffers


def test_save_writes_atomically_when_it_fails_midway(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tm.save({"w": np.arange(4.0)}, path)
    before = path.read_bytes()
    real_savez = np.savez

    def failing_savez(file, *args, **kwds):
        file.write(b"PK\x03\x04 half of an archive")  # some bytes reach the disk ...
        raise OSError("disk full")  # ... then the write dies

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        tm.save({"w": np.zeros(1000)}, path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert os.listdir(tmp_path) == ["ck.npz"]  # no stray temporary file
    assert path.read_bytes() == before  # the previous checkpoint is intact
    np.testing.assert_array_equal(tm.load(path)["w"], np.arange(4.0))


def test_save_interrupted_by_keyboard_interrupt_cleans_up(tmp_path, monkeypatch):
    def interrupted(file, *args, **kwds):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tm.save({"w": np.ones(3)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []  # neither a half file nor a temporary one


def test_save_overwrites_an_existing_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    tm.save({"step": 1}, path)
    tm.save({"step": 2}, path)
    assert tm.load(path) == {"step": 2}
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_load_corrupt_truncated_file(tmp_path):
    path = tmp_path / "ck.npz"
    tm.save({"w": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"load: .*ck\.npz.* is not a readable tinymm checkpoint"):
        tm.load(path)


def test_load_corrupt_bytes_inside_an_array(tmp_path):
    path = tmp_path / "ck.npz"
    tm.save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flips bits in the middle of the array data: CRC mismatch
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"load: .*ck\.npz"):
        tm.load(path)


def test_load_plain_npz_without_manifest(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(ValueError, match=r"load: .*plain\.npz.* is not a tinymm checkpoint: it is "
                                         r"an \.npz archive but not a tinymm checkpoint \(no manifest\)"):
        tm.load(path)


def test_load_non_zip_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an archive at all\n")
    with pytest.raises(ValueError, match=r"load: .*notes\.txt.* is not a tinymm checkpoint: it is a "
                                         r"text file") as info:
        tm.load(path)
    assert "pickle" not in str(info.value)  # numpy's message suggests allow_pickle=


def test_load_npy_file(tmp_path):
    path = tmp_path / "single.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match=r"load: .*single\.npy.* is not a tinymm checkpoint: it is a "
                                         r"single \.npy array"):
        tm.load(path)


def test_load_corrupt_array_header_inside_the_archive(tmp_path):
    path = tmp_path / "ck.npz"
    tm.save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    header = data.find(b"\x93NUMPY")  # the first member's .npy header
    data[header + 20: header + 24] = b"@@@@"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"load: .*ck\.npz.* is not a readable tinymm checkpoint"):
        tm.load(path)


def test_load_corrupt_manifest(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, __tinymm__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ValueError, match=r"load: .*bad\.npz.* is not a readable tinymm checkpoint: "
                                         r"a corrupt manifest"):
        tm.load(path)
    other = tmp_path / "other.npz"
    np.savez(other, __tinymm__=np.frombuffer(b'{"format": "something-else"}', dtype=np.uint8))
    with pytest.raises(ValueError, match=r"load: .*other\.npz.* is not a tinymm checkpoint: "
                                          r"its manifest names another format"):
        tm.load(other)


def test_load_missing_file_and_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load: no file at"):
        tm.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match=r"load: path must be a str or os.PathLike, got int"):
        tm.load(3)


def test_save_rejects_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"save: cannot save set at state\['a'\]"):
        tm.save({"a": {1, 2}}, path)
    with pytest.raises(TypeError, match=r"save: dict keys must be str or int, got 1.5"):
        tm.save({1.5: 1}, path)
    with pytest.raises(TypeError, match=r"save: state\['o'\] is an object array"):
        tm.save({"o": np.array([None, 1], dtype=object)}, path)
    with pytest.raises(ValueError, match=r"save: the folder .* does not exist"):
        tm.save({}, tmp_path / "no" / "such" / "x.npz")
    with pytest.raises(TypeError, match=r"save: path must be a str or os.PathLike"):
        tm.save({}, None)
    assert os.listdir(tmp_path) == []  # failed encodings never touch the disk


def test_archive_is_a_valid_zip_of_npy_members(tmp_path):
    path = tmp_path / "ck.npz"
    tm.save({"a": np.ones(2), "b": [np.zeros(1)]}, path)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["__tinymm__.npy", "a0.npy", "a1.npy"]


def test_layouts_numpy_can_write_come_back_unchanged(tmp_path):
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    state = {"f": fortran, "t": np.arange(6, dtype=np.int32).reshape(2, 3).T,
             "big_endian": np.arange(3, dtype=">f4"), "zero_d": np.array(7, np.int16),
             "empty": np.zeros((0, 2), np.float32), "bools": np.array([[True], [False]])}
    tm.save(state, tmp_path / "ck.npz")
    back = tm.load(tmp_path / "ck.npz")
    for key, value in state.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape, key
        np.testing.assert_array_equal(back[key], value)
        assert back[key].flags.writeable, key


def test_files_without_the_array_table_and_compressed_members_load(tmp_path):
    """Checkpoints written before the manifest recorded dtypes and shapes, and archives a
    user recompressed (np.savez_compressed), are still read."""
    import json

    tree = {"__dict__": [["w", {"__array__": "a0", "scalar": False}], ["lr", {"__float__": "0.5"}]]}
    manifest = json.dumps({"format": "tinymm-state", "version": 1, "tree": tree}).encode()
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, a0=np.arange(5.0), __tinymm__=np.frombuffer(manifest, np.uint8))
        back = tm.load(path)
        assert back["lr"] == 0.5
        np.testing.assert_array_equal(back["w"], np.arange(5.0))
