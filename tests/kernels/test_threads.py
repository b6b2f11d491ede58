"""kernels/jit/threads.py: how calls are cut into chunks, that the thread count is Numba's
(``set_num_threads(1)`` makes every call serial), and that errors of any chunk surface."""

import threading

import pytest

from tinymm import kernels

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not available")


@pytest.fixture
def threads():
    numba = pytest.importorskip("numba")
    from tinymm.kernels.jit import threads as mod

    before = numba.get_num_threads()
    yield numba, mod
    numba.set_num_threads(before)


def test_chunks_cover_the_range_once_and_follow_numba_threads(threads):
    numba, mod = threads
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to see a split")
    numba.set_num_threads(2)
    parts = mod.chunks(7, 10 * mod.MIN_CHUNK)
    assert parts == [(0, 4), (4, 7)]
    assert mod.chunks(7, mod.MIN_CHUNK) == [(0, 7)]  # too small to be worth a thread
    assert mod.chunks(1, 10 * mod.MIN_CHUNK) == [(0, 1)]  # one row cannot be split
    numba.set_num_threads(1)
    assert mod.chunks(7, 10 * mod.MIN_CHUNK) == [(0, 7)]  # --threads 1 is honoured


def test_split_run_runs_every_chunk_once_on_distinct_threads(threads):
    numba, mod = threads
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to see a split")
    numba.set_num_threads(2)
    seen = []
    lock = threading.Lock()

    def work(lo, hi):
        with lock:
            seen.append((lo, hi, threading.get_ident()))

    mod.split_run(work, 10, 10 * mod.MIN_CHUNK)
    assert sorted((lo, hi) for lo, hi, _ in seen) == [(0, 5), (5, 10)]
    assert len({t for *_, t in seen}) == 2
    assert threading.get_ident() in {t for *_, t in seen}  # the caller runs one chunk


def test_split_run_reraises_an_error_of_a_pool_chunk(threads):
    numba, mod = threads
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to see a split")
    numba.set_num_threads(2)

    def work(lo, hi):
        if lo > 0:
            raise IndexError("chunk failed")

    with pytest.raises(IndexError, match="chunk failed"):
        mod.split_run(work, 4, 10 * mod.MIN_CHUNK)
