"""quant kernels: NumPy reference twins of int8 inference (see kernels/__init__.py).

Post-training quantisation stores a float weight matrix ``W (C, K)`` as int8 values and one
float scale per output channel (per-channel symmetric)::

    s_w[c] = max_k |W[c, k]| / 127          (1 where a row is all zero)
    W_q[c, k] = clip(round(W[c, k] / s_w[c]), −127, 127)       so  W ≈ s_w[c] · W_q

and an activation tensor as uint8 with one scale and zero point (per-tensor affine)::

    x ≈ s_x · (x_q − z_x),   x_q = clip(round(x / s_x) + z_x, 0, q_max)

(q_max = 255, or 127 for *7-bit* activations — ``reduce_range`` in ``tinymm.compress``, as
PyTorch's x86 quantisation offers — which lets the AVX2 kernel use ``vpmaddubsw`` exactly.)

A quantised linear layer then computes in integers and rescales once per output::

    acc[n, c] = Σ_k (x_q[n, k] − z_x) · W_q[c, k]
              = Σ_k x_q[n, k] · W_q[c, k]  −  z_x · Σ_k W_q[c, k]          (int32, exact)
    y[n, c]   = s_x · s_w[c] · acc[n, c] + b[c]                             (float32)

Every product ``x_q · W_q`` lies in [−32385, 32385] and fits int16; the int32 sum is exact
for K ≤ 66 000 (255 · 127 · K < 2³¹), which the callers check. Both twins therefore give
**identical** int32 accumulators: the tests compare them exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["quantize_weight_per_channel", "quantize_activation", "int8_weight_sums", "int8_linear",
           "int8_im2col"]

QMAX_W = 127
QMAX_X = 255


def quantize_weight_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W (C, K) float -> (W_q (C, K) int8, s_w (C,) float32), symmetric per output row."""
    w = w.astype(np.float32)  # the scale and the rounding in float32, as the int8 model runs
    amax = np.abs(w).max(axis=1)  # (C,)
    scale = np.where(amax > 0, amax / np.float32(QMAX_W), np.float32(1.0)).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -QMAX_W, QMAX_W).astype(np.int8)
    return q, scale


def quantize_activation(x: np.ndarray, scale: float, zero_point: int,
                        qmax: int = QMAX_X) -> np.ndarray:
    """x float (any shape) -> uint8 ``clip(round(x / s) + z, 0, qmax)`` (qmax 255, or 127 for
    7-bit activations: ``reduce_range``)."""
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, 0, qmax).astype(np.uint8)


def int8_weight_sums(w_q: np.ndarray) -> np.ndarray:
    """W_q (C, K) int8 -> (C,) int32 ``Σ_k W_q[c, k]``, the zero-point correction's factor
    (a layer computes it once, when it is quantised)."""
    return w_q.astype(np.int32).sum(axis=1, dtype=np.int32)


def int8_linear(x_q: np.ndarray, x_scale: float, x_zero: int, w_q: np.ndarray,
                w_scale: np.ndarray, bias: np.ndarray | None,
                w_sum: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(y (N, C) float32, acc (N, C) int32) from x_q (N, K) uint8 and W_q (C, K) int8;
    ``w_sum`` (C,) int32 is :func:`int8_weight_sums` of W_q (computed here when None)."""
    raw = x_q.astype(np.int32) @ w_q.astype(np.int32).T  # (N, C): Σ_k x_q W_q, exact in int32
    if w_sum is None:
        w_sum = int8_weight_sums(w_q)
    acc = raw - np.int32(x_zero) * w_sum.astype(np.int32)[None, :]  # (N, C)
    y = acc.astype(np.float32) * (np.float32(x_scale) * w_scale)[None, :]
    if bias is not None:
        y += bias.astype(np.float32)[None, :]
    return y, acc


def int8_im2col(x_q: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], pad_value: int) -> np.ndarray:
    """x_q (N, C, H, W) uint8 -> rows (N·Ho·Wo, C·kh·kw) uint8, one receptive field per row.

    Padding takes ``pad_value`` (the zero point, so padded pixels mean 0.0 as in a float conv).
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x_q, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    N, C, Ho, Wo = win.shape[:4]  # win (N, C, Ho, Wo, kh, kw)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * kh * kw))
