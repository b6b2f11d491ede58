"""Attention kernels: Numba twin == NumPy reference; reference backward == finite differences.

Tolerances: both twins are compared with the reference kernel run in wider precision on
the same inputs, within first-order rounding-error bounds (``tests/kernel_bounds.py``:
γ_k bounds of the matrix products, the softmax's own bound and its Jacobian applied to the
scores' error); finite differences (float64, central, h=1e-6) rtol 1e-6, atol 1e-8.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_bounds import attention_backward_bound, attention_forward_bound
from tinymm.kernels.jit import attention as jit
from tinymm.kernels.reference import attention as ref

from tinymm import kernels
from tinymm.testing import tolerance as tol


def _check_twins(outs, q, k, v, scale, mask, causal, drop, go, gw):
    """Each backend's (O, P, dQ, dK, dV) within its bound of the wide reference; backward's
    reference takes the backend's own P, the input that backward really received."""
    wide = tol.reference_inputs(q, k, v, mask, drop)
    reference = ref.attention_forward(*wide[:3], scale, wide[3], causal, wide[4])
    bounds = attention_forward_bound(q, k, v, scale, mask, causal, drop, reference)
    labels = ("out", "probs", "grad_query", "grad_key", "grad_value")
    for backend, results in outs.items():
        for label, got, want, bound in zip(labels, results[:2], reference, bounds):
            assert got.shape == want.shape
            tol.assert_close_to_reference(got, want, bound, name=f"attention {label} ({backend})")
        if len(results) > 2:
            grads, grad_bounds = attention_backward_bound(go, q, k, v, results[1], scale, drop, gw)
            for label, got, want, bound in zip(labels[2:], results[2:], grads, grad_bounds):
                assert got.shape == want.shape
                tol.assert_close_to_reference(got, want, bound,
                                              name=f"attention {label} ({backend})")


def _fwd(backend):
    return kernels.get("attention_forward", backend)


def _bwd(backend):
    return kernels.get("attention_backward", backend)


def _random_mask(rng, shape, dtype, p_masked=0.3):
    """Additive mask with some -inf entries and some finite offsets."""
    finite = rng.standard_normal(shape)
    return np.where(rng.random(shape) < p_masked, -np.inf, finite).astype(dtype)


@st.composite
def attention_case(draw):
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    L, S = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    E, Ev = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    mask_kind = draw(st.sampled_from(["none", "full", "LS", "1S", "head"]))
    return dict(
        batch=batch, L=L, S=S, E=E, Ev=Ev, mask_kind=mask_kind,
        causal=draw(st.booleans()), dropout=draw(st.booleans()),
        grad_weights=draw(st.booleans()),
        scale=draw(st.sampled_from([1.0 / np.sqrt(E), 1.0, -0.5, 0.0])),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**16)),
        threaded=draw(st.booleans()),
    )


def _mask_shape(kind, batch, L, S):
    if kind == "full":
        return batch + (L, S)
    if kind == "LS":
        return (L, S)
    if kind == "1S":
        return (1, S)
    # broadcast over the last batch dim (heads), like MultiheadAttention's key_padding_mask
    return batch[:-1] + (1, 1, S) if batch else (1, S)


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    b, L, S, E, Ev, dt = case["batch"], case["L"], case["S"], case["E"], case["Ev"], case["dtype"]
    q = rng.standard_normal(b + (L, E)).astype(dt)
    k = rng.standard_normal(b + (S, E)).astype(dt)
    v = rng.standard_normal(b + (S, Ev)).astype(dt)
    mask = None
    if case["mask_kind"] != "none":
        mask = _random_mask(rng, _mask_shape(case["mask_kind"], b, L, S), dt)
    drop = None
    if case["dropout"]:
        drop = ((rng.random(b + (L, S)) > 0.25) / 0.75).astype(dt)
    go = rng.standard_normal(b + (L, Ev)).astype(dt)
    gw = rng.standard_normal(b + (L, S)).astype(dt) if case["grad_weights"] else None
    return q, k, v, mask, drop, go, gw


@settings(deadline=None)
@given(attention_case())
def test_numba_matches_reference(case):
    q, k, v, mask, drop, go, gw = _inputs(case)
    outs = {}
    saved = jit.THREADED_MIN_SIZE
    for backend in ("numba", "numpy"):
        # small cases run on one thread unless the threshold is lowered
        jit.THREADED_MIN_SIZE = 0 if case["threaded"] else saved
        try:
            out, probs = _fwd(backend)(q, k, v, case["scale"], mask, case["causal"], drop)
            grads = _bwd(backend)(go, q, k, v, probs, case["scale"], drop, gw)
        finally:
            jit.THREADED_MIN_SIZE = saved
        for a in (out, probs) + tuple(grads):
            assert a.dtype == case["dtype"]
        outs[backend] = (out, probs) + tuple(grads)
    _check_twins(outs, q, k, v, case["scale"], mask, case["causal"], drop, go, gw)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_probabilities_are_a_masked_softmax(backend):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 5, 4)) for _ in range(3))
    mask = _random_mask(rng, (5, 5), np.float64)
    mask[:, 0] = 0.0  # no fully masked rows here
    out, probs = _fwd(backend)(q, k, v, 0.5, mask, True, None)
    scores = q @ k.transpose(0, 2, 1) * 0.5 + mask
    scores = np.where(np.tril(np.ones((5, 5), bool)), scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)
    assert np.all(probs[:, np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)
    np.testing.assert_allclose(out, probs @ v, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fully_masked_rows_give_zeros(backend, dtype):
    """As PyTorch's scaled_dot_product_attention: a row with every key masked gives 0."""
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((3, 4, 6)).astype(dtype) for _ in range(3))
    mask = np.zeros((3, 4, 4), dtype)
    mask[1, 2, :] = -np.inf
    out, probs = _fwd(backend)(q, k, v, 0.4, mask, False, None)
    assert np.all(probs[1, 2] == 0) and np.all(out[1, 2] == 0)
    assert np.isfinite(out).all() and np.isfinite(probs).all()
    gq, gk, gv = _bwd(backend)(np.ones_like(out), q, k, v, probs, 0.4, None, None)
    assert np.all(gq[1, 2] == 0)
    assert all(np.isfinite(g).all() for g in (gq, gk, gv))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_scores_do_not_overflow(backend, dtype):
    q = np.array([[[1000.0, -2000.0], [0.5, 3000.0]]], dtype)
    k = np.array([[[900.0, 1.0], [-800.0, 2.0], [1.0, 1.0]]], dtype)
    v = np.arange(6, dtype=dtype).reshape(1, 3, 2)
    out, probs = _fwd(backend)(q, k, v, 1.0, None, False, None)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_strided_inputs(backend):
    """query/key/value and grad_output may be non-contiguous views (only used in matmuls)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 3, 8)).astype(np.float32)  # (L, N, H, E) like MHA
    q = x.transpose(1, 2, 0, 3)  # (N, H, L, E), non-contiguous
    out, probs = _fwd(backend)(q, q, q, 0.3, None, False, None)
    go = rng.standard_normal((5, 2, 3, 8)).astype(np.float32).transpose(1, 2, 0, 3)
    g = _bwd(backend)(go, q, q, q, probs, 0.3, None, None)
    qc = np.ascontiguousarray(q)
    _check_twins({backend: (out, probs, *g)}, qc, qc, qc, 0.3, None, False, None,
                 np.ascontiguousarray(go), None)


def _numeric_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f() with respect to the array x (in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("with_dropout", [False, True])
def test_reference_backward_matches_finite_differences(causal, with_mask, with_dropout):
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 4))
    k = rng.standard_normal((2, 5, 4))
    v = rng.standard_normal((2, 5, 3))
    mask = _random_mask(rng, (3, 5), np.float64) if with_mask else None
    if mask is not None:
        mask[:, 0] = 0.0  # keep every row live so the loss is smooth
    drop = ((rng.random((2, 3, 5)) > 0.3) / 0.7) if with_dropout else None
    go = rng.standard_normal((2, 3, 3))
    gw = rng.standard_normal((2, 3, 5))
    scale = 0.7

    def loss():
        out, probs = ref.attention_forward(q, k, v, scale, mask, causal, drop)
        weights = probs if drop is None else probs * drop
        return float((out * go).sum() + (weights * gw).sum())

    _, probs = ref.attention_forward(q, k, v, scale, mask, causal, drop)
    grads = ref.attention_backward(go, q, k, v, probs, scale, drop, gw)
    for analytic, x in zip(grads, (q, k, v)):
        np.testing.assert_allclose(analytic, _numeric_grad(loss, x), rtol=1e-6, atol=1e-8)


def test_broadcast_batch_dims():
    """key/value with batch dim 1 broadcast against the query's; gradients keep the
    broadcast batch shape (the autograd engine sums them back)."""
    rng = np.random.default_rng(4)
    q = rng.standard_normal((2, 3, 4, 5))
    k = rng.standard_normal((1, 3, 6, 5))
    v = rng.standard_normal((1, 3, 6, 2))
    for backend in ("numba", "numpy"):
        out, probs = _fwd(backend)(q, k, v, 0.5, None, False, None)
        assert out.shape == (2, 3, 4, 2) and probs.shape == (2, 3, 4, 6)
        gq, gk, gv = _bwd(backend)(np.ones_like(out), q, k, v, probs, 0.5, None, None)
        assert gq.shape == q.shape and gk.shape == (2, 3, 6, 5) and gv.shape == (2, 3, 6, 2)
        out_b, _ = _fwd("numpy")(q, np.broadcast_to(k, (2, 3, 6, 5)),
                                 np.broadcast_to(v, (2, 3, 6, 2)), 0.5, None, False, None)
        np.testing.assert_allclose(out, out_b, rtol=1e-12)


@pytest.mark.parametrize("dtype,lo,rtol", [(np.float32, -86.0, 1e-6), (np.float64, -700.0, 1e-13)])
def test_polynomial_exp_accuracy(dtype, lo, rtol):
    """The Numba kernels' vectorisable exp against np.exp in float64 (x <= 0 only)."""
    from numba import njit

    @njit
    def exp_all(x, out):
        for i in range(x.size):
            out[i] = jit._exp_nonpos(x[i], x.dtype.type)

    x = np.concatenate([np.linspace(lo, 0.0, 20001), -np.logspace(-12, 0, 50)]).astype(dtype)
    out = np.empty_like(x)
    exp_all(x, out)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=rtol, atol=0)
    special = np.array([-np.inf, 2 * lo, 0.0], dtype)
    exp_all(special, out[:3])
    np.testing.assert_array_equal(out[:3], [0.0, 0.0, 1.0])


def test_recycled_buffers_are_never_shared():
    """The Numba twin recycles its output buffers (P, dQ, dK, dV) only once nothing else
    refers to them: results that are still held — directly or through a view — stay intact."""
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    _, p1 = jit.attention_forward(q, k, v, 0.5)
    p1_copy = p1.copy()
    _, p2 = jit.attention_forward(q * 2, k, v, 0.5)
    assert not np.shares_memory(p1, p2)
    np.testing.assert_array_equal(p1, p1_copy)
    view, view_copy = p2[1], p2[1].copy()
    del p2
    _, p3 = jit.attention_forward(q * 3, k, v, 0.5)
    assert not np.shares_memory(view, p3)
    np.testing.assert_array_equal(view, view_copy)
    go = np.ones((2, 3, 5, 4), np.float32)
    g1 = jit.attention_backward(go, q, k, v, p1, 0.5)
    g1_copy = [g.copy() for g in g1]
    g2 = jit.attention_backward(2 * go, q, k, v, p1, 0.5)
    for a, b, c in zip(g1, g2, g1_copy):
        assert not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, c)
    del g1, g2
    _, p4 = jit.attention_forward(q, k, v, 0.5)
    np.testing.assert_allclose(p4, p1_copy, rtol=1e-6)  # a recycled buffer, fully rewritten


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_thread_halves_match_one_thread(dtype):
    """Above THREADED_MIN_SIZE the batch is split over two threads: same results, bit for bit
    (each row is computed the same way), with mask, causal, dropout and grad_weights."""
    rng = np.random.default_rng(11)
    q, k = rng.standard_normal((2, 2, 3, 7, 5)).astype(dtype)
    v = rng.standard_normal((2, 3, 7, 4)).astype(dtype)
    mask = _random_mask(rng, (2, 1, 1, 7), dtype)  # per batch element, shared across heads
    drop = ((rng.random((2, 3, 7, 7)) > 0.25) / 0.75).astype(dtype)
    go = rng.standard_normal((2, 3, 7, 4)).astype(dtype)
    gw = rng.standard_normal((2, 3, 7, 7)).astype(dtype)
    results = []
    saved = jit.THREADED_MIN_SIZE
    for threshold in (saved, 0):
        jit.THREADED_MIN_SIZE = threshold
        try:
            out, probs = jit.attention_forward(q, k, v, 0.4, mask, True, drop)
            grads = jit.attention_backward(go, q, k, v, probs, 0.4, drop, gw)
        finally:
            jit.THREADED_MIN_SIZE = saved
        results.append([a.copy() for a in (out, probs) + tuple(grads)])
    _check_twins({"numba": results[1]}, q, k, v, 0.4, mask, True, drop, go, gw)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def _forward_in_child(conn):
    """Run the threaded path in a forked child and send back its output."""
    jit.THREADED_MIN_SIZE = 0
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((4, 3, 5)) for _ in range(3))
    conn.send(jit.attention_forward(q, k, v, 0.5)[0])
    conn.close()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_threaded_path_works_after_fork():
    """A forked child (a DataLoader worker, say) has no pool thread: the pool is rebuilt there
    instead of waiting forever on the parent's."""
    import multiprocessing as mp

    saved = jit.THREADED_MIN_SIZE
    jit.THREADED_MIN_SIZE = 0
    try:
        rng = np.random.default_rng(5)
        q, k, v = (rng.standard_normal((4, 3, 5)) for _ in range(3))
        want = jit.attention_forward(q, k, v, 0.5)[0]  # the parent's pool now exists
    finally:
        jit.THREADED_MIN_SIZE = saved
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_forward_in_child, args=(child,))
    proc.start()
    assert parent.poll(60), "the forked child did not answer within 60 s"
    got = parent.recv()
    proc.join(10)
    assert proc.exitcode == 0
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(want, ref.attention_forward(q, k, v, 0.5)[0], rtol=1e-12)
