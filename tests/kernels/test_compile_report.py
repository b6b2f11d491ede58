"""kernels/compile_report.py: compiles are recorded per kernel and signature, nested compiles
charged to the callee, and the report lists each family's warm-up."""

import numpy as np
import pytest

from tinymm import kernels

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")


def test_compile_timer_records_kernel_signature_and_nested_time():
    from numba import njit
    from numba.core import event
    from tinymm.kernels.compile_report import _CompileTimer

    @njit  # no cache: always compiles
    def inner(a):
        return a * 2.0

    @njit
    def outer(a):
        return inner(a) + 1.0

    timer = _CompileTimer()

    class Listener(event.Listener):
        def on_start(self, ev):
            timer.on_start(ev)

        def on_end(self, ev):
            timer.on_end(ev)

    with event.install_listener("numba:compile", Listener()):
        assert outer(np.float32(1.5)) == np.float32(4.0)
    by_name = {r["kernel"].rsplit(".", 1)[-1]: r for r in timer.records}
    assert set(by_name) >= {"inner", "outer"}
    assert "float32" in by_name["outer"]["signature"]
    out, inn = by_name["outer"], by_name["inner"]
    assert 0 <= out["self_s"] <= out["total_s"]
    # outer's compile contains inner's: its total covers both self times (rounding 1e-4)
    assert out["total_s"] >= out["self_s"] + inn["self_s"] - 2e-4


def test_report_lists_the_families_it_warmed_up():
    from tinymm.kernels.compile_report import compile_report

    report = compile_report(cold=False, families=("optim",))
    assert set(report) == {"families", "kernels", "compile_s", "total_s"}
    assert list(report["families"]) == ["optim"]
    for r in report["kernels"]:
        assert set(r) == {"kernel", "signature", "self_s", "total_s"}
        assert 0 <= r["self_s"] <= r["total_s"]
    assert [r["self_s"] for r in report["kernels"]] == sorted(
        (r["self_s"] for r in report["kernels"]), reverse=True)  # slowest first
    assert report["compile_s"] == pytest.approx(sum(r["self_s"] for r in report["kernels"]),
                                                abs=1e-3)
