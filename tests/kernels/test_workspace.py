"""kernels/workspace.py: the checking mode really poisons, and escapes are caught.

The toy op below breaks the workspace rule on purpose (it returns a view of its scratch
buffer): outside the checking mode the escape is silent (call 1's result changes when call 2
runs), inside it call 1's result turns into NaN and autograd names the op.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from tinymm.kernels import workspace as ws

import tinymm as tm
from tinymm.autograd import Function


def _escaping_double(x: np.ndarray) -> np.ndarray:
    """2·x computed in a workspace and returned WITHOUT copying out: breaks the rule."""
    y = ws.workspace("test.escape", x.shape, x.dtype)
    np.multiply(x, 2, out=y)
    return y


class _EscapingDouble(Function):
    @staticmethod
    def forward(ctx, x):
        return _escaping_double(x)

    @staticmethod
    def backward(ctx, grad):
        return 2 * grad


class _SavesScratch(Function):
    @staticmethod
    def forward(ctx, x):
        scratch = ws.workspace("test.saved", x.shape, x.dtype)
        np.copyto(scratch, x)
        ctx.save_for_backward(scratch[::2])  # a view of the buffer, saved: breaks the rule
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


@pytest.fixture
def not_checking(monkeypatch):
    """Run a test with the checking mode off, even in the CI run that sets it globally."""
    monkeypatch.setattr(ws, "_checking", 0)


def test_escape_is_silent_without_checking(not_checking):
    first = _escaping_double(np.ones(4))
    _escaping_double(np.full(4, 5.0))
    np.testing.assert_array_equal(first, 10.0)  # call 1's result silently became call 2's


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checking_poisons_every_hand_out(not_checking, dtype):
    with ws.checking():
        assert ws.checking_enabled()
        first = _escaping_double(np.ones(3, dtype))
        np.testing.assert_array_equal(first, 2.0)  # written after the hand-out: fine
        ws.workspace("test.escape", (2,), dtype)  # handed out again, smaller: still poisoned
        assert np.isnan(first).all()
    assert not ws.checking_enabled()


def test_checking_poisons_integers_recognisably(not_checking):
    with ws.checking():
        assert (ws.workspace("test.int", (5,), np.int64) == -1).all()


def test_checking_is_reentrant(not_checking):
    with ws.checking():
        with ws.checking():
            assert ws.checking_enabled()
        assert ws.checking_enabled()
    assert not ws.checking_enabled()


def test_autograd_names_an_op_whose_output_escapes(not_checking):
    x = tm.tensor(np.ones(3), requires_grad=True)
    assert _EscapingDouble.apply(x).data[0] == 2.0  # no check outside the mode
    with ws.checking(), pytest.raises(RuntimeError, match="_EscapingDouble.forward.*workspace"):
        _EscapingDouble.apply(x)


def test_autograd_names_an_op_that_saves_a_workspace_view(not_checking):
    x = tm.tensor(np.ones(4), requires_grad=True)
    with ws.checking(), pytest.raises(RuntimeError, match="_SavesScratch.forward.*workspace"):
        _SavesScratch.apply(x)


def test_check_no_escape_accepts_fresh_arrays_and_copies(not_checking):
    scratch = ws.workspace("test.copy", (3, 4), np.float64)
    fresh = np.empty((4, 3))
    np.copyto(fresh, scratch.T)
    ws.check_no_escape("test", [fresh, fresh.T, fresh[1:], None, 3.0])
    with pytest.raises(RuntimeError, match="test: .*shape \\(4, 3\\)"):
        ws.check_no_escape("test", [scratch.T])


def test_environment_variable_turns_checking_on():
    code = "from tinymm.kernels import workspace as w; print(w.checking_enabled())"
    env = dict(os.environ, TINYMM_CHECK_WORKSPACE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "True"
    env["TINYMM_CHECK_WORKSPACE"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"
