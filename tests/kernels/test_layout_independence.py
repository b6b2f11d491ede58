"""Same inputs, same bits, wherever the arrays lie in memory.

A float sum in a loop that also stores made the result depend on the arrays' addresses: LLVM
cannot prove a stored row and a loaded row apart, checks their addresses at run time, and takes
its vector or its scalar loop, which add in different orders under ``reassoc``. Found by the
aliasing test (a soft-target cross-entropy gradient differed in its last bits between two calls
with the same input). Each test below runs one kernel on the same values with the output (or
the input) placed at every offset in a window around the other array and asserts one result.
Before the fix the softmax and log-softmax backward rows gave two different results over such a
window (the test fails on that code). The conv bias sum and the attention backward with dropout
had the same pattern and got the same fix; at these sizes they showed one result before it too
(a float64 sum of a few float32 values is exact in any order), so those two tests guard the
property rather than reproduce a seen failure.
"""

import numpy as np
import pytest
from tinymm.kernels.jit import attention as jit_attention
from tinymm.kernels.jit import conv as jit_conv
from tinymm.kernels.jit import softmax as jit_softmax

SHAPES = [(5, 5), (4, 16), (3, 37), (6, 128)]


def _placements(n_elems: int, window: int = 160):
    """(input start, output start) pairs in one buffer, output before and after the input,
    never overlapping, distances from 0 to ``window`` elements apart."""
    base = 4 * window + 2 * n_elems
    for gap in range(window):
        yield base, base + n_elems + gap  # output after the input
        yield base, base - n_elems - gap  # output before the input


def _buffer(n_elems: int, window: int = 160) -> np.ndarray:
    return np.zeros(8 * window + 6 * n_elems, np.float32)


@pytest.mark.parametrize("n,c", SHAPES)
def test_softmax_rows_do_not_depend_on_placement(n, c):
    rng = np.random.default_rng(n * 1000 + c)
    x0 = (3 * rng.standard_normal((n, c))).astype(np.float32)
    g0 = rng.standard_normal((n, c)).astype(np.float32)
    y = jit_softmax.softmax_forward(x0)
    ly = jit_softmax.log_softmax_forward(x0)
    seen = {k: set() for k in ("softmax", "log_softmax", "sums", "softmax_bwd", "log_bwd")}
    buf = _buffer(n * c)
    for xs, os_ in _placements(n * c):
        x = buf[xs:xs + n * c].reshape(n, c)
        out = buf[os_:os_ + n * c].reshape(n, c)
        x[:] = x0
        jit_softmax._softmax_rows(x, jit_softmax._as_int(x), out, *jit_softmax._dummy_rows(x))
        seen["softmax"].add(out.tobytes())
        sums = np.empty(n, np.float32)
        jit_softmax._log_softmax_rows(x, jit_softmax._as_int(x), out, sums,
                                      *jit_softmax._dummy_rows(x))
        seen["log_softmax"].add(out.tobytes())
        seen["sums"].add(sums.tobytes())
        x[:] = g0  # the gradient in the input's place, the output around it
        jit_softmax._softmax_backward_rows(y, x, out, False, *jit_softmax._dummy_rows(x, False))
        seen["softmax_bwd"].add(out.tobytes())
        jit_softmax._softmax_backward_rows(ly, x, out, True, *jit_softmax._dummy_rows(x, False))
        seen["log_bwd"].add(out.tobytes())
    assert {k: len(v) for k, v in seen.items()} == {k: 1 for k in seen}


@pytest.mark.parametrize("N,O,L", [(2, 3, 5), (3, 4, 16), (2, 2, 37)])
def test_conv_bias_gradient_does_not_depend_on_placement(N, O, L):
    rng = np.random.default_rng(N * 100 + L)
    gy0 = rng.standard_normal((N, O, L)).astype(np.float32)
    seen_g, seen_b = set(), set()
    size = N * O * L
    buf = _buffer(size)
    for xs, os_ in _placements(size):
        gy = buf[xs:xs + size].reshape(N, O, L)
        gy[:] = gy0
        g = buf[os_:os_ + size].reshape(O, N * L)
        gb = np.empty(O, np.float64)
        jit_conv._grad_to_gemm(gy, g, gb)
        seen_g.add(g.tobytes())
        seen_b.add(gb.tobytes())
    assert (len(seen_g), len(seen_b)) == (1, 1)


@pytest.mark.parametrize("R,S", [(4, 5), (3, 16), (2, 37)])
def test_attention_softmax_backward_with_dropout_does_not_depend_on_placement(R, S):
    rng = np.random.default_rng(R * 100 + S)
    g0 = rng.standard_normal((R, S)).astype(np.float32)
    p = jit_softmax.softmax_forward(rng.standard_normal((R, S)).astype(np.float32))
    d0 = (rng.random((R, S)) < 0.8).astype(np.float32) / np.float32(0.8)
    seen = set()
    buf = _buffer(R * S)
    for ds, gs in _placements(R * S):
        d = buf[ds:ds + R * S].reshape(R, S)
        d[:] = d0
        g = buf[gs:gs + R * S].reshape(R, S)
        g[:] = g0
        jit_attention._softmax_backward_rows(g, p, 0.5, d, True)
        seen.add(g.tobytes())
    assert len(seen) == 1
