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

    before, min_chunk = numba.get_num_threads(), mod.MIN_CHUNK
    mod.MIN_CHUNK = 1 << 16  # small enough that the inputs below are split on two threads
    yield numba, mod
    mod.MIN_CHUNK = min_chunk
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


def test_row_kernels_give_the_same_bits_on_one_and_two_threads(threads, monkeypatch):
    """softmax, log-softmax and cross-entropy split rows over threads; a row's result does
    not depend on the split."""
    import numpy as np
    from tinymm.kernels.jit import softmax as jit_softmax

    numba, mod = threads
    monkeypatch.setattr(jit_softmax, "ROWS_MIN_CHUNK", 1 << 16)
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((1024, 300))).astype(np.float32)  # 300K elements: split
    if numba.config.NUMBA_NUM_THREADS >= 2:
        numba.set_num_threads(2)
        assert len(mod.chunks(1024, x.size, jit_softmax.ROWS_MIN_CHUNK)) == 2
    g = rng.standard_normal(x.shape).astype(np.float32)
    t = rng.integers(0, 300, 1024)
    t[::7] = -100  # ignored rows
    gr = rng.random(1024).astype(np.float32)

    def run():
        k = {n: kernels.get(n, "numba") for n in kernels.names("numba") if "softmax" in n
             or "cross_entropy" in n}
        y, ly = k["softmax_forward"](x), k["log_softmax_forward"](x)
        loss, logp = k["cross_entropy_forward"](x, t, 0.1, -100)
        return (y, ly, k["softmax_backward"](y, g), k["log_softmax_backward"](ly, g), loss, logp,
                k["cross_entropy_backward"](logp, t, 0.1, -100, gr))

    numba.set_num_threads(1)
    one = run()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    two = run()
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_attention_runs_on_one_thread_when_numba_has_one(threads, monkeypatch):
    """``--threads 1`` (numba.set_num_threads(1)) keeps a big attention call on the caller's
    thread; with two threads it uses two, and the results are the same bits."""
    import numpy as np
    from tinymm.kernels.jit import attention as att

    numba, mod = threads
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((8, 4, 128, 32)).astype(np.float32) for _ in range(3))
    seen = set()
    real = att.split_run

    def spy(work, n, size, min_size=None):
        def traced(lo, hi):
            seen.add(threading.get_ident())
            work(lo, hi)
        real(traced, n, size, min_size)

    monkeypatch.setattr(att, "split_run", spy)
    numba.set_num_threads(1)
    out1, p1 = att.attention_forward(q, k, v, 0.2)
    assert seen == {threading.get_ident()}
    if numba.config.NUMBA_NUM_THREADS >= 2:
        seen.clear()
        numba.set_num_threads(2)
        out2, p2 = att.attention_forward(q, k, v, 0.2)
        assert len(seen) == 2
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(out1, out2)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_gives_the_same_bits_on_one_and_two_threads(threads, amsgrad):
    import numpy as np

    numba, _ = threads
    rng = np.random.default_rng(0)
    n = 600_000  # above 2 * MIN_CHUNK (lowered by the fixture): cut into element ranges
    g = rng.standard_normal(n).astype(np.float32)

    def run():
        p = np.linspace(-1, 1, n, dtype=np.float32)
        m, v, vmax = (np.zeros(n, np.float32) for _ in range(3))
        for step in (1, 2):
            kernels.get("adam_step", "numba")(p, g, m, v, vmax, step, 1e-3, 0.9, 0.999, 1e-8,
                                              0.01, True, amsgrad, False)
        return p, m, v, vmax

    numba.set_num_threads(1)
    one = run()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    two = run()
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_activations_give_the_same_bits_on_one_and_two_threads(threads):
    import numpy as np

    numba, _ = threads
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(300_000)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)

    def run():
        out = []
        for name in ("relu", "silu", "gelu_tanh", "mish"):
            out.append(kernels.get(f"{name}_forward", "numba")(x))
            out.append(kernels.get(f"{name}_backward", "numba")(g, x))
        out.append(kernels.get("leaky_relu_backward", "numba")(g, x, 0.1))
        return out

    numba.set_num_threads(1)
    one = run()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    two = run()
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_adam_steps_split_once_across_parameters_gives_the_same_bits(threads, monkeypatch):
    # adam_steps cuts the parameters laid end to end: with a small ADAM_MIN_CHUNK the cut
    # falls inside a parameter and both threads run pieces of several; bits must not change.
    import numpy as np
    from tinymm.kernels.jit import optim as jit_optim

    numba, _ = threads
    monkeypatch.setattr(jit_optim, "ADAM_MIN_CHUNK", 1 << 10)
    rng = np.random.default_rng(1)
    sizes = [3000, 17, 5000, 1, 4100]
    seen = set()
    real_loop = jit_optim._adam_loop

    class Spy:  # records which threads ran the loop
        def __call__(self, *a):
            seen.add(threading.get_ident())
            return real_loop(*a)

    monkeypatch.setattr(jit_optim, "_adam_loop", Spy())

    gs = [rng.standard_normal(n).astype(np.float32) for n in sizes]

    def run():
        ps = [np.linspace(-1, 1, n, dtype=np.float32) for n in sizes]
        ms = [np.zeros(n, np.float32) for n in sizes]
        vs = [np.zeros(n, np.float32) for n in sizes]
        for step in (1, 2):
            jit_optim.adam_steps(ps, gs, ms, vs, None, [step] * len(sizes), 1e-3, 0.9, 0.999,
                                 1e-8, 0.01, True, False, False)
        return ps + ms + vs

    numba.set_num_threads(1)
    one = run()
    assert len(seen) == 1
    if numba.config.NUMBA_NUM_THREADS >= 2:
        seen.clear()
        numba.set_num_threads(2)
        two = run()
        assert len(seen) == 2
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)
