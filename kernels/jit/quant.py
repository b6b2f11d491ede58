"""quant kernels: Numba twins of kernels/reference/quant.py, same signatures.

The int8 product ``acc = x_q W_qᵀ − z Σ_k W_q`` (x_q uint8 (N, K), W_q int8 (C, K)) is
register-blocked: a block of 4 input rows × 2 channels keeps its 8 int32 sums in ymm
registers while one pass over K loads each of the 6 int8 rows once. Every product
``u8 · s8`` fits int16, and the sums are written ``np.int32(s + np.int32(a · b))`` so that
Numba keeps them in int32 (its default int64 promotion would block it); LLVM then emits
``vpmaddwd`` (int16 pairs multiplied and added into int32: see ``inspect_asm``). The weight
row sums, needed for the zero point, are computed once per layer (``int8_weight_sums``).
The rescale to float32 happens in the same pass. Above ``PARALLEL_MIN_WORK`` the channel
pairs are split between ``numba.get_num_threads()`` threads. The weights travel as int8, a
quarter of float32's bytes, which is what makes batch-1 layers (memory-bound) faster.
Integer sums are exact in any order, so the twin equals the reference bit for bit.
With 7-bit activations (x_q ≤ 127) on an AVX2 CPU, ``int8_linear`` runs the 4 × 2 blocks
on ``vpmaddubsw`` instead (``quant_avx2``: 4× the multiplies per instruction, still exact).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = ["quantize_weight_per_channel", "quantize_activation", "int8_weight_sums", "int8_linear",
           "int8_im2col"]


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
def _quantize_activation(x, scale, zero, qmax, q):
    for i in range(np.uint64(x.size)):
        v = np.rint(np.float32(x[i]) / scale) + zero
        q[i] = np.uint8(min(max(v, np.float32(0.0)), qmax))


def quantize_activation(x: np.ndarray, scale: float, zero_point: int,
                        qmax: int = 255) -> np.ndarray:
    x = np.ascontiguousarray(x)
    q = np.empty(x.shape, np.uint8)
    _quantize_activation(x.reshape(-1), np.float32(scale), np.float32(zero_point),
                         np.float32(qmax), q.reshape(-1))
    return q


@njit(cache=True)
def _dot_1x2(x0, w0, w1, K):
    """(Σ_k x0[k] w0[k], Σ_k x0[k] w1[k]) in int32: one input row against two channels."""
    s0 = s1 = np.int32(0)
    for k in range(K):
        v = np.int32(x0[k])
        s0 = np.int32(s0 + np.int32(v * np.int32(w0[k])))
        s1 = np.int32(s1 + np.int32(v * np.int32(w1[k])))
    return s0, s1


@njit(cache=True)
def _dot_4x2(x0, x1, x2, x3, w0, w1, K):
    """The 4 × 2 block of int32 dot products of four input rows with two channels.

    Eight accumulators: LLVM keeps them in eight ymm registers and each step loads the six
    int8 rows once for eight ``vpmaddwd`` (int16 pairs multiplied and summed into int32).
    """
    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = np.int32(0)
    for k in range(K):
        a0 = np.int32(w0[k])
        a1 = np.int32(w1[k])
        v = np.int32(x0[k])
        s00 = np.int32(s00 + np.int32(v * a0))
        s01 = np.int32(s01 + np.int32(v * a1))
        v = np.int32(x1[k])
        s10 = np.int32(s10 + np.int32(v * a0))
        s11 = np.int32(s11 + np.int32(v * a1))
        v = np.int32(x2[k])
        s20 = np.int32(s20 + np.int32(v * a0))
        s21 = np.int32(s21 + np.int32(v * a1))
        v = np.int32(x3[k])
        s30 = np.int32(s30 + np.int32(v * a0))
        s31 = np.int32(s31 + np.int32(v * a1))
    return s00, s01, s10, s11, s20, s21, s30, s31


@njit(cache=True)
def _row_sum(w, K):
    s = np.int32(0)
    for k in range(K):
        s = np.int32(s + np.int32(w[k]))
    return s


@njit(cache=True)
def _store(acc, y, n, c, raw, zero, w_sum, scale, bias, has_bias):
    """acc[n, c] = raw − z Σ_k W_q[c, k]; y[n, c] = float32(acc) · scale[c] (+ b[c])."""
    a = np.int32(raw - zero * w_sum)
    acc[n, c] = a
    v = np.float32(a) * scale[c]
    y[n, c] = v + bias[c] if has_bias else v


@njit(cache=True)
def _gemm_pairs(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y, lo, hi):
    """Channel pairs [lo, hi): acc = (x_q − z) W_qᵀ (int32) and y = acc · scale (+ b).

    Each pair's two int8 rows stay in L1 while the input rows stream past them, four at a
    time. The zero point comes out after the product through the channel's weight sum
    (x_q stays uint8, which keeps every product within int16 for ``vpmaddwd``).
    """
    N, K = x_q.shape
    C = w_q.shape[0]
    N4 = N - N % 4
    for cb in range(lo, hi):
        c0 = 2 * cb
        c1 = c0 + 1 if c0 + 1 < C else c0  # an odd last channel pairs with itself
        w0, w1 = w_q[c0], w_q[c1]
        ws0, ws1 = w_sum[c0], w_sum[c1]
        for n in range(0, N4, 4):
            r = _dot_4x2(x_q[n], x_q[n + 1], x_q[n + 2], x_q[n + 3], w0, w1, K)
            for i in range(4):
                _store(acc, y, n + i, c0, r[2 * i], zero, ws0, scale, bias, has_bias)
                _store(acc, y, n + i, c1, r[2 * i + 1], zero, ws1, scale, bias, has_bias)
        for n in range(N4, N):
            s0, s1 = _dot_1x2(x_q[n], w0, w1, K)
            _store(acc, y, n, c0, s0, zero, ws0, scale, bias, has_bias)
            _store(acc, y, n, c1, s1, zero, ws1, scale, bias, has_bias)


@njit(cache=True, parallel=True)
def _gemm_parallel(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y, chunks):
    """:func:`_gemm_pairs` with the channel pairs split into ``chunks`` threads' shares."""
    pairs = (w_q.shape[0] + 1) // 2
    for t in prange(chunks):
        _gemm_pairs(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y,
                    t * pairs // chunks, (t + 1) * pairs // chunks)


@njit(cache=True)
def _row_sums(w_q, out):
    C, K = w_q.shape
    for c in range(C):
        out[c] = _row_sum(w_q[c], K)


def int8_weight_sums(w_q: np.ndarray) -> np.ndarray:
    w_q = np.ascontiguousarray(w_q)
    out = np.empty(w_q.shape[0], np.int32)
    _row_sums(w_q, out)
    return out


PARALLEL_MIN_WORK = 1 << 22  # N·C·K below this runs on one thread: ~100 µs of work; a launch
# costs ~10 µs, and far more while another pool (BLAS) spins on the same cores


def int8_linear(x_q: np.ndarray, x_scale: float, x_zero: int, w_q: np.ndarray,
                w_scale: np.ndarray, bias: np.ndarray | None,
                w_sum: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """As the NumPy twin. 7-bit activations (x_q ≤ 127, K ≥ 32) on an AVX2 CPU take the
    ``vpmaddubsw`` kernel (``quant_avx2``), anything else the int32-lane one; both exact."""
    return _int8_linear(x_q, x_scale, x_zero, w_q, w_scale, bias, w_sum, path="auto")


def avx2_applies(x_q: np.ndarray) -> bool:
    """Whether ``int8_linear`` would run ``x_q`` (uint8 (N, K)) on the vpmaddubsw kernel."""
    avx2 = _avx2_module()
    return (avx2 is not None and x_q.shape[1] >= avx2.STEP
            and _max_u8(x_q.reshape(-1)) <= 127)


@njit(cache=True)
def _max_u8(x):
    m = np.uint8(0)
    for i in range(x.size):
        m = max(m, x[i])
    return m


_AVX2 = []  # [module or None], filled on first use (importing it probes the CPU)


def _avx2_module():
    if not _AVX2:
        from . import quant_avx2

        _AVX2.append(quant_avx2 if quant_avx2.AVAILABLE else None)
    return _AVX2[0]


def _int8_linear(x_q, x_scale, x_zero, w_q, w_scale, bias, w_sum, path: str):
    """path: "auto", "avx2" (the caller checked ``avx2_applies``) or "lanes" (int32 lanes)."""
    x_q, w_q = np.ascontiguousarray(x_q), np.ascontiguousarray(w_q)
    N, K = x_q.shape
    C = w_q.shape[0]
    acc = np.empty((N, C), np.int32)
    y = np.empty((N, C), np.float32)
    if w_sum is None:
        w_sum = int8_weight_sums(w_q)
    scale = np.multiply(w_scale, np.float32(x_scale), dtype=np.float32)  # as the twin: f32 · f32
    b = _NO_BIAS if bias is None else np.ascontiguousarray(bias, np.float32)
    args = (x_q, w_q, np.int32(x_zero), np.ascontiguousarray(w_sum, np.int32), scale, b,
            bias is not None, acc, y)
    if path == "avx2" or (path == "auto" and avx2_applies(x_q)):
        parallel, pairs = _avx2_module()._gemm_parallel, _avx2_module()._gemm_pairs
    else:
        parallel, pairs = _gemm_parallel, _gemm_pairs
    if N * C * K >= PARALLEL_MIN_WORK and C > 2 and (threads := numba.get_num_threads()) > 1:
        parallel(*args, min(threads, (C + 1) // 2))
    else:
        pairs(*args, 0, (C + 1) // 2)
    return y, acc


_NO_BIAS = np.zeros(0, np.float32)  # never read: has_bias is False


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
    acc, y = np.empty((2, 5), np.int32), np.empty((2, 5), np.float32)
    _gemm_parallel(xq, q, np.int32(3), int8_weight_sums(q), s, s, True, acc, y, 2)
    int8_im2col(np.ones((1, 1, 3, 3), np.uint8), (2, 2), (1, 1), (1, 1), 3)
    quant_avx2 = _avx2_module()
    _max_u8(np.ones(3, np.uint8))
    if quant_avx2 is not None:
        xq = np.ones((4, 33), np.uint8)
        q, s = quantize_weight_per_channel(np.ones((3, 33), np.float32))
        int8_linear(xq, 0.1, 3, q, s, None)
        acc, y = np.empty((4, 3), np.int32), np.empty((4, 3), np.float32)
        quant_avx2._gemm_parallel(xq, q, np.int32(3), int8_weight_sums(q), s, s, True, acc, y, 2)
