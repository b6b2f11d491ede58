"""`tinymm explain` and `tinymm compress` on a model trained by `tinymm train`: their own
folders, their files, their tables, and clear errors."""

import json

import numpy as np
import pytest
from test_cli import run_main  # tests/ is on the path (pyproject's pythonpath)

import tinymm as tm
from tinymm.cli import main

TINY = ["--train-size", "96", "--test-size", "48", "--batch-size", "16", "--quiet", "--no-plots"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--epochs", "2", "--out", str(out), *TINY]) == 0
    return out


def test_explain_writes_its_own_folder(trained, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir() if p.is_file()}
    pytest.importorskip("matplotlib")
    code, out, err = run_main(["explain", str(trained / "best.npz"), "--samples", "3",
                               "--shapley-samples", "24", "--quiet"], capsys)
    assert code == 0, err
    folder = trained / "explain-best"
    names = {p.name for p in folder.iterdir()}
    assert {"explain.json", "saliency-image.png", "tokens-text.png",
            "modality-contribution.png"} <= names
    result = json.loads((folder / "explain.json").read_text())
    assert result["modalities"] == ["image", "text"] and len(result["samples"]) == 3
    assert result["method"]["shapley"]["samples"] == 24
    assert sum(result["class_counts"]) == 24
    assert "mean modality Shapley value" in out
    after = {p.name: p.stat().st_mtime_ns for p in trained.iterdir() if p.is_file()}
    assert after == before  # the training run's files are untouched


def test_compress_prunes_quantises_and_reports(trained, capsys):
    code, out, err = run_main(["compress", str(trained / "best.npz"), "--prune", "0.5",
                               "--quantize", "int8", "--quiet"], capsys)
    assert code == 0, err
    assert "size on disk" in out and "test accuracy" in out and "95%" in out
    folder = trained / "compress-best"
    result = json.loads((folder / "compress.json").read_text())
    assert result["before"]["disk_bytes"] / result["after"]["disk_bytes"] > 3.0
    assert result["steps"]["prune"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    low, high = result["accuracy_change"][1:]
    assert low <= result["accuracy_change"][0] <= high
    state = tm.load(folder / "compressed.npz")
    assert any(v.dtype == np.int8 for v in state["model"].values())
    assert result["steps"]["quantize"]["activation_bits"] == 7  # the default


def test_compress_activation_bits_8_is_recorded(trained, capsys):
    code, out, err = run_main(["compress", str(trained / "best.npz"), "--quantize", "int8",
                               "--activation-bits", "8", "--out", str(trained / "bits8"),
                               "--quiet"], capsys)
    assert code == 0, err
    result = json.loads((trained / "bits8" / "compress.json").read_text())
    assert result["steps"]["quantize"]["activation_bits"] == 8
    assert "0..255" in result["steps"]["quantize"]["activations"]


def test_structured_compression_removes_units(trained, capsys):
    code, out, err = run_main(["compress", str(trained / "best.npz"), "--prune", "0.5",
                               "--structured", "--out", str(trained / "structured")], capsys)
    assert code == 0, err
    result = json.loads((trained / "structured" / "compress.json").read_text())
    assert result["steps"]["prune"]["shrunk"]  # at least one layer lost channels or units
    assert result["after"]["parameters"] < result["before"]["parameters"]


@pytest.mark.parametrize(("argv", "words"), [
    (["compress", "{ckpt}"], "nothing to do"),
    (["compress", "{ckpt}", "--quantize", "int8", "--finetune-epochs", "1"], "give --prune too"),
    (["compress", "{ckpt}", "--prune", "1.5"], "--prune: must be in [0, 1)"),
    (["compress", "{ckpt}", "--quantize", "int8", "--activation-bits", "4"],
     "--activation-bits: invalid choice: 4"),
    (["explain", "no/such.npz"], "no checkpoint at no/such.npz"),
    (["compress", "no/such.npz", "--prune", "0.1"], "no checkpoint at no/such.npz"),
])
def test_bad_arguments_exit_2(trained, argv, words, capsys):
    argv = [a.replace("{ckpt}", str(trained / "best.npz")) for a in argv]
    code, out, err = run_main(argv, capsys)
    assert code == 2 and words in err and "Traceback" not in err
