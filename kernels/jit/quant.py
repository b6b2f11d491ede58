"""quant kernels: Numba twins of kernels/reference/quant.py, same signatures.

The int8 product is a dot product per (row, output channel) over contiguous int8 rows of both
operands. Each product ``u8 · s8`` fits int16 (|255 · 127| < 2¹⁵), so the loop is written as
an int16 multiply widened into an int32 sum: LLVM turns it into 16-bit vector multiplies and
widening adds (the int32-multiply form measured several times slower). Four output channels
share each pass over an input row, so the row is loaded once per four dot products. The
weights travel as int8: a quarter of float32's bytes, which is what makes batch-1 and small
batch layers (memory-bound in float32) faster.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["quantize_weight_per_channel", "quantize_activation", "int8_linear", "int8_im2col"]


@njit(cache=True)
def _quantize_weight(w, q, scale):
    C, K = w.shape
    for c in range(C):
        amax = np.float32(0.0)
        for k in range(K):
            a = np.float32(abs(w[c, k]))
            amax = a if a > amax else amax
        s = amax / np.float32(127.0) if amax > 0 else np.float32(1.0)
        scale[c] = s
        for k in range(K):
            v = np.rint(np.float32(w[c, k]) / s)
            q[c, k] = np.int8(min(max(v, -127.0), 127.0))


def quantize_weight_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.ascontiguousarray(w)
    q = np.empty(w.shape, np.int8)
    scale = np.empty(w.shape[0], np.float32)
    _quantize_weight(w, q, scale)
    return q, scale


@njit(cache=True)
def _quantize_activation(x, scale, zero, q):
    for i in range(np.uint64(x.size)):
        v = np.rint(np.float32(x[i]) / scale) + zero
        q[i] = np.uint8(min(max(v, np.float32(0.0)), np.float32(255.0)))


def quantize_activation(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    x = np.ascontiguousarray(x)
    q = np.empty(x.shape, np.uint8)
    _quantize_activation(x.reshape(-1), np.float32(scale), np.float32(zero_point), q.reshape(-1))
    return q


@njit(cache=True)
def _int8_gemm(x_q, w_q, acc):
    """acc (N, C) int32 = x_q (N, K) uint8 @ w_q (C, K)ᵀ int8, four channels per row pass."""
    N, K = x_q.shape
    C = w_q.shape[0]
    C4 = C - C % 4
    for n in range(N):
        x = x_q[n]
        for c in range(0, C4, 4):
            w0, w1, w2, w3 = w_q[c], w_q[c + 1], w_q[c + 2], w_q[c + 3]
            s0 = s1 = s2 = s3 = np.int32(0)
            for k in range(K):
                xv = np.int16(x[k])
                s0 += np.int32(xv * np.int16(w0[k]))
                s1 += np.int32(xv * np.int16(w1[k]))
                s2 += np.int32(xv * np.int16(w2[k]))
                s3 += np.int32(xv * np.int16(w3[k]))
            acc[n, c], acc[n, c + 1], acc[n, c + 2], acc[n, c + 3] = s0, s1, s2, s3
        for c in range(C4, C):
            w = w_q[c]
            s = np.int32(0)
            for k in range(K):
                s += np.int32(np.int16(x[k]) * np.int16(w[k]))
            acc[n, c] = s


@njit(cache=True)
def _rescale(acc, zero, w_sum, scale, bias, has_bias, y):
    N, C = acc.shape
    for n in range(N):
        for c in range(C):
            a = acc[n, c] - zero * w_sum[c]
            acc[n, c] = a
            v = np.float32(a) * scale[c]
            y[n, c] = v + bias[c] if has_bias else v


@njit(cache=True)
def _row_sums(w_q, out):
    C, K = w_q.shape
    for c in range(C):
        s = np.int32(0)
        for k in range(K):
            s += np.int32(w_q[c, k])
        out[c] = s


def int8_linear(x_q: np.ndarray, x_scale: float, x_zero: int, w_q: np.ndarray,
                w_scale: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    x_q, w_q = np.ascontiguousarray(x_q), np.ascontiguousarray(w_q)
    N, C = x_q.shape[0], w_q.shape[0]
    acc = np.empty((N, C), np.int32)
    _int8_gemm(x_q, w_q, acc)
    w_sum = np.empty(C, np.int32)
    _row_sums(w_q, w_sum)
    scale = (np.float32(x_scale) * w_scale).astype(np.float32)
    y = np.empty((N, C), np.float32)
    b = np.zeros(C, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)
    _rescale(acc, np.int32(x_zero), w_sum, scale, b, bias is not None, y)
    return y, acc


@njit(cache=True)
def _im2col_rows(x_q, kh, kw, sh, sw, ph, pw, pad_value, rows):
    N, C, H, W = x_q.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                r = (n * Ho + i) * Wo + j
                col = 0
                for c in range(C):
                    for u in range(kh):
                        h = i * sh - ph + u
                        for v in range(kw):
                            w = j * sw - pw + v
                            inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
                            rows[r, col] = x_q[n, c, h, w] if inside else pad_value
                            col += 1


def int8_im2col(x_q: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], pad_value: int) -> np.ndarray:
    N, C, H, W = x_q.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    rows = np.empty((N * Ho * Wo, C * kh * kw), np.uint8)
    _im2col_rows(np.ascontiguousarray(x_q), kh, kw, sh, sw, ph, pw, np.uint8(pad_value), rows)
    return rows


def warmup() -> None:
    """Compile (or load from cache) every helper."""
    w = np.ones((5, 3), np.float32)
    q, s = quantize_weight_per_channel(w)
    xq = quantize_activation(np.ones((2, 3), np.float32), 0.1, 3)
    int8_linear(xq, 0.1, 3, q, s, np.zeros(5, np.float32))
    int8_linear(xq, 0.1, 3, q, s, None)
    int8_im2col(np.ones((1, 1, 3, 3), np.uint8), (2, 2), (1, 1), (1, 1), 3)
