"""benchmarks/memory_split.py: runtime start-up, one-time loading and training memory, apart."""

import pytest

from benchmarks import memory_split


def test_table_has_a_line_per_dataset_and_reports_errors():
    rows = [
        {"framework": "tinymm-numba", "dataset": "a", "runtime_mb": 62.0, "one_time_mb": 9.6,
         "training_mb": 5.3},
        {"framework": "torch", "dataset": "a", "one_time_mb": 27.0, "training_mb": 2.9},
        {"framework": "tinymm-numba", "dataset": "b", "error": "ImportError: needs sklearn"},
    ]
    lines = memory_split.table(rows, ["tinymm-numba", "torch"]).splitlines()
    assert len(lines) == 4  # header, rule, two datasets
    assert lines[2] == "| `a` | 62.0 | 9.6 | 5.3 | — | 27.0 | 2.9 |"    # no runtime: —
    assert "ImportError: needs sklearn" in lines[3] and "not run" in lines[3]


def test_unknown_dataset_and_bad_threads_are_refused(capsys):
    with pytest.raises(SystemExit):
        memory_split.main(["--datasets", "no_such_data"])
    assert "unknown dataset(s) no_such_data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        memory_split.main(["--datasets", "spoken_digits", "--threads", "0"])
    assert "--threads must be >= 1, got 0" in capsys.readouterr().err


def test_training_memory_is_measured_apart_from_the_kernels_loaded_once():
    # In a fresh process, a tinymm-Numba model case: Numba's runtime start-up and loading the
    # step's kernels are one-time costs that the later training increment no longer pays.
    row = memory_split._run_fresh("tinymm-numba", "spoken_digits", 1)
    assert "error" not in row, row
    assert row["one_time_mb"] > 0 and row["training_mb"] >= 0
    assert row["training_mb"] < row["runtime_mb"]
    # the target context is built once, by the probe: the model's kernels add much less
    assert row["one_time_mb"] < row["runtime_mb"]
