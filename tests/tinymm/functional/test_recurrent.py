"""rnn_layer / lstm_layer / gru_layer: gradcheck, composition oracle, errors (both backends).

The composition oracle writes each cell with primitive tinymm ops (matmul, sigmoid, tanh,
slicing, tm.stack), one graph node per op per step, and requires the fused op to agree
in forward and in every gradient (float64, rtol 1e-10 / atol 1e-12). gradcheck runs in
float64 with tm.gradcheck's defaults (element-wise for small inputs, random projections
for larger ones). PyTorch parity lives in tests/tinymm/nn/test_recurrent.py.
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.functional.recurrent import gru_layer, lstm_layer, rnn_layer

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
KINDS = tuple(GATES)
TIGHT = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _tensors(kind, T, N, I, H, seed=0, dtype=np.float64, bias=True):
    """x, h0, c0, w_ih, w_hh, b_ih, b_hh as leaf Tensors that require grad."""
    rng = np.random.default_rng(seed)
    G = GATES[kind] * H
    k = 1 / np.sqrt(H)

    def leaf(a):
        return tm.tensor(a.astype(dtype), requires_grad=True)

    x = rng.standard_normal((T, N, I))
    if kind == "rnn_relu":  # keep pre-activations off relu's kink for finite differences
        x += np.sign(x) * 0.5
    return dict(
        x=leaf(x), h0=leaf(rng.standard_normal((N, H)) * 0.5),
        c0=leaf(rng.standard_normal((N, H)) * 0.5),
        w_ih=leaf(rng.uniform(-k, k, (G, I))), w_hh=leaf(rng.uniform(-k, k, (G, H))),
        b_ih=leaf(rng.uniform(-k, k, G)) if bias else None,
        b_hh=leaf(rng.uniform(-k, k, G)) if bias else None,
    )


def _fused(kind, reverse):
    """fn(x, h0, [c0,] w_ih, w_hh, b_ih, b_hh) -> tuple of outputs, and its argument names."""
    if kind == "lstm":
        return (lambda x, h0, c0, *w: lstm_layer(x, h0, c0, *w, reverse=reverse),
                ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"))
    if kind == "gru":
        return (lambda x, h0, *w: gru_layer(x, h0, *w, reverse=reverse),
                ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"))
    return (lambda x, h0, *w: rnn_layer(x, h0, *w, nonlinearity=kind[4:], reverse=reverse),
            ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"))


# ----------------------------------------------------------------------------- the oracle


def _affine(v, w, b):
    return v @ w.T if b is None else v @ w.T + b


def _composed(kind, reverse):
    """The same layer from primitive ops, one step at a time."""

    def run(x, h0, *rest):
        c = rest[0] if kind == "lstm" else None
        w_ih, w_hh, b_ih, b_hh = rest[1:] if kind == "lstm" else rest
        H = h0.shape[1]
        h, outputs = h0, {}
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        for t in steps:
            gi, gh = _affine(x[t], w_ih, b_ih), _affine(h, w_hh, b_hh)
            if kind == "lstm":
                a = gi + gh
                i, f = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid()
                g, o = a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
            elif kind == "gru":
                r = (gi[:, :H] + gh[:, :H]).sigmoid()
                z = (gi[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
                n = (gi[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
                h = (1 - z) * n + z * h
            else:
                a = gi + gh
                h = a.tanh() if kind == "rnn_tanh" else a.relu()
            outputs[t] = h
        y = tm.stack([outputs[t] for t in range(x.shape[0])], dim=0)
        return (y, h, c) if kind == "lstm" else (y, h)

    return run


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_composition_of_primitive_ops(backend, kind, reverse, bias):
    results = []
    for make in (_fused, _composed):
        p = _tensors(kind, 5, 3, 4, 6, seed=1, bias=bias)
        fn, names = _fused(kind, reverse)
        fn = fn if make is _fused else make(kind, reverse)
        args = [p[n] for n in names]
        outs = fn(*args)
        loss = sum((o * tm.tensor(np.random.default_rng(7 + i).standard_normal(o.shape))).sum()
                   for i, o in enumerate(outs))
        loss.backward()
        grads = [None if a is None else a.grad for a in args]
        results.append(([o.data for o in outs], grads))
    (fused_out, fused_grads), (ref_out, ref_grads) = results
    for a, b in zip(fused_out, ref_out):
        np.testing.assert_allclose(a, b, **TIGHT)
    for a, b in zip(fused_grads, ref_grads):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, **TIGHT)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradient_through_final_state_only(backend, kind):
    """A loss on h_n alone (the classifier case): the output sequence gets zero gradient."""
    grads = []
    for make in (_fused, _composed):
        p = _tensors(kind, 4, 2, 3, 5, seed=2)
        fn, names = _fused(kind, False)
        fn = fn if make is _fused else make(kind, False)
        args = [p[n] for n in names]
        fn(*args)[1].sum().backward()
        grads.append([a.grad for a in args])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, **TIGHT)


# ----------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_small(backend, kind, reverse):
    p = _tensors(kind, 3, 2, 3, 4, seed=3)
    fn, names = _fused(kind, reverse)
    assert tm.gradcheck(fn, tuple(p[n] for n in names))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_random_projection(backend, kind):
    """Sizes where element-wise differences would be slow: checked along random directions."""
    p = _tensors(kind, 12, 4, 16, 16, seed=5)
    fn, names = _fused(kind, True)
    assert tm.gradcheck(fn, tuple(p[n] for n in names), max_elements=64, num_directions=4)


# ----------------------------------------------------------------------------- behaviour


def test_non_contiguous_input_and_retain_graph(backend):
    p = _tensors("lstm", 4, 3, 5, 2, seed=6)
    base = tm.tensor(np.random.default_rng(0).standard_normal((3, 4, 5)), requires_grad=True)
    x = base.transpose(0, 1)  # (T, N, I) view
    assert not x.data.flags.c_contiguous
    y, h_n, c_n = lstm_layer(x, p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    y_ref = lstm_layer(tm.tensor(np.ascontiguousarray(x.data)), p["h0"], p["c0"], p["w_ih"],
                       p["w_hh"], p["b_ih"], p["b_hh"])[0]
    np.testing.assert_array_equal(y.data, y_ref.data)
    loss = y.sum() + c_n.sum()
    loss.backward(retain_graph=True)
    first = base.grad.copy(), p["w_hh"].grad.copy()
    loss.backward()  # the saved gates must survive the first backward
    np.testing.assert_allclose(base.grad, 2 * first[0], **TIGHT)
    np.testing.assert_allclose(p["w_hh"].grad, 2 * first[1], **TIGHT)


def test_no_grad_records_nothing_and_float32_stays_float32(backend):
    p = _tensors("gru", 3, 2, 4, 5, dtype=np.float32)
    with tm.no_grad():
        y, h_n = gru_layer(p["x"], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    assert not y.requires_grad and y.is_leaf
    assert y.dtype == np.float32 and h_n.dtype == np.float32
    np.testing.assert_array_equal(h_n.data, y.data[-1])


def test_bias_gradients_only_for_given_biases(backend):
    p = _tensors("rnn_tanh", 3, 2, 3, 4)
    y, _ = rnn_layer(p["x"], p["h0"], p["w_ih"], p["w_hh"], None, p["b_hh"])
    y.sum().backward()
    assert p["b_hh"].grad is not None and p["b_hh"].grad.shape == (4,)
    assert p["b_ih"].grad is None


# ----------------------------------------------------------------------------- errors


def test_bad_inputs():
    p = _tensors("lstm", 3, 2, 4, 5)
    x, h0, c0, w_ih, w_hh = (p[k] for k in ("x", "h0", "c0", "w_ih", "w_hh"))
    with pytest.raises(TypeError, match="lstm_layer: input must be a Tensor"):
        lstm_layer(x.data, h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_layer: input must be 3-D.*\(2, 4\)"):
        lstm_layer(x[0], h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match="lstm_layer: input must have at least one time step"):
        lstm_layer(x[:0], h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_layer: input has 3 features but w_ih"):
        lstm_layer(x[:, :, :3], h0, c0, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_layer: c0 must have shape.*\(2, 5\).*\(3, 5\)"):
        lstm_layer(x, h0, tm.zeros(3, 5, dtype=tm.float64), w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_layer: w_hh must have shape \(4 \* hidden"):
        lstm_layer(x, h0, c0, w_ih, w_hh[:15])
    with pytest.raises(ValueError, match=r"lstm_layer: b_ih must have shape \(20,\)"):
        lstm_layer(x, h0, c0, w_ih, w_hh, tm.zeros(5, dtype=tm.float64))
    with pytest.raises(TypeError, match="lstm_layer: expected one dtype.*h0 is float32"):
        lstm_layer(x, tm.zeros(2, 5), c0, w_ih, w_hh)
    with pytest.raises(TypeError, match="lstm_layer: reverse must be a bool"):
        lstm_layer(x, h0, c0, w_ih, w_hh, reverse="yes")
    with pytest.raises(TypeError, match="gru_layer: input must have a floating dtype"):
        gru_layer(tm.zeros(3, 2, 4, dtype=tm.int64), h0, w_ih[:15], w_hh[:15])
    with pytest.raises(ValueError, match="rnn_layer: nonlinearity must be one of"):
        rnn_layer(x, h0, w_ih[:5], w_hh[:5], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"rnn_layer: w_hh must have shape \(1 \* hidden"):
        rnn_layer(x, h0, w_ih[:5], w_hh[:6])
