"""kernels/jit/rowmath.py: the ``bitcast`` intrinsic the polynomial exp and the row max use."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError
from tinymm.kernels.jit.rowmath import bitcast, exp_nonpos, max_from_keys


@njit(cache=False)
def _cast(value, to):
    return bitcast(value, to)


@given(st.floats(width=32, allow_nan=False))
def test_bitcast_float32_matches_numpy_view(v):
    want = np.array([v], np.float32).view(np.int32)[0]
    got = _cast(np.float32(v), np.int32)
    assert isinstance(got, int) and got == want
    assert np.float32(_cast(np.int32(got), np.float32)).tobytes() == np.float32(v).tobytes()


@given(st.floats(allow_nan=False))
def test_bitcast_float64_matches_numpy_view(v):
    want = np.array([v], np.float64).view(np.int64)[0]
    assert _cast(np.float64(v), np.int64) == want
    assert np.float64(_cast(np.int64(want), np.float64)).tobytes() == np.float64(v).tobytes()


def test_bitcast_refuses_different_widths():
    with pytest.raises(TypingError):
        _cast(np.float32(1.0), np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_and_row_max_through_bitcast(dtype):
    tp = dtype
    x = np.array([0.0, -1e-3, -0.5, -1.0, -10.0, -80.0], dtype)
    got = np.array([exp_nonpos(v, tp) for v in x])
    np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=3e-7 if tp is np.float32
                               else 1e-14)
    assert exp_nonpos(tp(-np.inf), tp) == 0.0
    assert np.isnan(exp_nonpos(tp(np.nan), tp))
    row = np.array([-3.0, 2.5, -0.0, 1.0], dtype)
    keys = row.view(np.int32 if tp is np.float32 else np.int64)
    assert max_from_keys(keys.max(), keys.min(), tp) == 2.5
    neg = np.array([-3.0, -2.5, -7.0], dtype)
    nk = neg.view(np.int32 if tp is np.float32 else np.int64)
    assert max_from_keys(nk.max(), nk.min(), tp) == -2.5
