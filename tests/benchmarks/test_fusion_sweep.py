"""benchmarks/fusion.py: resume, aggregation over seeds and the failure rule, with a mocked run."""

import json
import statistics

import pytest

from benchmarks import fusion


def fake_row(dataset, method, seed, settings):
    acc = 0.80 + 0.01 * seed + (0.05 if method == "concat" else 0.0)
    if dataset == "shapes_captions" and method == "late" and seed == 1:
        acc = 0.47                                     # collapsed onto its best modality
    return {"dataset": dataset, "fusion": method, "seed": seed, "accuracy": acc,
            "macro_f1": acc, "ceiling": 0.90, "additive_ceiling": 0.80,
            "best_single": "text", "best_single_accuracy": 0.45, "best_single_ceiling": 0.46,
            "modalities": ["image", "text"], "ablation": {}, "missing": {"image": 0.4, "text": 0.5},
            "noise": {"image": [acc, acc - 0.1], "text": [acc, acc - 0.2]}, "best_epoch": 3,
            "val_accuracy": acc, "epochs": 4, "parameters": 1000, "train_seconds": 1.0 + seed,
            "latency_s": 0.01, "step_memory_bytes": 2**20, "train_size": 10, "test_size": 10}


class Counter:
    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def __call__(self, dataset, method, seed, settings):
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt
        self.calls.append((dataset, method, seed))
        return fake_row(dataset, method, seed, settings)


def argv(tmp_path, seeds, extra=()):
    return ["--quick", "--seeds", str(seeds), "--datasets", "shapes_captions",
            "--fusions", "concat", "late", "--results", str(tmp_path / "runs.jsonl"),
            "--out", str(tmp_path / "F.md"), "--json", str(tmp_path / "F.json"), *extra]


def test_resume_skips_finished_runs_and_aggregates_seeds(tmp_path, capsys):
    first = Counter(stop_after=3)                    # Ctrl-C during the 4th run
    assert fusion.main(argv(tmp_path, 3), run=first) == 130
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 3
    second = Counter()
    assert fusion.main(argv(tmp_path, 3), run=second) == 0
    assert len(second.calls) == 3 and not set(second.calls) & set(first.calls)
    third = Counter()
    assert fusion.main(argv(tmp_path, 3), run=third) == 0
    assert third.calls == []                          # everything was already done
    fourth = Counter()
    assert fusion.main(argv(tmp_path, 4), run=fourth) == 0
    assert sorted(fourth.calls) == [("shapes_captions", "concat", 3),
                                    ("shapes_captions", "late", 3)]
    saved = json.loads((tmp_path / "F.json").read_text())
    summary = {e["fusion"]: e for e in saved["summary"]}
    expected = [0.85, 0.86, 0.87, 0.88]
    assert summary["concat"]["accuracy_mean"] == pytest.approx(statistics.fmean(expected))
    assert summary["concat"]["accuracy_std"] == pytest.approx(statistics.stdev(expected))
    assert summary["concat"]["seeds"] == [0, 1, 2, 3]
    # late: seed 1 collapsed (within 5 points of its best single modality); the others sit
    # within 8 points of the additive ceiling 0.80, which applies to late fusion
    assert summary["late"]["failures"] == 1 and summary["late"]["collapsed"] == 1
    assert summary["concat"]["failures"] == 0
    text = (tmp_path / "F.md").read_text()
    assert "Failed runs: **1 of 8**" in text
    assert "- **shapes_captions** (4 seeds): none" in text       # 0.865 < 0.90 - 0.02
    capsys.readouterr()


def test_settings_separate_runs(tmp_path):
    assert fusion.main(argv(tmp_path, 1), run=Counter()) == 0
    other = Counter()
    assert fusion.main(argv(tmp_path, 1, ["--epochs", "3"]), run=other) == 0
    assert len(other.calls) == 2                       # other settings: not the same runs


@pytest.mark.parametrize("row, failed, collapsed", [
    (dict(fusion="concat", accuracy=0.85, ceiling=0.9, best_single_accuracy=0.5), False, False),
    (dict(fusion="concat", accuracy=0.81, ceiling=0.9, best_single_accuracy=0.5), True, False),
    (dict(fusion="concat", accuracy=0.53, ceiling=0.9, best_single_accuracy=0.5), True, True),
    (dict(fusion="late", accuracy=0.79, ceiling=0.95, additive_ceiling=0.80,
          best_single_accuracy=0.7), False, False),
    (dict(fusion="late", accuracy=0.71, ceiling=0.95, additive_ceiling=0.80,
          best_single_accuracy=0.5), True, False),
])
def test_failure_rule(row, failed, collapsed):
    verdict = fusion.judge({"modalities": ["a", "b"], **row})
    assert verdict["failed"] is failed and verdict["collapsed"] is collapsed


def test_bad_options_exit_2(tmp_path, capsys):
    for extra in (["--seeds", "0"], ["--trainer-opt", "nokey"], ["--trainer-opt", "bogus=1"]):
        with pytest.raises(SystemExit) as exc:
            fusion.main(argv(tmp_path, 1, extra), run=Counter())
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--seeds must be a positive integer" in err and "expected key=value" in err
    assert "Trainer has no option 'bogus'" in err


def test_one_real_run_measures_everything():
    settings = {"quick": True, "epochs": 2, "train_size": 48, "test_size": 32,
                "text_encoder": "gru", "vary_data": False, "noise_levels": [0.0, 1.0],
                "trainer_options": {}, "model_options": {}, "label": None}
    row = fusion.run_one("sentiment_prosody", "concat", 0, settings)
    assert row["train_size"] == 48 and row["test_size"] == 32 and row["epochs"] == 2
    assert row["ablation"]["audio+text"] == row["accuracy"]
    assert row["missing"] == {"text": row["ablation"]["audio"], "audio": row["ablation"]["text"]}
    assert row["noise"]["audio"][0] == row["accuracy"] and len(row["noise"]["text"]) == 2
    assert row["best_single_accuracy"] == max(row["ablation"]["audio"], row["ablation"]["text"])
    assert row["parameters"] > 0 and row["latency_s"] > 0 and row["step_memory_bytes"] > 0
    assert 1 <= row["best_epoch"] <= 2 and row["failed"] in (True, False)


def test_baselines_run_per_modality_and_stay_out_of_the_failure_total(tmp_path, capsys):
    calls = Counter()
    assert fusion.main(["--quick", "--seeds", "1", "--datasets", "shapes_captions",
                        "--fusions", "late", "early", "unimodal",
                        "--results", str(tmp_path / "runs.jsonl"), "--out",
                        str(tmp_path / "F.md"), "--json", str(tmp_path / "F.json")],
                       run=calls) == 0
    assert sorted(m for _, m, _ in calls.calls) == ["early", "late", "unimodal:image",
                                                    "unimodal:text"]
    summary = {e["fusion"]: e for e in json.loads((tmp_path / "F.json").read_text())["summary"]}
    assert summary["unimodal:text"]["baseline"] and not summary["late"]["baseline"]
    # every fake row is 0.80: under 0.90 - 0.08, so the baselines fail the rule; late fusion
    # is judged against its additive ceiling 0.80 and passes; only late fusion is counted
    assert [summary[m]["failures"] for m in ("early", "unimodal:image", "unimodal:text",
                                             "late")] == [1, 1, 1, 0]
    text = (tmp_path / "F.md").read_text()
    assert "Failed runs: **0 of 1** (rule below; fusion methods only" in text
    assert "more than 3 points under the ceiling that applies" in text
    capsys.readouterr()


@pytest.mark.parametrize("name, modalities", [("early", ("text", "audio")),
                                              ("unimodal:text", ("text",))])
def test_one_real_baseline_run(name, modalities):
    settings = {"quick": True, "epochs": 1, "train_size": 32, "test_size": 32,
                "text_encoder": "gru", "vary_data": False, "noise_levels": [0.0, 1.0],
                "trainer_options": {}, "model_options": {}, "label": None}
    row = fusion.run_one("sentiment_prosody", name, 0, settings)
    assert tuple(row["modalities"]) == modalities and row["baseline"] is True
    assert set(row["noise"]) == set(modalities) and row["parameters"] > 0


def test_a_serial_sweep_runs_with_the_threads_asked_and_restores_them(tmp_path, capsys):
    from tinymm.train.threads import get_num_threads

    before, seen = get_num_threads(), []

    def run(dataset, method, seed, settings):
        seen.append(get_num_threads())
        return fake_row(dataset, method, seed, settings)

    others = 2 if all(n == 1 for n in before.values()) else 1
    assert fusion.main(argv(tmp_path, 1, ["--threads", str(others)]), run=run) == 0
    assert seen and all(set(s.values()) == {others} for s in seen)
    assert get_num_threads() == before
    capsys.readouterr()


def test_near_ceiling_leaves_out_unimodal_baselines_which_have_their_own_ceiling():
    entries = [{"dataset": "d", "fusion": f, "accuracy_mean": a, "ceiling": c}
               for f, a, c in (("concat", 0.89, 0.90), ("sum", 0.85, 0.90),
                               ("unimodal:text", 0.46, 0.46), ("early", 0.895, 0.90))]
    assert fusion.near_ceiling(entries) == {"d": ["concat", "early"]}
