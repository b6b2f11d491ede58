"""Recurrent kernels: Numba twin == NumPy reference; reference backward == finite differences.

Tolerances: the forward outputs and saved arrays of both twins are compared with the
reference run in wider precision on the same inputs, within first-order rounding-error
bounds carried through the recurrence step by step (``tests/kernel_bounds.py``:
recurrent_forward_bound; the Numba cells' rational tanh, relative error < 3e-7, is inside
the transcendental allowance). The backward kernels, given the same saved arrays, are
straight-line programs of +, −, ×: their bound is γ_K times the same program on absolute
values (recurrent_backward_bound). Finite differences (float64, central, h=1e-6) rtol 1e-6,
atol 1e-8.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_bounds import recurrent_backward_bound, recurrent_forward_bound
from kernel_bounds.recurrent import lstm_cell_backward_bound, lstm_cell_bound
from tinymm.kernels.reference import recurrent as ref

from tinymm import kernels
from tinymm.testing import tolerance as tol

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
KINDS = tuple(GATES)


def _problem(kind, T, N, I, H, dtype, seed, bias=True, final_grads=True):
    """Random inputs, weights (PyTorch's init range) and output gradients for one kernel."""
    rng = np.random.default_rng(seed)
    G = GATES[kind] * H
    k = 1 / np.sqrt(H)

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    def uni(*shape):
        return rng.uniform(-k, k, shape).astype(dtype)

    p = dict(
        x=arr(T, N, I), h0=arr(N, H, scale=0.5), c0=arr(N, H, scale=0.5),
        w_ih=uni(G, I), w_hh=uni(G, H),
        b_ih=uni(G) if bias else None, b_hh=uni(G) if bias else None,
        grad_y=arr(T, N, H),
        grad_h_n=arr(N, H) if final_grads else None,
        grad_c_n=arr(N, H) if final_grads else None,
    )
    return p


def _run(kind, backend, p, reverse, need_input_grad=True, backward_backend=None):
    """Forward then backward; returns (forward outputs, saved arrays, gradients)."""
    backward_backend = backward_backend or backend
    fam = kind[:3] if kind.startswith("rnn") else kind
    fwd = kernels.get(f"{fam}_forward", backend)
    bwd = kernels.get(f"{fam}_backward", backward_backend)
    x, h0, c0, w_ih, w_hh = p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"]
    if kind == "lstm":
        y, h_n, c_n, gates, c = fwd(x, h0, c0, w_ih, w_hh, p["b_ih"], p["b_hh"], reverse)
        grads = bwd(p["grad_y"], p["grad_h_n"], p["grad_c_n"], x, h0, c0, w_ih, w_hh, y,
                    gates, c, reverse, need_input_grad)
        return (y, h_n, c_n), (gates, c), grads
    if kind == "gru":
        y, h_n, gates, hn = fwd(x, h0, w_ih, w_hh, p["b_ih"], p["b_hh"], reverse)
        grads = bwd(p["grad_y"], p["grad_h_n"], x, h0, w_ih, w_hh, y, gates, hn, reverse,
                    need_input_grad)
        return (y, h_n), (gates, hn), grads
    nl = kind[4:]
    y, h_n = fwd(x, h0, w_ih, w_hh, p["b_ih"], p["b_hh"], nl, reverse)
    grads = bwd(p["grad_y"], p["grad_h_n"], x, h0, w_ih, w_hh, y, nl, reverse, need_input_grad)
    return (y, h_n), (), grads


@pytest.mark.parametrize("kind", KINDS)  # every cell gets its examples (not sampled_from)
@settings(deadline=None)
@given(
    T=st.integers(1, 6),
    N=st.integers(1, 4),
    I=st.integers(1, 6),
    H=st.integers(1, 20),
    dtype=st.sampled_from([np.float32, np.float64]),
    reverse=st.booleans(),
    bias=st.booleans(),
    final_grads=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_numba_matches_reference(kind, T, N, I, H, dtype, reverse, bias, final_grads, seed):
    p = _problem(kind, T, N, I, H, dtype, seed, bias, final_grads)
    outs = {b: _run(kind, b, p, reverse) for b in ("numba", "numpy")}
    for got, want in zip(outs["numba"], outs["numpy"]):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.dtype == dtype and a.shape == b.shape
    _check_twins(kind, p, reverse, outs)


def _check_twins(kind, p, reverse, outs):
    """Forward outputs, saved arrays and gradients of each backend within their bounds of
    the wide reference; the backward reference takes the backend's own saved arrays."""
    refs, bounds = recurrent_forward_bound(kind, p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"],
                                           p["b_ih"], p["b_hh"], reverse)
    grads_in = (p["grad_y"], p["grad_h_n"]) + ((p["grad_c_n"],) if kind == "lstm" else ())
    for backend, (fwd, saved, grads) in outs.items():
        for k, (got, want, bound) in enumerate(zip(fwd + saved, refs, bounds)):
            tol.assert_close_to_reference(got, want, bound,
                                          name=f"{kind} forward output {k} ({backend})")
        g_refs, g_bounds = recurrent_backward_bound(kind, grads_in, p["x"], p["h0"], p["c0"],
                                                    p["w_ih"], p["w_hh"], fwd[0], saved, reverse)
        assert len(grads) == len(g_refs)
        for k, (got, want, bound) in enumerate(zip(grads, g_refs, g_bounds)):
            tol.assert_close_to_reference(got, want, bound,
                                          name=f"{kind} backward output {k} ({backend})")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_matches_reference_wide(kind, dtype):
    """H = 37 runs the cells' vector loops and their remainders; T = 9 compounds errors."""
    p = _problem(kind, 9, 5, 11, 37, dtype, seed=3)
    for reverse in (False, True):
        outs = {b: _run(kind, b, p, reverse) for b in ("numba", "numpy")}
        _check_twins(kind, p, reverse, outs)


@pytest.mark.parametrize("kind", KINDS)
def test_saved_arrays_cross_backends(kind):
    """Both twins save the same arrays, so a forward on one backend may be followed by a
    backward on the other (``with tm.backend(...)`` may end between the two)."""
    p = _problem(kind, 4, 3, 5, 6, np.float64, seed=1)
    runs = {f"{fwd} forward, {bwd} backward": _run(kind, fwd, p, True, backward_backend=bwd)
            for fwd, bwd in (("numba", "numpy"), ("numpy", "numba"))}
    _check_twins(kind, p, True, runs)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("kind", KINDS)
def test_skipping_input_grad(kind, backend):
    p = _problem(kind, 3, 2, 4, 5, np.float64, seed=2)
    full = _run(kind, backend, p, False)[2]
    lean = _run(kind, backend, p, False, need_input_grad=False)[2]
    assert lean[0] is None
    for a, b in zip(full[1:], lean[1:]):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- reference maths


def _reference_loss(kind, p, reverse):
    """Σ grad_y·y + Σ grad_h_n·h_n (+ Σ grad_c_n·c_n): its gradient is what backward returns."""
    outs = _run_forward_only(kind, p, reverse)
    total = np.sum(p["grad_y"] * outs[0]) + np.sum(p["grad_h_n"] * outs[1])
    if kind == "lstm":
        total += np.sum(p["grad_c_n"] * outs[2])
    return total


def _run_forward_only(kind, p, reverse):
    x, h0, w_ih, w_hh, b_ih, b_hh = (p[k] for k in ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"))
    if kind == "lstm":
        return ref.lstm_forward(x, h0, p["c0"], w_ih, w_hh, b_ih, b_hh, reverse)[:3]
    if kind == "gru":
        return ref.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)[:2]
    return ref.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, kind[4:], reverse)


def _numeric_grad(f, x, h=1e-6):
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return grad


@pytest.mark.parametrize("kind", KINDS)  # every cell gets its examples (not sampled_from)
@settings(deadline=None)
@given(
    T=st.integers(1, 4),
    N=st.integers(1, 3),
    I=st.integers(1, 3),
    H=st.integers(1, 3),
    reverse=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_reference_backward_matches_finite_differences(kind, T, N, I, H, reverse, seed):
    p = _problem(kind, T, N, I, H, np.float64, seed)
    if kind == "rnn_relu":  # keep every pre-activation away from relu's kink
        p["x"] += np.sign(p["x"]) * 0.5
    grads = _run(kind, "numpy", p, reverse)[2]
    names = ["x", "h0"] + (["c0"] if kind == "lstm" else []) + ["w_ih", "w_hh", "b_ih", "b_hh"]
    assert len(grads) == len(names)
    for name, analytic in zip(names, grads):
        numeric = _numeric_grad(lambda: _reference_loss(kind, p, reverse), p[name])
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_lstm_equations_by_hand(backend):
    """One LSTM step written out (PyTorch's gate order i, f, g, o)."""
    p = _problem("lstm", 1, 2, 3, 4, np.float64, seed=5)
    y, h_n, c_n = _run("lstm", backend, p, False)[0]
    a = p["x"][0] @ p["w_ih"].T + p["b_ih"] + p["h0"] @ p["w_hh"].T + p["b_hh"]
    i, f, g, o = np.split(a, 4, axis=1)
    sig = lambda v: 1 / (1 + np.exp(-v))
    c = sig(f) * p["c0"] + sig(i) * np.tanh(g)
    np.testing.assert_allclose(c_n, c, rtol=1e-12)
    np.testing.assert_allclose(h_n, sig(o) * np.tanh(c), rtol=1e-12)
    np.testing.assert_array_equal(y[0], h_n)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_gru_equations_by_hand(backend):
    """One GRU step written out (PyTorch's formulation: r gates W_hn h + b_hn)."""
    p = _problem("gru", 1, 2, 3, 4, np.float64, seed=6)
    _, h_n = _run("gru", backend, p, False)[0]
    gi = p["x"][0] @ p["w_ih"].T + p["b_ih"]
    gh = p["h0"] @ p["w_hh"].T + p["b_hh"]
    sig = lambda v: 1 / (1 + np.exp(-v))
    H = 4
    r = sig(gi[:, :H] + gh[:, :H])
    z = sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    np.testing.assert_allclose(h_n, (1 - z) * n + z * p["h0"], rtol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_reverse_runs_backwards_in_time(backend):
    """A reverse pass equals a forward pass over the time-reversed input, reversed back."""
    p = _problem("gru", 5, 2, 3, 4, np.float64, seed=7)
    fwd = kernels.get("gru_forward", backend)
    args = (p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    y_rev, h_rev = fwd(p["x"], *args, True)[:2]
    y_flip, h_flip = fwd(np.ascontiguousarray(p["x"][::-1]), *args, False)[:2]
    np.testing.assert_allclose(y_rev, y_flip[::-1], rtol=1e-12)
    np.testing.assert_allclose(h_rev, h_flip, rtol=1e-12)
    np.testing.assert_array_equal(h_rev, y_rev[0])


# ----------------------------------------------------------------------------- the fast maths


def test_float32_cell_tanh_accuracy():
    """RNN with W_ih = I and W_hh = 0 gives tanh(x) from the Numba cell's rational tanh."""
    H = 500
    x = np.concatenate([np.linspace(-12, 12, 20_000), np.geomspace(1e-30, 40, 5_000),
                        -np.geomspace(1e-30, 40, 5_000), [0.0, 1e-45, 88.0, -1e30]])
    x = np.resize(x, (x.size // H + 1) * H).reshape(-1, 1, H).astype(np.float32)
    eye, zero = np.eye(H, dtype=np.float32), np.zeros((H, H), np.float32)
    y, _ = kernels.get("rnn_forward", "numba")(x, np.zeros((1, H), np.float32), eye, zero,
                                               None, None)
    assert y.dtype == np.float32
    exact = np.tanh(x.astype(np.float64))
    err = np.abs(y - exact)
    assert np.all(err <= 3e-7 * np.abs(exact))


def test_float32_cell_sigmoid_accuracy():
    """LSTM input gates with W_ih = I, W_hh = 0 are σ(x): absolute error < 2e-7, relative
    < 3e-7 where σ ≥ 1/4 (the form (1 + tanh(x/2)) / 2 trades relative accuracy in the far
    negative tail for no overflow and no exp)."""
    H = 500
    x = np.linspace(-30, 30, 40_000).reshape(-1, 1, H).astype(np.float32)
    w_ih = np.tile(np.eye(H, dtype=np.float32), (4, 1))
    zero, h0 = np.zeros((4 * H, H), np.float32), np.zeros((1, H), np.float32)
    gates = kernels.get("lstm_forward", "numba")(x, h0, h0, w_ih, zero, None, None)[3]
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    err = np.abs(gates[..., :H] - exact)
    assert err.max() < 2e-7
    assert np.all(err[exact >= 0.25] <= 3e-7 * exact[exact >= 0.25])


def test_warmup_compiles_both_dtypes():
    from tinymm.kernels.jit import recurrent as jit

    jit.warmup()
    assert {"rnn_forward", "lstm_backward", "gru_forward"} <= set(kernels.jit_names())


# ----------------------------------------------------------------------------- Numba helpers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(512, 32), (32, 512), (37, 13), (8, 8), (16, 9), (3, 5),
                                   (1, 1), (0, 4), (9, 17)])
def test_transpose_into_matches_numpy(shape, dtype):
    """The shuffle-based 8x8 block transpose plus its ragged edges reproduce ``a.T``."""
    from tinymm.kernels.jit.recurrent import _transpose_into

    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = np.full(shape[::-1], np.nan, dtype)
    _transpose_into(a, out)
    np.testing.assert_array_equal(out, a.T)


def test_transpose_into_refuses_non_c_layouts():
    """The block transpose loads rows as vectors: a Fortran-ordered array must not compile
    (it would silently read columns)."""
    from numba.core.errors import TypingError
    from tinymm.kernels.jit.recurrent import _transpose_into

    a = np.asfortranarray(np.arange(64.0).reshape(8, 8))
    with pytest.raises(TypingError):
        _transpose_into(a, np.empty((8, 8)))


def _lstm_step_numpy(gates_in, hh, bias, c_prev):
    """One LSTM step from its input term, recurrent term and bias (float64 maths)."""
    a = gates_in.astype(np.float64) + bias + hh
    H = c_prev.shape[1]
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, f, o = sig(a[:, :H]), sig(a[:, H:2 * H]), sig(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    return np.concatenate([i, f, g, o], axis=1), c, o * np.tanh(c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, H", [(32, 128), (5, 37), (1, 1), (9, 8)])
def test_lstm_cell_reads_the_transposed_recurrent_term(N, H, dtype):
    """The forward cell takes ``W_hh h^T`` as ``(4H, N)`` and agrees with the plain formula."""
    from tinymm.kernels.jit.recurrent import _lstm_cell

    rng = np.random.default_rng(N * 1000 + H)
    gates = rng.standard_normal((N, 4 * H)).astype(dtype)
    hh = rng.standard_normal((N, 4 * H)).astype(dtype)
    bias = rng.standard_normal(4 * H).astype(dtype)
    c_prev = rng.standard_normal((N, H)).astype(dtype)
    refs, bounds = lstm_cell_bound(gates, hh, bias, c_prev)
    c, h = np.empty((N, H), dtype), np.empty((N, H), dtype)
    _lstm_cell(gates, np.ascontiguousarray(hh.T), bias, c_prev, c, h,
               np.empty((N, 4 * H), dtype))
    for name, got, want, bound in zip(("gates", "c", "h"), (gates, c, h), refs, bounds):
        tol.assert_close_to_reference(got, want, bound, name=f"_lstm_cell {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, H", [(32, 128), (5, 37), (1, 1), (9, 8)])
def test_lstm_cell_backward_writes_both_layouts(N, H, dtype):
    """The backward cell reads ``dh`` transposed ``(H, N)``, writes ``d_pre`` and its
    transpose, adds ``d_pre``'s column sums to the bias gradient, and updates ``dc``."""
    from tinymm.kernels.jit.recurrent import _lstm_cell_backward

    rng = np.random.default_rng(N * 1000 + H + 1)
    cast = lambda a: np.array(a, dtype=dtype, order="C")  # a C-contiguous copy
    gates, c, _ = (cast(a) for a in _lstm_step_numpy(
        rng.standard_normal((N, 4 * H)), rng.standard_normal((N, 4 * H)),
        rng.standard_normal(4 * H), rng.standard_normal((N, H))))
    c_prev, dh_next, gy, dc0 = (cast(rng.standard_normal((N, H))) for _ in range(4))
    gb0 = cast(rng.standard_normal(4 * H))
    # the reference sees the kernel's own (rounded) inputs
    refs, bounds = lstm_cell_backward_bound(dh_next, gy, dc0, gates, c_prev, c, gb0)
    dc_io, gb = dc0.copy(), gb0.copy()
    d_pre, d_pre_t = np.empty((N, 4 * H), dtype), np.empty((4 * H, N), dtype)
    _lstm_cell_backward(cast(dh_next.T), gy, dc_io, gates, c_prev, c,
                        d_pre, d_pre_t, gb, np.empty((N, H), dtype))
    np.testing.assert_array_equal(d_pre_t, d_pre.T)
    for name, got, want, bound in zip(("d_pre", "grad_bias", "dc"), (d_pre, gb, dc_io), refs,
                                      bounds):
        tol.assert_close_to_reference(got, want, bound, name=f"_lstm_cell_backward {name}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", [1, 4])
def test_zero_initial_state(kind, T):
    """With h0 = 0 (the layers' default) the Numba twin skips the first step's recurrent
    GEMMs; results must not change."""
    p = _problem(kind, T, 3, 5, 10, np.float64, seed=11)
    p["h0"][:] = 0
    for reverse in (False, True):
        _check_twins(kind, p, reverse, {b: _run(kind, b, p, reverse) for b in ("numba", "numpy")})


def test_transpose_into_refuses_a_wrong_output_shape():
    """The 8x8 vector blocks assume out is exactly a.T's shape; anything else must raise
    rather than write out of bounds."""
    from tinymm.kernels.jit import recurrent as jit

    a = np.ones((16, 24), np.float32)
    with pytest.raises(ValueError, match="shape of a.T"):
        jit._transpose_into(a, np.empty((16, 24), np.float32))
    out = np.empty((24, 16), np.float32)
    jit._transpose_into(a * np.arange(24, dtype=np.float32), out)
    np.testing.assert_array_equal(out, (a * np.arange(24, dtype=np.float32)).T)
