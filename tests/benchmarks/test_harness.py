"""Fast tests of the benchmark harness machinery (no timed assertions)."""

import json
import math

import numpy as np
import pytest

from benchmarks import check, registry, report, runner, stats
from benchmarks.frameworks import seeded_array


# ------------------------------------------------------------------------------- stats
@pytest.mark.parametrize("values", [[3.0], [1.0, 2.0], [5.0, 1.0, 4.0, 2.0, 3.0],
                                    list(np.random.default_rng(0).random(17))])
def test_quantiles_match_numpy(values):
    for q in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert math.isclose(stats.quantile(values, q), float(np.quantile(values, q)))
    assert stats.median(values) == pytest.approx(float(np.median(values)))
    q1, q3 = stats.iqr(values)
    assert q1 <= stats.median(values) <= q3


def test_quantile_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        stats.quantile([], 0.5)
    with pytest.raises(ValueError, match="q must be"):
        stats.quantile([1.0], 1.5)


def test_summarize_ratio_and_gflops():
    s = stats.summarize([0.001, 0.002, 0.003, 0.004])  # seconds -> ms
    assert s["n"] == 4 and s["median_ms"] == pytest.approx(2.5)
    assert s["min_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(4.0)
    assert s["q1_ms"] == pytest.approx(1.75) and s["q3_ms"] == pytest.approx(3.25)
    other = stats.summarize([0.005])
    assert stats.ratio(s, other) == pytest.approx(0.5)
    assert stats.ratio(s, None) is None and stats.ratio(None, s) is None
    assert stats.summarize([]) == {"n": 0}
    assert stats.gflops(2.5e9, s) == pytest.approx(1000.0)
    assert stats.gflops(None, s) is None


def test_seeded_array_is_reproducible_and_keyed_by_name():
    a = seeded_array(0, "conv.weight", (8, 3, 3, 3))
    assert a.dtype == np.float32 and a.shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(a, seeded_array(0, "conv.weight", (8, 3, 3, 3)))
    assert not np.array_equal(a, seeded_array(0, "conv2.weight", (8, 3, 3, 3)))
    assert np.abs(a).max() <= 1 / math.sqrt(27)  # PyTorch's fan-in bound
    norm_scale = seeded_array(0, "ln.weight", (16,))
    assert np.all(np.abs(norm_scale - 1) <= 0.1)


# ---------------------------------------------------------------------- correctness guard
def _ref():
    rng = np.random.default_rng(1)
    return {"y": rng.standard_normal((32, 10)).astype(np.float32),
            "grad.weight": rng.standard_normal((10, 64)).astype(np.float32)}


def test_guard_accepts_float32_rounding():
    ref = _ref()
    cand = {k: (v * (1 + 1e-6)).astype(np.float32) for k, v in ref.items()}
    res = check.compare(cand, ref, rtol=2e-3)
    assert res.ok, res.problems
    assert res.worst_err < 1e-5


@pytest.mark.parametrize("corrupt", ["scale", "sign", "one_element", "nan", "shape", "missing"])
def test_guard_rejects_a_wrong_result(corrupt):
    ref = _ref()
    cand = {k: v.copy() for k, v in ref.items()}
    if corrupt == "scale":
        cand["y"] *= 1.01
    elif corrupt == "sign":
        cand["grad.weight"] = -cand["grad.weight"]
    elif corrupt == "one_element":
        cand["grad.weight"][3, 7] += 0.1
    elif corrupt == "nan":
        cand["y"][0, 0] = np.nan
    elif corrupt == "shape":
        cand["y"] = cand["y"].T.copy()
    else:
        del cand["grad.weight"]
    res = check.compare(cand, ref, rtol=2e-3)
    assert not res.ok
    assert res.problems and res.summary() != "ok"


def test_guard_files_roundtrip(tmp_path):
    ref = _ref()
    np.savez(tmp_path / "ref.npz", **ref)
    np.savez(tmp_path / "bad.npz", **{k: v + 1 for k, v in ref.items()})
    assert check.compare_files(str(tmp_path / "ref.npz"), str(tmp_path / "ref.npz")).ok
    assert not check.compare_files(str(tmp_path / "bad.npz"), str(tmp_path / "ref.npz")).ok


# ------------------------------------------------------------------------ table and JSON
def _row(name, numba_ms, torch_ms, numpy_ms=None, status="ok"):
    def fw(ms, st="ok"):
        return {"status": st, "timing": stats.summarize([ms / 1e3] * 3), "peak_rss_mb": 100.0}
    row = {"name": name, "group": "g", "title": name, "flops": 1e9, "load_avg_1m": 1.0,
           "frameworks": {"torch": fw(torch_ms), "tinymm-numba": fw(numba_ms, status)}}
    if numpy_ms is not None:
        row["frameworks"]["tinymm-numpy"] = fw(numpy_ms)
    runner._ratios(row)
    return row


def test_markdown_table_and_targets():
    rows = [_row("seed_step_b32_32", 120.0, 100.0, numpy_ms=600.0),
            _row("adam_6m", 30.0, 20.0),
            _row("lstm_32x20_fb", 1.0, 1.0, status="FAILED-CHECK")]
    table = report.markdown_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "**1.20**" in table and "5.00" in table     # ratio and numba-vs-numpy speed-up
    assert "FAILED-CHECK" in table
    rows.append(_row("adam_6m_fused", 19.0, 20.0))
    rows.append(_row("softmax_fb", 1.0, 1.0, status="FAILED-CHECK"))
    by_case = {t["case"]: t for t in report.evaluate_targets(rows)}
    assert by_case["seed_step_b32_32"]["met"] is False           # 1.2 > 0.9
    assert by_case["adam_6m_fused"]["met"] is True               # 0.95 <= 1.0
    assert by_case["softmax_fb"]["met"] is None                  # failed check: not measured
    assert by_case["conv2d_3x64_32_fb"]["met"] is None           # absent
    assert len(report.evaluate_targets(rows)) == len(report.TARGETS)
    assert "**no**" in report.targets_table(report.evaluate_targets(rows))


def test_json_and_results_markdown(tmp_path):
    rows = [_row("seed_step_b32_32", 120.0, 100.0)]
    payload = {"command": "python benchmarks/run.py", "date": "today",
               "machine": {"cpu": "TestCPU", "logical_cpus": 2, "platform": "x",
                           "versions": {"numpy": "1"}},
               "matmul_ceiling": {"gflops_median": 190.0, "gflops_best": 200.0},
               "settings": {"threads": 2}, "results": rows,
               "targets": report.evaluate_targets(rows), "elapsed_s": 60.0}
    report.write_json(tmp_path / "r.json", payload)
    back = json.loads((tmp_path / "r.json").read_text())
    assert back["results"][0]["ratio_numba_torch"] == pytest.approx(1.2)
    md = report.results_markdown(payload)
    assert "TestCPU" in md and "python benchmarks/run.py" in md and "190" in md
    assert "| `seed_step_b32_32` |" in md


def test_registry_has_the_issue_cases():
    names = {c.name for c in registry.all_cases()}
    for name in ("conv2d_3x64_32_fb", "conv2d_64x128_16_fb", "conv2d_128x256_8_fb",
                 "conv1d_64x128_128_fb", "max_pool2d_fb", "avg_pool2d_fb", "rnn_32x100_fb",
                 "lstm_32x20_fb", "gru_32x20_fb", "sdpa_128_fb", "mha_20_fb", "mha_128_fb",
                 "layer_norm_fb", "softmax_fb", "cross_entropy_fb", "embedding_fb", "adam_6m",
                 "seed_step_b32_32", "seed_step_b8_224"):
        assert name in names
    quick = registry.select(quick=True)
    assert 0 < len(quick) < 10 and all(not c.name.startswith("_") for c in quick)
    assert {c.name for c in registry.select(["_selftest"])} == {
        "_selftest_matmul", "_selftest_wrong", "_selftest_stale"}


# --------------------------------------------------------------------- end to end (spawn)
def test_tiny_case_end_to_end_in_subprocesses(tmp_path):
    pytest.importorskip("torch")
    settings = runner.Settings(rounds=1, round_s=1e-4, max_reps=1, warmup_reps=1, warmup_s=0.0,
                               gap_s=0.0, budget_s=5.0, timeout_s=120.0,
                               frameworks=("tinymm-numpy", "torch"), log_dir=str(tmp_path))
    good = runner.run_case(registry.get("_selftest_matmul"), settings)
    for name in ("tinymm-numpy", "torch"):
        fw = good["frameworks"][name]
        assert fw["status"] == "ok", fw
        assert fw["timing"]["n"] == 1 and fw["peak_rss_mb"] > 0
    assert good["frameworks"]["tinymm-numpy"]["check"].startswith("ok on calls 1 and 3")
    assert good["frameworks"]["tinymm-numpy"]["check_status"] == "passed"
    assert good["ratio_numpy_torch"] is not None and good["ratio_numpy_torch"] > 0

    bad = runner.run_case(registry.get("_selftest_wrong"), settings)
    assert bad["frameworks"]["tinymm-numpy"]["status"] == "FAILED-CHECK"
    assert "timing" not in bad["frameworks"]["tinymm-numpy"]   # not timed
    assert bad["ratio_numpy_torch"] is None
    assert bad["frameworks"]["torch"]["status"] == "ok"


def test_guard_update_rule_tolerates_flips_of_tiny_gradients_only():
    rng = np.random.default_rng(2)
    lr = 1e-3
    ref = {"update.w": (lr * np.sign(rng.standard_normal(10_000))).astype(np.float32)}
    noisy = {"update.w": ref["update.w"].copy()}
    noisy["update.w"][:20] *= -1          # 0.2 % of elements flipped by float32 noise
    assert check.compare(noisy, ref).ok
    for wrong in (3.16 * ref["update.w"], -ref["update.w"], 0 * ref["update.w"]):
        res = check.compare({"update.w": wrong}, ref)
        assert not res.ok and "update.w" in res.summary()


def test_top_lines_of_a_profile():
    text = ("   10 function calls in 0.1 seconds\n\n   Ordered by: internal time\n\n"
            "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n"
            + "".join(f"        1    0.0{i}    0.0    0.0    0.0 f.py:{i}(f{i})\n"
                      for i in range(9))
            + "\n--- by cumulative time ---\n   ncalls tottime\n")
    top = report.top_lines(text, 3).splitlines()
    assert top[0].strip().startswith("10 function calls")
    assert top[1].strip().startswith("ncalls") and len(top) == 5 and "f2" in top[-1]


def test_foreign_cpu_share():
    # 1000 jiffies elapsed, 600 busy, of which 300 ours (workers) and 100 the orchestrator's
    assert runner._foreign_share((0, 0), (600, 1000), 100, 300) == pytest.approx(0.2)
    assert runner._foreign_share((0, 0), (300, 1000), 100, 300) == 0.0  # never negative
    assert runner._foreign_share(None, (1, 2), 0, 0) is None
    import os

    from benchmarks import machine
    assert machine.process_jiffies(os.getpid()) is not None
    busy = machine.cpu_busy(0.05)
    assert busy is None or 0.0 <= busy <= 1.0
