"""Layer and batch normalisation kernels: Numba twins of kernels/reference/norm.py.

Equations in the reference twin. Layer norm forward: per row, the mean, the centred variance
(two passes over a row that sits in L1), then y, μ and rstd of that row. Backward: rows are
split into a fixed number of blocks; each block writes dx for its rows and its own partial
sums of dγ and dβ, which are added up afterwards, so no two blocks write the same element and
the result does not depend on the thread count. Rows (forward) and blocks (backward) are
split over Numba's thread count with plain Python threads and ``nogil`` loops
(kernels/jit/threads.py), not ``prange``: layer norm sits between matrix products, and on two
cores Numba's OpenMP threads fought OpenBLAS's (a ``prange`` backward measured 4-8 ms against
0.45 ms serial on a busy machine), and each ``parallel=True`` loop cost seconds to compile.
Batch norm keeps ``prange`` twins for inputs of at least ``PARALLEL_MIN_SIZE`` elements.
Every loop carries the fast-math flag ``reassoc`` only: it lets LLVM vectorise the row sums
(it will not reorder a floating-point reduction otherwise; four scalar accumulators, the
previous version, made the forward ~2x slower). Never ``nnan``/``ninf``, so a NaN or an
infinity in a row still propagates as in the reference. Constants are in the row's dtype
(no float64 promotion of float32 rows).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import split_run

__all__ = [
    "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
]

_BLOCKS = 32  # row blocks in backward (partial dγ/dβ sums); fixed for determinism
PARALLEL_MIN_SIZE = 1 << 22  # inputs with at least this many elements use threaded loops


# reassoc: the row sums vectorise. No nnan/ninf (see above), and no contract: a fused
# g·γ − mean(g·γ) keeps the product's rounding error, which is all of dx on one-element rows
# (the reference gives exactly 0 there; rstd = 1/√eps then magnifies it to ~1e-5).
_FAST = {"reassoc"}
_JIT = {"cache": True, "error_model": "numpy", "fastmath": _FAST}


@njit(inline="always", **_JIT)
def _row_mean_var(row):
    """(mean, biased variance) of a 1-D row: two passes (centred variance)."""
    n = row.shape[0]
    tp = row.dtype.type
    s = tp(0.0)
    for j in range(n):
        s += row[j]
    mean = s / tp(n)
    v = tp(0.0)
    for j in range(n):
        d = row[j] - mean
        v += d * d
    return mean, v / tp(n)


@njit(inline="always", **_JIT)
def _layer_norm_row(row, out, weight, bias, eps):
    """out = (row − μ) · rstd ⊙ γ + β for one row; returns (μ, rstd)."""
    tp = row.dtype.type
    mu, var = _row_mean_var(row)
    rs = tp(1.0) / np.sqrt(var + tp(eps))
    for j in range(row.shape[0]):
        out[j] = (row[j] - mu) * rs * weight[j] + bias[j]
    return mu, rs


@njit(inline="always", **_JIT)
def _layer_norm_backward_block(blk, gy, x, weight, mean, rstd, gx, gw_part, gb_part):
    """dx for the rows of block ``blk``, and the block's partial sums of dγ and dβ."""
    R, D = x.shape
    tp = x.dtype.type
    nblocks = gw_part.shape[0]
    inv_d = tp(1.0) / tp(D)
    # Two things LLVM needs to vectorise the row loops well (together ~20% faster, measured
    # on an AMD EPYC Zen 4): fresh local sums and a local copy of γ, which it knows overlap
    # nothing (it cannot prove that for views of the caller's arrays), and rows indexed from 0
    # in a slice of the block (no negative-index wraparound test on each row).
    gwb = np.zeros(D, x.dtype)
    gbb = np.zeros(D, x.dtype)
    wl = weight.copy()
    lo, hi = (blk * R) // nblocks, ((blk + 1) * R) // nblocks
    xs, gs, gxs, ms, rss = x[lo:hi], gy[lo:hi], gx[lo:hi], mean[lo:hi], rstd[lo:hi]
    for r in range(hi - lo):
        xr, gr, out = xs[r], gs[r], gxs[r]
        mu, rs = ms[r], rss[r]
        # a = mean(g), c = mean(g·x̂) with g = dy ⊙ γ
        a = tp(0.0)
        c = tp(0.0)
        for j in range(D):
            g = gr[j] * wl[j]
            a += g
            c += g * (xr[j] - mu)
        a = a * inv_d
        c = c * rs * inv_d
        for j in range(D):
            xh = (xr[j] - mu) * rs
            gwb[j] += gr[j] * xh
            gbb[j] += gr[j]
            out[j] = rs * (gr[j] * wl[j] - a - xh * c)
    gw_part[blk, :] = gwb
    gb_part[blk, :] = gbb


# Serial nogil loops over a range of rows / blocks; layer_norm_forward/backward split the
# range over Numba's thread count (kernels/jit/threads.py). Same arithmetic per row / block
# whatever the split, so the results do not depend on the thread count.
@njit(nogil=True, **_JIT)
def _layer_norm_rows(x, weight, bias, eps, y, mean, rstd):
    for r in range(x.shape[0]):
        mean[r], rstd[r] = _layer_norm_row(x[r], y[r], weight, bias, eps)


@njit(nogil=True, **_JIT)
def _layer_norm_backward_blocks(b0, b1, gy, x, weight, mean, rstd, gx, gw_part, gb_part):
    for blk in range(b0, b1):
        _layer_norm_backward_block(blk, gy, x, weight, mean, rstd, gx, gw_part, gb_part)


def layer_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = (x − μ) / √(σ² + eps) ⊙ γ + β over rows of x (R, D); returns ``(y, μ, rstd)``."""
    R, D = x.shape
    y = np.empty_like(x)
    mean = np.empty(R, x.dtype)
    rstd = np.empty(R, x.dtype)
    # An absent γ / β acts as ones / zeros: exact, and one loop instead of four variants.
    weight = np.ones(D, x.dtype) if weight is None else weight
    bias = np.zeros(D, x.dtype) if bias is None else bias
    eps = float(eps)

    def work(lo: int, hi: int) -> None:
        _layer_norm_rows(x[lo:hi], weight, bias, eps, y[lo:hi], mean[lo:hi], rstd[lo:hi])

    split_run(work, R, x.size)
    return y, mean, rstd


def layer_norm_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray | None,
    mean: np.ndarray,
    rstd: np.ndarray,
    need_weight_grad: bool,
    need_bias_grad: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(dx, dγ, dβ)`` for rows of x (R, D); dγ / dβ are None unless asked for."""
    R, D = x.shape
    grad_x = np.empty_like(x)
    nblocks = max(1, min(_BLOCKS, R))
    gw_part = np.empty((nblocks, D), x.dtype)  # per-block partial Σ dy ⊙ x̂
    gb_part = np.empty((nblocks, D), x.dtype)  # per-block partial Σ dy
    weight = np.ones(D, x.dtype) if weight is None else weight  # absent γ acts as ones

    def work(b0: int, b1: int) -> None:
        _layer_norm_backward_blocks(b0, b1, grad_output, x, weight, mean, rstd, grad_x, gw_part,
                                    gb_part)

    split_run(work, nblocks, x.size)
    grad_weight = gw_part.sum(axis=0) if need_weight_grad else None
    grad_bias = gb_part.sum(axis=0) if need_bias_grad else None
    return grad_x, grad_weight, grad_bias


def warmup() -> None:
    """Compile (or load from cache) the layer-norm loops for float32 and float64."""
    for dtype in (np.float32, np.float64):
        x = np.arange(6, dtype=dtype).reshape(2, 3)
        y, mean, rstd = layer_norm_forward(x, None, None, 1e-5)
        layer_norm_backward(y, x, None, mean, rstd, False, False)
    _warmup_batch_norm()


# ----------------------------------------------------------------------------- batch norm
# x is (N, C, L) C-contiguous; every loop below owns one channel c, so the threaded twins run
# ``prange`` over channels and each iteration writes only its channel's outputs. The inner
# loops run over the L contiguous values of one (n, c) strip and vectorise (reassoc).
@njit(inline="always", **_JIT)
def _bn_channel_stats(x, c):
    """(mean, biased variance) of channel c of x (N, C, L): two passes (centred variance)."""
    N, _, L = x.shape
    tp = x.dtype.type
    s = tp(0.0)
    for n in range(N):
        for j in range(L):
            s += x[n, c, j]
    mu = s / tp(N * L)
    v = tp(0.0)
    for n in range(N):
        for j in range(L):
            d = x[n, c, j] - mu
            v += d * d
    return mu, v / tp(N * L)


@njit(inline="always", **_JIT)
def _bn_channel_forward(x, c, weight, bias, mean, var, eps, batch_stats, y, rstd):
    """Normalise channel c; with ``batch_stats`` first compute and store its μ and σ²."""
    tp = x.dtype.type
    if batch_stats:
        mean[c], var[c] = _bn_channel_stats(x, c)
    mu = mean[c]
    rs = tp(1.0) / np.sqrt(var[c] + tp(eps))
    rstd[c] = rs
    scale = rs * weight[c]
    shift = bias[c]
    for n in range(x.shape[0]):
        for j in range(x.shape[2]):
            y[n, c, j] = (x[n, c, j] - mu) * scale + shift


@njit(inline="always", **_JIT)
def _bn_channel_backward(gy, x, c, weight, mean, rstd, batch_stats, gx, gw, gb):
    """dx for channel c and its dγ_c, dβ_c (see the reference twin for the equations)."""
    N, _, L = x.shape
    tp = x.dtype.type
    mu, rs = mean[c], rstd[c]
    sg = tp(0.0)  # Σ dy
    sgx = tp(0.0)  # Σ dy · (x − μ)
    for n in range(N):
        for j in range(L):
            g = gy[n, c, j]
            sg += g
            sgx += g * (x[n, c, j] - mu)
    gw[c] = sgx * rs
    gb[c] = sg
    coef = rs * weight[c]
    if batch_stats:
        a = sg / tp(N * L)
        b = rs * rs * sgx / tp(N * L)
        for n in range(N):
            for j in range(L):
                gx[n, c, j] = coef * (gy[n, c, j] - a - (x[n, c, j] - mu) * b)
    else:
        for n in range(N):
            for j in range(L):
                gx[n, c, j] = coef * gy[n, c, j]


@njit(parallel=True, **_JIT)
def _bn_forward_parallel(x, weight, bias, mean, var, eps, batch_stats, y, rstd):
    for c in prange(x.shape[1]):
        _bn_channel_forward(x, c, weight, bias, mean, var, eps, batch_stats, y, rstd)


@njit(**_JIT)
def _bn_forward_serial(x, weight, bias, mean, var, eps, batch_stats, y, rstd):
    for c in range(x.shape[1]):
        _bn_channel_forward(x, c, weight, bias, mean, var, eps, batch_stats, y, rstd)


@njit(parallel=True, **_JIT)
def _bn_backward_parallel(gy, x, weight, mean, rstd, batch_stats, gx, gw, gb):
    for c in prange(x.shape[1]):
        _bn_channel_backward(gy, x, c, weight, mean, rstd, batch_stats, gx, gw, gb)


@njit(**_JIT)
def _bn_backward_serial(gy, x, weight, mean, rstd, batch_stats, gx, gw, gb):
    for c in range(x.shape[1]):
        _bn_channel_backward(gy, x, c, weight, mean, rstd, batch_stats, gx, gw, gb)


# L == 1 (BatchNorm1d on (N, C)): a channel's values are a column, C elements apart, so the
# per-channel loops above would touch one cache line per value (measured ~8x slower than
# NumPy on (256, 512)). These twins sweep rows instead, accumulating (C,) vectors.
@njit(**_JIT)
def _bn_rows_forward(x, weight, bias, mean, var, eps, batch_stats, y, rstd):
    N, C = x.shape
    tp = x.dtype.type
    if batch_stats:
        s = np.zeros(C, x.dtype)
        for n in range(N):
            for c in range(C):
                s[c] += x[n, c]
        for c in range(C):
            mean[c] = s[c] / tp(N)
        v = np.zeros(C, x.dtype)
        for n in range(N):
            for c in range(C):
                d = x[n, c] - mean[c]
                v[c] += d * d
        for c in range(C):
            var[c] = v[c] / tp(N)
    scale = np.empty(C, x.dtype)
    for c in range(C):
        rstd[c] = tp(1.0) / np.sqrt(var[c] + tp(eps))
        scale[c] = rstd[c] * weight[c]
    for n in range(N):
        for c in range(C):
            y[n, c] = (x[n, c] - mean[c]) * scale[c] + bias[c]


@njit(**_JIT)
def _bn_rows_backward(gy, x, weight, mean, rstd, batch_stats, gx, gw, gb):
    N, C = x.shape
    tp = x.dtype.type
    sgx = np.zeros(C, x.dtype)
    for c in range(C):
        gb[c] = tp(0.0)
    for n in range(N):
        for c in range(C):
            g = gy[n, c]
            gb[c] += g
            sgx[c] += g * (x[n, c] - mean[c])
    coef = np.empty(C, x.dtype)
    a = np.empty(C, x.dtype)
    b = np.empty(C, x.dtype)
    for c in range(C):
        gw[c] = sgx[c] * rstd[c]
        coef[c] = rstd[c] * weight[c]
        a[c] = gb[c] / tp(N)
        b[c] = rstd[c] * rstd[c] * sgx[c] / tp(N)
    if batch_stats:
        for n in range(N):
            for c in range(C):
                gx[n, c] = coef[c] * (gy[n, c] - a[c] - (x[n, c] - mean[c]) * b[c])
    else:
        for n in range(N):
            for c in range(C):
                gx[n, c] = coef[c] * gy[n, c]


def batch_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
    mean: np.ndarray | None, var: np.ndarray | None, eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation of x (N, C, L) per channel; returns ``(y, μ, σ², rstd)``.

    ``mean``/``var`` None: batch statistics (training); else the given (C,) statistics.
    """
    _, C, _ = x.shape
    y = np.empty_like(x)
    rstd = np.empty(C, x.dtype)
    batch_stats = mean is None
    if batch_stats:
        mean, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
    else:  # the caller's (running) statistics: read only, in x's dtype
        mean = np.ascontiguousarray(mean, dtype=x.dtype)
        var = np.ascontiguousarray(var, dtype=x.dtype)
    weight = np.ones(C, x.dtype) if weight is None else weight  # absent γ / β: ones / zeros
    bias = np.zeros(C, x.dtype) if bias is None else bias
    if x.shape[2] == 1:
        _bn_rows_forward(x[:, :, 0], weight, bias, mean, var, float(eps), batch_stats,
                         y[:, :, 0], rstd)
        return y, mean, var, rstd
    run = _bn_forward_parallel if x.size >= PARALLEL_MIN_SIZE else _bn_forward_serial
    run(x, weight, bias, mean, var, float(eps), batch_stats, y, rstd)
    return y, mean, var, rstd


def batch_norm_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray,
    rstd: np.ndarray, batch_stats: bool, need_weight_grad: bool, need_bias_grad: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(dx, dγ, dβ)`` for x (N, C, L); dγ / dβ are None unless asked for."""
    _, C, _ = x.shape
    grad_x = np.empty_like(x)
    gw = np.empty(C, x.dtype)
    gb = np.empty(C, x.dtype)
    weight = np.ones(C, x.dtype) if weight is None else weight
    if x.shape[2] == 1:
        _bn_rows_backward(grad_output[:, :, 0], x[:, :, 0], weight, mean, rstd,
                          bool(batch_stats), grad_x[:, :, 0], gw, gb)
    else:
        run = _bn_backward_parallel if x.size >= PARALLEL_MIN_SIZE else _bn_backward_serial
        run(grad_output, x, weight, mean, rstd, bool(batch_stats), grad_x, gw, gb)
    return grad_x, (gw if need_weight_grad else None), (gb if need_bias_grad else None)


def _warmup_batch_norm() -> None:
    for dtype in (np.float32, np.float64):
        for x in (np.arange(12, dtype=dtype).reshape(2, 3, 2),
                  np.arange(6, dtype=dtype).reshape(2, 3, 1)):
            for train in (True, False):
                stats = (None, None) if train else (np.zeros(3, dtype), np.ones(3, dtype))
                y, mean, _, rstd = batch_norm_forward(x, None, None, *stats, 1e-5)
                batch_norm_backward(y, x, None, mean, rstd, train, True, True)
