"""Embedding kernels: Numba scatter-add == NumPy reference == a dense one-hot product.

The gradient of a row is the sum of the N rows of grad_output that picked it: both twins
must lie within γ_N·Σ|terms| (``tinymm.testing.tolerance``) of the one-hot product computed
in wider precision, whatever order they add the repeats in.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinymm import kernels
from tinymm.testing import tolerance as tol


@settings(deadline=None)
@given(
    V=st.integers(1, 20),
    D=st.integers(1, 9),
    N=st.integers(0, 60),
    padding=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_backends_match_dense_one_hot(V, D, N, padding, dtype, seed):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((V, D)).astype(dtype)
    indices = rng.integers(0, V, N).astype(np.int64)  # small V: many repeats
    padding_idx = int(rng.integers(0, V)) if padding else -1
    gy = rng.standard_normal((N, D)).astype(dtype)
    one_hot = np.zeros((N, V))
    one_hot[np.arange(N), indices] = 1
    expected_grad, bound = tol.multilinear_reference(lambda g: one_hot.T @ g, gy,
                                                     n_terms=max(N, 1))  # (V, D)
    if padding_idx >= 0:
        expected_grad[padding_idx] = 0
        bound[padding_idx] = 0
    for backend in ("numba", "numpy"):
        y = kernels.get("embedding_forward", backend)(indices, weight)
        assert y.dtype == dtype and y.shape == (N, D)
        np.testing.assert_array_equal(y, weight[indices])
        gw = kernels.get("embedding_backward", backend)(gy, indices, V, padding_idx)
        assert gw.dtype == dtype and gw.shape == (V, D)
        tol.assert_close_to_reference(gw, expected_grad, bound, name=f"embedding_backward ({backend})")


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_repeated_index_accumulates_and_padding_row_is_zero(backend):
    gy = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0], [5.0, 5.0]])
    indices = np.array([2, 2, 0, 1])
    gw = kernels.get("embedding_backward", backend)(gy, indices, 4, 1)
    np.testing.assert_array_equal(gw, [[100, 200], [0, 0], [11, 22], [0, 0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_numba_gather_matches_reference_on_a_real_table(dtype, index_dtype):
    """A table the size of the seed model's (rows of 128: the copy loop's vector path)."""
    rng = np.random.default_rng(4)
    weight = rng.standard_normal((1000, 128)).astype(dtype)
    indices = rng.integers(0, 1000, 640).astype(index_dtype)
    indices[:3] = [0, 999, 0]  # both ends of the table, and a repeat
    y = {b: kernels.get("embedding_forward", b)(indices, weight) for b in ("numba", "numpy")}
    assert y["numba"].dtype == dtype and y["numba"].shape == (640, 128)
    np.testing.assert_array_equal(y["numba"], y["numpy"])


@pytest.mark.parametrize("bad", [-1, 5, 2**40])
def test_numba_kernels_reject_out_of_range_indices(bad):
    """The caller checks the range; the kernels still never touch memory outside the table."""
    weight = np.ones((5, 3))
    indices = np.array([0, bad, 1], np.int64)
    with pytest.raises(IndexError):
        kernels.get("embedding_forward", "numba")(indices, weight)
    with pytest.raises(IndexError):
        kernels.get("embedding_backward", "numba")(np.ones((3, 3)), indices, 5, 4)
