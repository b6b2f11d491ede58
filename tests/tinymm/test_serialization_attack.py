"""Attack tm.load with damaged and foreign files, and tm.save with crashes mid-write.

Every damaged file must end in one ``ValueError`` whose one-line message names the path
and never suggests ``allow_pickle`` (tm.load never unpickles); a crash or a kill during
``tm.save`` must leave the previous checkpoint loadable. Files attacked: one per
``FILE_DAMAGE`` kind, one per byte of the checkpoint flipped, 500 with random bytes
overwritten and one per truncation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from checkpoint_damage import FILE_DAMAGE

import tinymm as tm

STATE = {"w": np.arange(6.0).reshape(2, 3), "b": [np.ones(2, np.float32)], "lr": 0.1,
         "step": 3, "name": "run", "pair": (1, 2.5)}


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("valid") / "ck.npz"
    tm.save(STATE, path)
    return path.read_bytes()


def check_message(message: str, path: Path) -> None:
    assert message.startswith(f"load: {str(path)!r} is not a"), message
    assert "\n" not in message and "allow_pickle" not in message
    assert "tinymm checkpoint" in message


def assert_refused(path: Path) -> str:
    """tm.load(path) raises one ValueError naming the path, in one line; returns the message."""
    with pytest.raises(ValueError) as info:
        tm.load(path)
    check_message(str(info.value), path)
    return str(info.value)


def assert_same_state(loaded) -> None:
    assert loaded.keys() == STATE.keys()
    np.testing.assert_array_equal(loaded["w"], STATE["w"])
    assert loaded["w"].dtype == STATE["w"].dtype
    np.testing.assert_array_equal(loaded["b"][0], STATE["b"][0])
    assert {k: loaded[k] for k in ("lr", "step", "name", "pair")} == \
        {k: STATE[k] for k in ("lr", "step", "name", "pair")}


@pytest.mark.parametrize("kind", sorted(FILE_DAMAGE))
def test_each_kind_of_damage_is_one_named_value_error(kind, valid_bytes, tmp_path):
    path = tmp_path / f"{kind}.npz"
    path.write_bytes(FILE_DAMAGE[kind](valid_bytes))
    message = assert_refused(path)
    foreign = kind in ("empty", "text", "random-bytes", "single-npy", "plain-npz", "zip-of-text",
                       "manifest-other-format")
    assert ("is not a tinymm checkpoint" in message) == foreign, message


def test_every_byte_flipped_is_refused_or_harmless(valid_bytes, tmp_path):
    """Flip bits in each byte of a checkpoint in turn (one bit, the top bit or all eight, by
    turns): either the file is refused with the message, or (a byte no reader looks at, e.g.
    a timestamp) it loads the same state."""
    path = tmp_path / "flipped.npz"
    refused = harmless = 0
    for i in range(len(valid_bytes)):
        data = bytearray(valid_bytes)
        data[i] ^= (0x01, 0x80, 0xFF)[i % 3]
        path.write_bytes(bytes(data))
        try:
            loaded = tm.load(path)
        except ValueError as exc:
            check_message(str(exc), path)
            refused += 1
        else:
            assert_same_state(loaded)
            harmless += 1
    assert refused + harmless == len(valid_bytes)
    assert refused > len(valid_bytes) // 2  # the CRC and the header checks see most flips


def test_random_multi_byte_damage_is_refused_or_harmless(valid_bytes, tmp_path):
    """500 files with 1 to 16 random bytes overwritten at random places."""
    rng = np.random.default_rng(2024)
    path = tmp_path / "scrambled.npz"
    outcomes = {"refused": 0, "harmless": 0}
    for _ in range(500):
        data = bytearray(valid_bytes)
        for i in rng.integers(0, len(data), size=rng.integers(1, 17)):
            data[i] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        try:
            loaded = tm.load(path)
        except ValueError as exc:
            check_message(str(exc), path)
            outcomes["refused"] += 1
        else:
            assert_same_state(loaded)
            outcomes["harmless"] += 1
    assert outcomes["refused"] > 400


def test_every_truncation_is_refused(valid_bytes, tmp_path):
    path = tmp_path / "cut.npz"
    for n in range(len(valid_bytes)):
        path.write_bytes(valid_bytes[:n])
        with pytest.raises(ValueError) as info:
            tm.load(path)
        check_message(str(info.value), path)


# ----------------------------------------------------------------------------- crashes in save
@pytest.mark.parametrize("fail_after", [0, 100, 10_000])
def test_crash_midway_through_save_keeps_the_previous_checkpoint(fail_after, tmp_path,
                                                                  monkeypatch):
    """The write dies after ``fail_after`` bytes reached the temporary file."""
    path = tmp_path / "ck.npz"
    tm.save(STATE, path)
    before = path.read_bytes()
    real_savez = np.savez

    class DiskFull:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, b):
            if self.written + len(b) > fail_after:
                raise OSError(28, "No space left on device")
            self.written += len(b)
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(np, "savez", lambda f, **arrays: real_savez(DiskFull(f), **arrays))
    with pytest.raises(OSError, match="No space left"):
        tm.save({"w": np.zeros(5000)}, path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.npz"]
    assert_same_state(tm.load(path))


def test_a_process_killed_while_saving_leaves_a_loadable_checkpoint(tmp_path):
    """SIGKILL a process that saves in a loop (no cleanup code runs): the checkpoint is
    always a whole one, the old or the new, with matching contents."""
    path = tmp_path / "ck.npz"
    script = textwrap.dedent(f"""
        import numpy as np, tinymm as tm
        i = 0
        while True:
            i += 1
            tm.save({{"step": i, "w": np.full(300_000, float(i))}}, {str(path)!r})
            print(i, flush=True)
    """)
    root = Path(tm.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env,
                                cwd=tmp_path)
        try:
            assert proc.stdout.readline()  # one save completed
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
        state = tm.load(path)
        assert state["step"] >= 1 and state["w"].shape == (300_000,)
        assert np.all(state["w"] == state["step"])
