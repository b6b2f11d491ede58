"""Fast tests of the round-2 harness: --compare, provenance, honest guard counts, the
later-call check, the memory-increment helper, compile-time accounting, scaling series."""

import json
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import (
    cases_scaling,
    compare,
    first_step,
    memory,
    provenance,
    registry,
    report,
    run,
    runner,
    stats,
)


def _fw(ms, status="ok", **extra):
    d = {"status": status, "timing": stats.summarize([ms / 1e3] * 3)}
    d.update(extra)
    return d


def _row(name, numba_ms, torch_ms, group="g", **fw_extra):
    row = {"name": name, "group": group, "title": name,
           "frameworks": {"torch": _fw(torch_ms, check_status="reference"),
                          "tinymm-numba": _fw(numba_ms, **fw_extra)}}
    runner._ratios(row)
    return row


def _payload(rows, commit="a" * 40, cpu="TestCPU"):
    return {"command": "x", "date": "d", "results": rows,
            "machine": {"cpu": cpu, "provenance": {"git": {"commit": commit, "dirty": False}}}}


# ------------------------------------------------------------------------------ --compare
def test_compare_reports_ratio_and_percent_change(tmp_path, capsys):
    old = _payload([_row("conv", 150.0, 100.0), _row("gone", 1.0, 1.0)], commit="1" * 40)
    new = _payload([_row("conv", 90.0, 100.0), _row("fresh", 2.0, 1.0)], commit="2" * 40)
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    rows = {r["name"]: r for r in compare.compare(old, new)}
    assert rows["conv"]["ratio_old"] == pytest.approx(1.5)
    assert rows["conv"]["ratio_new"] == pytest.approx(0.9)
    assert rows["conv"]["frameworks"]["tinymm-numba"]["change_pct"] == pytest.approx(-40.0)
    assert rows["conv"]["frameworks"]["torch"]["change_pct"] == pytest.approx(0.0)
    assert rows["gone"]["only_in"] == "old" and rows["fresh"]["only_in"] == "new"
    assert run.main(["--compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert "1.50 → 0.90" in out and "(-40 %)" in out
    assert "1111111111" in out and "2222222222" in out      # both commits head the text
    line = next(s for s in out.splitlines() if "`fresh`" in s)
    assert "only in new" in line


def test_compare_refuses_a_file_that_is_not_results(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(ValueError, match="not a benchmarks results.json"):
        compare.load(tmp_path / "x.json")
    assert compare.pct_change(None, 1.0) is None and compare.pct_change(0.0, 1.0) is None


# ---------------------------------------------------------------------------- provenance
def test_provenance_git_and_cpu_flags():
    g = provenance.git_state()
    assert set(g) == {"commit", "dirty", "branch"}
    if g["commit"] is not None:                     # inside a git checkout
        assert re.fullmatch(r"[0-9a-f]{40}", g["commit"]) and isinstance(g["dirty"], bool)
    info = provenance.cpu_flags("processor : 0\nmodel name : Fake CPU 9000\n"
                                "flags : fpu sse4_2 avx avx2 fma avx512f avx512_vnni\n"
                                "processor : 1\nmodel name : other\nflags : fpu\n")
    assert info == {"model": "Fake CPU 9000",
                    "flags": ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni"]}


def test_provenance_lines_in_results_markdown():
    prov = {"git": {"commit": "c" * 40, "dirty": True}, "cpu": {"flags": ["avx2", "fma"]},
            "libraries": {"numpy_blas": {"name": "scipy-openblas", "version": "0.3"},
                          "numba_threading_layer": "omp", "torch": "2.x",
                          "torch_num_threads": 2}}
    payload = _payload([_row("seed_step_b32_32", 1.0, 1.0, check_status="passed")])
    payload["machine"].update(logical_cpus=2, platform="p", versions={}, provenance=prov)
    payload.update(settings={"threads": 2}, targets=[])
    md = report.results_markdown(payload)
    for text in ("c" * 40, "dirty", "avx2, fma", "scipy-openblas", "Numba threading layer: omp",
                 "torch 2.x; threads 2"):
        assert text in md
    assert "Allocator: not recorded" in md
    payload["settings"]["allocator"] = "same"
    assert "the same fixed glibc thresholds for every framework" in report.results_markdown(
        payload)


# -------------------------------------------------------------------------- guard counts
def test_guard_sentence_counts_skipped_and_failed_honestly():
    rows = [_row("a", 1.0, 1.0, check_status="passed", check_calls=[1, 3]),
            _row("b", 1.0, 1.0, check_status="skipped: --no-check"),
            _row("c", 1.0, 1.0, status="FAILED-CHECK", check_status="FAILED"),
            {"name": "startup_import", "group": "startup", "frameworks": {
                "tinymm-numba": _fw(1.0)}}]
    c = report.guard_counts(rows)
    assert (c["passed"], c["skipped"], c["failed"]) == (1, 1, 1)
    text = report.guard_sentence(rows)
    assert "1 of 3" in text and "WITHOUT a check" in text and "FAILED" in text
    assert "calls 1 and 3" in text
    assert "all timed results were checked" not in text
    allok = report.guard_sentence(rows[:1])
    assert "1 of 1" in allok and "all timed results were checked" in allok


class _InProcess:
    """A WorkerProc stand-in that runs ``benchmarks.worker.Worker`` in this process."""

    def __init__(self, framework, case):
        from benchmarks.worker import Worker

        self.worker = Worker(framework, case, threads=1, seed=0)
        self.worker.start()
        self.worker.setup({})

    def request(self, **msg):
        reply = getattr(self.worker, msg.pop("cmd"))(msg)
        reply.setdefault("status", "ok")
        return reply

    def close(self):
        pass


@pytest.mark.parametrize("later_call", [0, 3])
def test_guard_catches_a_result_wrong_only_on_a_later_call(tmp_path, later_call):
    pytest.importorskip("torch")
    case = registry.get("_selftest_stale")
    settings = runner.Settings(log_dir=str(tmp_path), later_call=later_call)
    workers = {name: _InProcess(name, case.name) for name in ("tinymm-numpy", "torch")}
    fws = {name: {"status": "ok"} for name in workers}
    runner._guard(case, settings, workers, fws, lambda msg: None)
    got = fws["tinymm-numpy"]
    if later_call == 0:
        assert got["check_status"] == "passed"          # call 1 alone cannot see it
        assert "tinymm-numpy" in workers
    else:
        assert got["status"] == "FAILED-CHECK" and got["check_status"] == "FAILED"
        assert got["check"].startswith("call 3:") and "tinymm-numpy" not in workers
    assert fws["torch"]["check_status"] == "reference"
    assert not list(tmp_path.glob("*.npz"))              # the guard cleans up


# ---------------------------------------------------------------------------- targets
def test_targets_follow_issue_16():
    texts = [t[0] for t in report.TARGETS]
    for needle in ("seed-model Adam step <= 0.9", "224² (batch 8) <= 1.0", "64->128 at 16² <= 1.2",
                   "3->64 at 32² <= 1.3", "max_pool2d <= 0.8", "avg_pool2d <= 0.8",
                   "softmax <= 1.0", "log_softmax <= 1.0", "cross-entropy <= 1.0",
                   "layer_norm <= 1.2", "SDPA <= 1.2", "Adam <= 1.0 against fused=True",
                   "AdamW <= 1.0 against fused=True", "2x PyTorch's first step",
                   "`tinymm train` <= 1.2x", "peak memory above the process's baseline"):
        assert any(needle in t for t in texts), needle
    names = {c.name for c in registry.all_cases()}
    for case in {t[1] for t in report.TARGETS} - {"*model", "startup_train"}:
        assert case in names or case.startswith("startup_"), case


def test_memory_target_takes_the_worst_model_case():
    def mrow(name, numba_mb, torch_mb):
        r = _row(name, 1.0, 1.0, group="model",
                 mem_increment={"increment_mb": numba_mb, "baseline_mb": 100.0, "exact": True})
        r["frameworks"]["torch"]["mem_increment"] = {"increment_mb": torch_mb,
                                                     "baseline_mb": 300.0, "exact": True}
        return r

    rows = [mrow("m1", 50.0, 100.0), mrow("m2", 150.0, 100.0)]
    t = next(t for t in report.evaluate_targets(rows) if t["case"] in ("m1", "m2"))
    assert t["case"] == "m2" and t["value"] == pytest.approx(1.5) and t["met"] is False
    rows = [mrow("m1", 50.0, 100.0)]
    t = next(t for t in report.evaluate_targets(rows) if t["case"] == "m1")
    assert t["met"] is True
    table = report.memory_table(rows)
    assert "| `m1` | 50 (100) | 100 (300) | 0.50 | — / — |" in table
    rows[0]["frameworks"]["tinymm-numba"]["mem_increment"]["runtime_mb"] = 62.0
    rows[0]["frameworks"]["torch"]["mem_increment"]["runtime_mb"] = 2.0
    assert "| `m1` | 50 (100) | 100 (300) | 0.50 | 62 / 2 |" in report.memory_table(rows)


# ----------------------------------------------------------------------------- memory
def test_memory_increment_sees_a_transient_allocation():
    import mmap

    kept = []

    def work():
        big = np.ones(48 * 2**20 // 8)          # 48 MiB, touched, then freed
        # 1 MiB kept per call, in fresh pages: from malloc, a 1 MiB block can land in heap
        # memory an earlier test freed but left resident, and RSS would not grow (seen in CI)
        page = mmap.mmap(-1, 2**20)
        page.write(b"\1" * 2**20)
        kept.append(page)
        return float(big[-1])

    res = memory.measure_increment(work, steps=2)
    if not res.get("exact"):
        pytest.skip(f"peak reset not possible here: {res['method']}")
    assert 47.0 <= res["increment_mb"] <= 48.0 + 30.0
    assert 47.0 <= res["steady_step_mb"] <= 48.0 + 30.0
    assert 1.5 <= res["retained_mb"] <= 10.0
    assert 0.5 <= res["after_first_mb"] <= 6.0             # the freed 48 MiB is not kept
    idle = memory.measure_increment(lambda: None, steps=2)
    assert idle["increment_mb"] < 8.0
    with pytest.raises(ValueError, match="steps must be >= 1"):
        memory.measure_increment(lambda: None, steps=0)


def test_runtime_start_up_is_reported_apart_from_the_increment():
    import mmap

    kept = []

    def start():                                 # 24 MiB kept, in fresh pages
        page = mmap.mmap(-1, 24 * 2**20)
        chunk = b"\1" * 2**20                   # written 1 MiB at a time: no 24 MiB temporary
        for _ in range(24):
            page.write(chunk)
        kept.append(page)

    res = memory.measure_increment(lambda: None, steps=2, start_runtime=start)
    if not res.get("exact"):
        pytest.skip(f"peak reset not possible here: {res['method']}")
    assert 23.0 <= res["runtime_mb"] <= 30.0
    assert res["increment_mb"] < 8.0                         # not charged to the work
    assert res["increment_with_runtime_mb"] == pytest.approx(
        res["increment_mb"] + res["runtime_mb"])
    with pytest.raises(TypeError, match="start_runtime must be callable"):
        memory.measure_increment(lambda: None, steps=1, start_runtime=3)


def test_numba_runtime_start_up_touches_no_tinymm_kernel():
    # in a fresh process, where no kernel module is imported yet (tinymm imports them as
    # tinymm.kernels.jit.*): the probe must start Numba without loading any of them
    pytest.importorskip("numba")
    import subprocess

    from benchmarks import runner

    code = ("import sys; from benchmarks import frameworks; "
            "fw = frameworks.make('tinymm-numba', 1); fw.start_runtime(); "
            "print(sorted(m for m in sys.modules if '.jit.' in m and 'kernels' in m))")
    out = subprocess.run([sys.executable, "-c", code], env=runner.bench_env(1), cwd=runner.REPO,
                         capture_output=True, text=True, timeout=300, check=True).stdout.split("\n")
    assert out[0] == "[]"


# --------------------------------------------------------------------- compile accounting
def test_compile_times_count_nested_kernels_once():
    def ev(start, name, args=("float32",)):
        disp = SimpleNamespace(py_func=SimpleNamespace(__module__="k", __qualname__=name))
        return SimpleNamespace(is_start=start, data={"dispatcher": disp, "args": args})

    buf = [(0.0, ev(True, "outer")), (1.0, ev(True, "inner")), (3.0, ev(False, "inner")),
           (4.0, ev(False, "outer")), (5.0, ev(True, "outer", ("int64",))),
           (5.5, ev(False, "outer"))]
    got = first_step.compile_times(buf)
    assert got == {"k.outer(float32)": 2.0, "k.inner(float32)": 2.0, "k.outer(int64)": 0.5}


# ----------------------------------------------------------------------------- scaling
def test_scaling_cases_are_separate_and_tabulated(tmp_path):
    default = {c.name for c in registry.select()}
    scaling = registry.select(scaling=True)
    assert scaling and all(c.group == "scaling" for c in scaling)
    assert not default & {c.name for c in scaling}
    assert not any(c.group == "scaling" for c in registry.select(quick=True))
    assert [c.name for c in registry.select(["scale_mha_L16"], quick=True, scaling=True)] == [
        "scale_mha_L16_fb"]                              # --scaling --quick keeps the series
    xs = dict(cases_scaling.SERIES)
    assert [x for x, _ in xs["mha_seq"][1]] == [16, 32, 64, 128, 256, 512]
    assert [x for x, _ in xs["seed_batch"][1]] == [8, 16, 32, 64, 128]
    rows = [_row("scale_mha_L16_fb", 2.0, 1.0), _row("scale_mha_L32_fb", 3.0, 4.0)]
    table = cases_scaling.series_table(rows)
    assert "| 16 | 1 | 2 | 2.00 |" in table and "| 32 | 4 | 3 | 0.75 |" in table
    note = cases_scaling.write_png(tmp_path / "s.png", rows)
    assert note is None and (tmp_path / "s.png").stat().st_size > 1000 or "matplotlib" in note


def test_results_markdown_embeds_scaling_and_alternative_columns():
    row = _row("softmax_fb", 2.0, 1.0, check_status="passed")
    row["frameworks"]["mygrad"] = _fw(4.0, check_status="passed")
    row["frameworks"]["tinygrad"] = {"status": "unavailable",
                                     "error": "ImportError: tinygrad has no usable device"}
    runner._ratios(row)
    assert row["ratio_vs_torch"]["mygrad"] == pytest.approx(4.0)
    table = report.markdown_table([row])
    lines = table.splitlines()
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "mygrad / torch" in lines[0] and "| 4.00 |" in lines[2]
    assert "unavailable: tinygrad has no usable device" in lines[2]
    assert "torch.compile" not in lines[0]              # absent framework: no column
    payload = _payload([row])
    payload["machine"].update(logical_cpus=2, platform="p", versions={})
    payload.update(settings={"threads": 2}, targets=[],
                   scaling=_payload([_row("scale_lstm_L16_fb", 3.0, 2.0)]))
    md = report.results_markdown(payload)
    assert "## How cost grows (scaling)" in md and "| 16 | 2 | 3 | 1.50 |" in md
    assert "(scaling figure)" in md                      # run.py swaps in the image link


def test_startup_details_name_the_slowest_kernels():
    row = {"name": "startup_cold_seed_step_b32_32", "group": "startup", "frameworks": {
        "tinymm-numba": {"detail": {"first_step_s": 9.0, "kernel_compile_s": {
            "tinymm.kernels.jit.conv._im2col(array(float32, 4d, C), int64)": 3.0,
            "numba.cpython.builtins.ol_min.<locals>.impl(int64)": 0.5}}}}}
    text = report.startup_details([row])
    assert "2 kernel signatures compiled, 3.5 s in all" in text
    assert "conv._im2col 3.0" in text and "impl 0.5" in text


def test_optional_frameworks_are_never_required():
    from benchmarks import frameworks
    from benchmarks.worker import UNAVAILABLE

    with pytest.raises(UNAVAILABLE):          # missing package, no device, or no mapping
        frameworks.make("tinygrad", 1)
    with pytest.raises(ValueError, match="must be one of"):
        frameworks.make("jax", 1)


@pytest.mark.parametrize("case", ["softmax_fb", "max_pool2d_fb"])
def test_mygrad_adapter_agrees_with_torch(tmp_path, case):
    pytest.importorskip("mygrad")
    pytest.importorskip("torch")
    workers = {name: _InProcess(name, case) for name in ("mygrad", "torch")}
    fws = {name: {"status": "ok"} for name in workers}
    runner._guard(registry.get(case), runner.Settings(log_dir=str(tmp_path)), workers, fws,
                  lambda msg: None)
    assert fws["mygrad"]["check_status"] == "passed", fws["mygrad"]


def test_provenance_libraries_probe_reads_what_a_worker_sees():
    pytest.importorskip("torch")
    lib = provenance.libraries(runner.bench_env(1), 1)
    assert "error" not in lib, lib
    assert lib["numpy_blas"] and lib["torch_num_threads"] == 1
    assert lib["numba_threading_layer"] in ("omp", "tbb", "workqueue")
    assert lib["numba_num_threads"] == 1                  # NUMBA_NUM_THREADS of the env


# ----------------------------------------------------------------------------- allocator
def test_allocator_settings_are_the_same_for_every_worker(monkeypatch):
    from benchmarks import runner

    for var in runner.SAME_ALLOCATOR:
        monkeypatch.delenv(var, raising=False)
    same = runner.bench_env(2)                                  # the default
    assert same["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20)
    assert same["MALLOC_TRIM_THRESHOLD_"] == str(512 << 20)
    dynamic = runner.bench_env(2, allocator="glibc-default")
    assert not set(runner.SAME_ALLOCATOR) & set(dynamic)
    assert runner.Settings().allocator == "same"
    with pytest.raises(ValueError, match="allocator must be one of same, glibc-default, got 'x'"):
        runner.bench_env(2, allocator="x")


def test_memory_baseline_excludes_free_heap_left_by_the_set_up(monkeypatch):
    def garbage():
        # set-up garbage: 64 MiB of 64 KiB arrays (heap blocks, below any mmap threshold),
        # freed under a live block allocated after them, so the heap cannot shrink by itself
        junk = [np.ones(2**13) for _ in range(1024)]
        pin = np.ones(2**13)
        del junk
        return pin

    def work():       # needs 48 MiB in 64 KiB blocks: the free heap above could serve it
        held = [np.ones(2**13) for _ in range(768)]
        return len(held)

    pin = garbage()
    res = memory.measure_increment(work, steps=1)
    if not res.get("exact"):
        pytest.skip(f"peak reset not possible here: {res['method']}")
    if not res.get("heap_trimmed"):
        pytest.skip("malloc_trim is glibc's: not available here")
    assert res["increment_mb"] >= 40.0
    # the control: without the trim, the same work reads as (almost) free
    monkeypatch.setattr(memory, "release_free_heap", lambda: False)
    pin2 = garbage()
    assert memory.measure_increment(work, steps=1)["increment_mb"] < 16.0
    del pin, pin2
