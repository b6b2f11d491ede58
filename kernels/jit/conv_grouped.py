"""Grouped 2-D convolution, Numba twin of kernels/reference/conv_grouped.py (same signatures).

Two paths:

- one input channel per group (depthwise, and depthwise with a channel multiplier): direct
  loops, parallel over (sample, channel) pairs that own their outputs; bounds are checked
  per tap, so padding never reads outside ``x``;
- otherwise: the im2col + GEMM kernels of kernels/jit/conv.py, once per group on that
  group's channels (each group is an ordinary convolution).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .conv import Pair, _out_size, conv2d_backward, conv2d_forward

__all__ = ["conv2d_grouped_forward", "conv2d_grouped_backward"]


@njit(cache=True, parallel=True)
def _depthwise_forward(x, w, b, sh, sw, ph, pw, dh, dw, y):
    """y[n, o] = b[o] + x_pad[n, o // m] ⋆ w[o, 0], m = O // C outputs per input channel."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    Ho, Wo = y.shape[2], y.shape[3]
    m = O // C
    for no in prange(N * O):
        n, o = no // O, no % O
        c = o // m
        for i in range(Ho):
            for j in range(Wo):
                acc = b[o]
                for u in range(kh):
                    r = i * sh - ph + u * dh
                    if r < 0 or r >= H:
                        continue
                    for v in range(kw):
                        q = j * sw - pw + v * dw
                        if q >= 0 and q < W:
                            acc += x[n, c, r, q] * w[o, 0, u, v]
                y[n, o, i, j] = acc


@njit(cache=True, parallel=True)
def _depthwise_grad_input(g, w, sh, sw, ph, pw, dh, dw, gx):
    """gx[n, c] = Σ_{o in group c} taps of g[n, o] · w[o, 0] scattered back; (n, c) owns gx[n, c]."""
    N, C, H, W = gx.shape
    O, _, kh, kw = w.shape
    Ho, Wo = g.shape[2], g.shape[3]
    m = O // C
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for r in range(H):
            for q in range(W):
                gx[n, c, r, q] = 0
        for o in range(c * m, (c + 1) * m):
            for i in range(Ho):
                for j in range(Wo):
                    gij = g[n, o, i, j]
                    for u in range(kh):
                        r = i * sh - ph + u * dh
                        if r < 0 or r >= H:
                            continue
                        for v in range(kw):
                            q = j * sw - pw + v * dw
                            if q >= 0 and q < W:
                                gx[n, c, r, q] += gij * w[o, 0, u, v]


@njit(cache=True, parallel=True)
def _depthwise_grad_weight(g, x, sh, sw, ph, pw, dh, dw, gw):
    """gw[o, 0, u, v] += Σ_{n, i, j} g[n, o, i, j] · x_pad[n, o // m, ...] (gw zero-filled by
    the caller); o owns gw[o]."""
    N, C, H, W = x.shape
    O, _, kh, kw = gw.shape
    Ho, Wo = g.shape[2], g.shape[3]
    m = O // C
    for o in prange(O):
        c = o // m
        for u in range(kh):
            for v in range(kw):
                acc = gw[o, 0, u, v]  # 0: the caller zero-fills (typed as gw, no float64 literal)
                for n in range(N):
                    for i in range(Ho):
                        r = i * sh - ph + u * dh
                        if r < 0 or r >= H:
                            continue
                        for j in range(Wo):
                            q = j * sw - pw + v * dw
                            if q >= 0 and q < W:
                                acc += g[n, o, i, j] * x[n, c, r, q]
                gw[o, 0, u, v] = acc


def conv2d_grouped_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           stride: Pair, padding: Pair, dilation: Pair,
                           groups: int) -> np.ndarray:
    """x (N, C, H, W), w (O, C/G, kh, kw), b (O,) or None -> y (N, O, Ho, Wo)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho, Wo = _out_size(H, kh, sh, ph, dh), _out_size(W, kw, sw, pw, dw)
    y = np.empty((N, O, Ho, Wo), x.dtype)
    if Cg == 1 and groups == C:
        b = bias if bias is not None else np.zeros(O, x.dtype)
        _depthwise_forward(x, weight, b, sh, sw, ph, pw, dh, dw, y)
        return y
    Og = O // groups
    for g in range(groups):
        xs = np.ascontiguousarray(x[:, g * Cg:(g + 1) * Cg])
        bs = None if bias is None else bias[g * Og:(g + 1) * Og]
        y[:, g * Og:(g + 1) * Og] = conv2d_forward(xs, weight[g * Og:(g + 1) * Og], bs, stride,
                                                   padding, dilation)
    return y


def conv2d_grouped_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                            stride: Pair, padding: Pair, dilation: Pair, groups: int,
                            needs: tuple[bool, bool, bool] = (True, True, True)):
    """(∂L/∂x, ∂L/∂w, ∂L/∂b) as the reference twin; ``x`` is only read for ∂L/∂w."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    gb = grad_y.sum(axis=(0, 2, 3)).astype(x.dtype) if needs[2] else None
    if Cg == 1 and groups == C:
        gx = gw = None
        if needs[0]:
            gx = np.empty((N, C, H, W), x.dtype)
            _depthwise_grad_input(grad_y, weight, sh, sw, ph, pw, dh, dw, gx)
        if needs[1]:
            gw = np.zeros(weight.shape, x.dtype)
            _depthwise_grad_weight(grad_y, x, sh, sw, ph, pw, dh, dw, gw)
        return gx, gw, gb
    Og = O // groups
    gx = np.empty((N, C, H, W), x.dtype) if needs[0] else None
    gw = np.empty(weight.shape, x.dtype) if needs[1] else None
    for g in range(groups):
        gys = np.ascontiguousarray(grad_y[:, g * Og:(g + 1) * Og])
        # x is read only for ∂L/∂w; otherwise a placeholder of the group's shape
        xs = (np.ascontiguousarray(x[:, g * Cg:(g + 1) * Cg]) if needs[1]
              else np.empty((N, Cg, H, W), x.dtype))
        gxs, gws, _ = conv2d_backward(gys, xs, weight[g * Og:(g + 1) * Og], stride, padding,
                                      dilation, (needs[0], needs[1], False))
        if needs[0]:
            gx[:, g * Cg:(g + 1) * Cg] = gxs
        if needs[1]:
            gw[g * Og:(g + 1) * Og] = gws
    return gx, gw, gb


def warmup() -> None:
    """Compile (or load from cache) the depthwise loops for float32 and float64."""
    for dt in (np.float32, np.float64):
        x, w = np.ones((1, 2, 5, 5), dt), np.ones((4, 1, 3, 3), dt)
        y = conv2d_grouped_forward(x, w, None, (1, 2), (1, 0), (1, 2), 2)
        conv2d_grouped_backward(np.ones_like(y), x, w, (1, 2), (1, 0), (1, 2), 2)
