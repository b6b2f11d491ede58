"""Layer normalisation kernels: Numba twins of kernels/reference/norm.py, same signatures.

Equations in the reference twin. Forward: one ``prange`` iteration per row does the mean,
the centred variance (two passes over a row that sits in L1) and writes y, μ and rstd of
that row. Backward: rows are split into a fixed number of blocks; each block (one ``prange``
iteration) writes dx for its rows and its own partial sums of dγ and dβ, which are added up
afterwards, so no two iterations write the same element and the result does not depend on
the thread count. Inputs smaller than ``PARALLEL_MIN_SIZE`` (4M elements) run serial twins
of the loops: alone, the threaded forward is ~1.8x faster on (4096, 128), but layer norm sits
between matrix products, and on two cores Numba's threads then fight OpenBLAS's (the
threaded backward measured 4-8 ms against 0.45 ms serial on a busy machine).
Reductions use four independent accumulators (Numba will not reorder a
floating-point reduction to vectorise it; independent accumulators let it pipeline).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["layer_norm_forward", "layer_norm_backward"]

_BLOCKS = 32  # row blocks in backward (partial dγ/dβ sums); fixed for determinism
PARALLEL_MIN_SIZE = 1 << 22  # inputs with at least this many elements use threaded loops


@njit(inline="always", cache=True)
def _row_mean_var(row):
    """(mean, biased variance) of a 1-D row: two passes, four accumulators each."""
    n = row.shape[0]
    tp = row.dtype.type
    s0 = s1 = s2 = s3 = tp(0.0)
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += row[j]
        s1 += row[j + 1]
        s2 += row[j + 2]
        s3 += row[j + 3]
    for j in range(n4, n):
        s0 += row[j]
    mean = ((s0 + s1) + (s2 + s3)) / tp(n)
    v0 = v1 = v2 = v3 = tp(0.0)
    for j in range(0, n4, 4):
        d0 = row[j] - mean
        d1 = row[j + 1] - mean
        d2 = row[j + 2] - mean
        d3 = row[j + 3] - mean
        v0 += d0 * d0
        v1 += d1 * d1
        v2 += d2 * d2
        v3 += d3 * d3
    for j in range(n4, n):
        d0 = row[j] - mean
        v0 += d0 * d0
    return mean, ((v0 + v1) + (v2 + v3)) / tp(n)


@njit(inline="always", error_model="numpy", cache=True)
def _layer_norm_row(row, out, weight, bias, eps):
    """out = (row − μ) · rstd ⊙ γ + β for one row; returns (μ, rstd)."""
    tp = row.dtype.type
    mu, var = _row_mean_var(row)
    rs = tp(1.0) / np.sqrt(var + tp(eps))
    for j in range(row.shape[0]):
        out[j] = (row[j] - mu) * rs * weight[j] + bias[j]
    return mu, rs


@njit(inline="always", error_model="numpy", cache=True)
def _layer_norm_backward_block(blk, gy, x, weight, mean, rstd, gx, gw_part, gb_part):
    """dx for the rows of block ``blk``, and the block's partial sums of dγ and dβ."""
    R, D = x.shape
    tp = x.dtype.type
    nblocks = gw_part.shape[0]
    inv_d = tp(1.0) / tp(D)
    gwb = gw_part[blk]
    gbb = gb_part[blk]
    for j in range(D):
        gwb[j] = tp(0.0)
        gbb[j] = tp(0.0)
    for r in range((blk * R) // nblocks, ((blk + 1) * R) // nblocks):
        xr, gr, out = x[r], gy[r], gx[r]
        mu, rs = mean[r], rstd[r]
        # a = mean(g), c = mean(g·x̂) with g = dy ⊙ γ: reductions, four accumulators each
        a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = tp(0.0)
        D4 = D - D % 4
        for j in range(0, D4, 4):
            g0, g1 = gr[j] * weight[j], gr[j + 1] * weight[j + 1]
            g2, g3 = gr[j + 2] * weight[j + 2], gr[j + 3] * weight[j + 3]
            a0 += g0
            a1 += g1
            a2 += g2
            a3 += g3
            c0 += g0 * (xr[j] - mu)
            c1 += g1 * (xr[j + 1] - mu)
            c2 += g2 * (xr[j + 2] - mu)
            c3 += g3 * (xr[j + 3] - mu)
        for j in range(D4, D):
            g0 = gr[j] * weight[j]
            a0 += g0
            c0 += g0 * (xr[j] - mu)
        a = ((a0 + a1) + (a2 + a3)) * inv_d
        c = ((c0 + c1) + (c2 + c3)) * rs * inv_d
        # Elementwise, no reductions, so this loop vectorises.
        for j in range(D):
            xh = (xr[j] - mu) * rs
            gwb[j] += gr[j] * xh
            gbb[j] += gr[j]
            out[j] = rs * (gr[j] * weight[j] - a - xh * c)


# Each loop twice: threaded (prange) for very big inputs, plain otherwise (see the module
# docstring). Same arithmetic, so the results are identical.
@njit(parallel=True, error_model="numpy", cache=True)
def _layer_norm_rows_parallel(x, weight, bias, eps, y, mean, rstd):
    for r in prange(x.shape[0]):
        mean[r], rstd[r] = _layer_norm_row(x[r], y[r], weight, bias, eps)


@njit(error_model="numpy", cache=True)
def _layer_norm_rows_serial(x, weight, bias, eps, y, mean, rstd):
    for r in range(x.shape[0]):
        mean[r], rstd[r] = _layer_norm_row(x[r], y[r], weight, bias, eps)


@njit(parallel=True, error_model="numpy", cache=True)
def _layer_norm_backward_parallel(gy, x, weight, mean, rstd, gx, gw_part, gb_part):
    for blk in prange(gw_part.shape[0]):
        _layer_norm_backward_block(blk, gy, x, weight, mean, rstd, gx, gw_part, gb_part)


@njit(error_model="numpy", cache=True)
def _layer_norm_backward_serial(gy, x, weight, mean, rstd, gx, gw_part, gb_part):
    for blk in range(gw_part.shape[0]):
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
    run = _layer_norm_rows_parallel if x.size >= PARALLEL_MIN_SIZE else _layer_norm_rows_serial
    run(x, weight, bias, float(eps), y, mean, rstd)
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
    run = (_layer_norm_backward_parallel if x.size >= PARALLEL_MIN_SIZE
           else _layer_norm_backward_serial)
    run(grad_output, x, weight, mean, rstd, grad_x, gw_part, gb_part)
    grad_weight = gw_part.sum(axis=0) if need_weight_grad else None
    grad_bias = gb_part.sum(axis=0) if need_bias_grad else None
    return grad_x, grad_weight, grad_bias


def warmup() -> None:
    """Compile (or load from cache) the serial layer-norm loops for float32 and float64.

    The threaded twins (used only above ``PARALLEL_MIN_SIZE``) compile on first use.
    """
    for dtype in (np.float32, np.float64):
        x = np.arange(6, dtype=dtype).reshape(2, 3)
        y, mean, rstd = layer_norm_forward(x, None, None, 1e-5)
        layer_norm_backward(y, x, None, mean, rstd, False, False)
