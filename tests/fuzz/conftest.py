"""Fuzz outcome summary: cases tried and outcomes by kind, printed at the end of the run and
written to ``<pytest basetemp>/fuzz_outcomes.json``."""

from __future__ import annotations

import json

import pytest

from fuzz.runner import BY_ATTACK, COUNTS


def _summary() -> dict:
    return {"cases": sum(COUNTS.values()),
            "outcomes": {k: COUNTS.get(k, 0)
                         for k in ("result", "named error", "other", "known bug")},
            "by_attack": {f"{a} / {k}": n for (a, k), n in sorted(BY_ATTACK.items())}}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not COUNTS:
        return
    s = _summary()
    o = s["outcomes"]
    terminalreporter.write_sep("-", "tinymm API fuzz")
    terminalreporter.write_line(f"fuzz cases tried: {s['cases']}; results: {o['result']}, "
                                f"named errors: {o['named error']}, anything else: {o['other']}"
                                + (f" (plus {o['known bug']} in strictly xfailed known bugs)"
                                   if o["known bug"] else ""))
    try:
        path = config._tmp_path_factory.getbasetemp() / "fuzz_outcomes.json"
        path.write_text(json.dumps(s, indent=1))
        terminalreporter.write_line(f"fuzz outcomes by attack: {path}")
    except Exception:  # noqa: BLE001 - the summary file is a convenience
        pass


@pytest.fixture(scope="session", autouse=True)
def _torch_single_thread():
    """PyTorch on one thread: its thread pool on a busy machine costs ~1 s per small call."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
