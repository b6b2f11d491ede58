"""`tinymm train` on two MPI processes: `mpiexec -n 2 tinymm train` and `tinymm train
--nproc 2` train, print once, write one set of checkpoints, resume on one process; a failing
command ends every rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")

SMALL = ["--dataset", "shapes_captions", "--epochs", "2", "--train-size", "192",
         "--test-size", "96", "--quiet", "--no-plots"]


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")


def _mpiexec() -> str:
    found = Path(sys.executable).with_name("mpiexec")
    if not found.exists():
        pytest.fail("mpi4py is installed but mpiexec is not next to Python: pip install mpich")
    return str(found)


def _tinymm(*args, launcher=(), timeout=600):
    cmd = [*launcher, sys.executable, "-m", "tinymm", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


@pytest.mark.parametrize("how", ["mpiexec", "nproc"])
def test_two_processes_train_report_once_and_resume_on_one(tmp_path, how):
    out = tmp_path / "run"
    if how == "mpiexec":
        result = _tinymm("train", *SMALL, "--out", str(out), launcher=(_mpiexec(), "-n", "2"))
    else:
        result = _tinymm("train", *SMALL, "--out", str(out), "--nproc", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.count("test accuracy") == 1  # only rank 0 reports
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "test" and 0.0 <= report["accuracy"] <= 1.0
    assert len(report["history"]["epoch"]) == 2
    again = _tinymm("train", "--out", str(out), "--resume", "--epochs", "3", "--quiet",
                    "--no-plots")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["history"]["epoch"] == [1, 2, 3]


def test_a_failing_command_ends_every_rank(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.npz").write_bytes(b"not a checkpoint")
    start = time.monotonic()
    result = _tinymm("train", "--out", str(tmp_path / "run"), "--resume",
                     launcher=(_mpiexec(), "-n", "2"), timeout=120)
    assert result.returncode != 0
    assert "not a tinymm checkpoint" in result.stderr
    assert time.monotonic() - start < 60


def test_nproc_without_mpi_says_what_to_install(tmp_path, monkeypatch):
    from tinymm import cli_launch

    monkeypatch.setattr(cli_launch.shutil, "which", lambda name: None)
    monkeypatch.setattr(cli_launch.Path, "exists", lambda self: False)
    with pytest.raises(cli_launch.LaunchError, match="pip install mpich mpi4py"):
        cli_launch.find_mpiexec()
    assert cli_launch.strip_nproc(["train", "--nproc", "2", "--epochs", "1", "--nproc=3"]) == \
        ["train", "--epochs", "1"]
