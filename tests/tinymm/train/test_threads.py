"""Thread-pool limits for applications: set, read back, restore."""

import numpy as np
import pytest

from tinymm.train.threads import get_num_threads, num_threads, set_num_threads


def test_num_threads_sets_and_restores_every_pool():
    before = get_num_threads()
    assert "numba" in before  # numba is a dependency
    with num_threads(1):
        assert set(get_num_threads().values()) == {1}
        a = np.ones((64, 64), np.float32)
        assert (a @ a == 64).all()  # BLAS still works single-threaded
    assert get_num_threads() == before


def test_set_num_threads_rejects_bad_counts():
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
        set_num_threads(0)
    with pytest.raises(ValueError, match="set_num_threads"):
        set_num_threads(True)
