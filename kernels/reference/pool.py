"""pool kernels: NumPy reference twins (see kernels/__init__.py).

The seed's max pooling is ``o(i,j) = max_p x(i-p+1, j-p+1)``. With PyTorch's conventions,
for x (N, C, H, W), window (kh, kw), stride s and padding p (per dim)::

    max:       o[n, c, i, j] = max_{u<kh, v<kw} x_pad[n, c, i·s_h + u, j·s_w + v]   (pad = −inf)
    average:   o[n, c, i, j] = (1 / (kh·kw)) Σ_{u, v} x_pad[...]                      (pad = 0,
               the padding counts in the divisor: PyTorch's count_include_pad=True)
    adaptive:  o[n, c, i, j] = mean of x[n, c, h0(i):h1(i), w0(j):w1(j)],
               h0(i) = floor(i·H / H_out), h1(i) = ceil((i + 1)·H / H_out)

    H_out = floor((H + 2·p_h − kh) / s_h) + 1        (PyTorch's ceil_mode=False)

Max pooling also returns, per output, the flat index ``h·W + w`` of the input element it
took (PyTorch's ``return_indices``), so its backward is a scatter of the gradient onto those
elements. Ties go to the first maximum in row-major window order (PyTorch's CPU rule); a NaN
in a window wins, and among several NaNs the last one does (PyTorch: ``val > max || isnan``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "max_pool2d_forward", "max_pool2d_values", "max_pool2d_backward",
    "max_pool1d_forward", "max_pool1d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
]

Pair = tuple[int, int]


def pool_output_size(size: int, k: int, stride: int, padding: int) -> int:
    """PyTorch's pooled length with ceil_mode=False: floor((size + 2p − k) / s) + 1."""
    return (size + 2 * padding - k) // stride + 1


def _windows(xp: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """(..., Hp, Wp) -> (..., H_out, W_out, kh, kw): every pooling window, as a view."""
    return sliding_window_view(xp, kernel, axis=(-2, -1))[..., ::stride[0], ::stride[1], :, :]


def max_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                       ) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W) -> (o (N, C, H_out, W_out), argmax (N, C, H_out, W_out) int64 into H·W)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    pads = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    xp = np.pad(x, pads, constant_values=-np.inf)  # (N, C, H + 2ph, W + 2pw)
    win = _windows(xp, (kh, kw), (sh, sw))  # (N, C, Ho, Wo, kh, kw)
    Ho, Wo = win.shape[2:4]
    win = win.reshape(N, C, Ho, Wo, kh * kw)  # window in row-major order: k = u·kw + v
    real = _windows(np.pad(np.ones((H, W), bool), pads[2:]), (kh, kw), (sh, sw))
    real = real.reshape(Ho, Wo, kh * kw)  # True where the window sees x, False on padding

    out = win.max(axis=-1)  # (N, C, Ho, Wo); a NaN in the window gives NaN
    first_max = np.argmax((win == out[..., None]) & real, axis=-1)  # first real maximum
    nan = np.isnan(win)
    last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)
    k = np.where(nan.any(axis=-1), last_nan, first_max)  # (N, C, Ho, Wo) window offsets

    u, v = np.divmod(k, kw)  # offset -> (row, col) inside the window
    rows = np.arange(Ho)[:, None] * sh - ph + u  # input row of the chosen element
    cols = np.arange(Wo)[None, :] * sw - pw + v
    return np.ascontiguousarray(out, dtype=x.dtype), (rows * W + cols).astype(np.int64)


def max_pool2d_values(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                      ) -> np.ndarray:
    """The values of :func:`max_pool2d_forward` only: the forward when no gradient is needed
    (no argmax is computed or stored, as PyTorch's forward under ``no_grad``)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    out = _windows(xp, (kh, kw), (sh, sw)).max(axis=(-2, -1))  # a NaN in the window wins
    return np.ascontiguousarray(out, dtype=x.dtype)


def max_pool2d_backward(grad_out: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...]
                        ) -> np.ndarray:
    """∂L/∂x[n, c, argmax[n, c, i, j]] += g[n, c, i, j]: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    gx = np.zeros((N * C, H * W), dtype=grad_out.dtype)  # one row per (n, c) plane
    planes = np.arange(N * C)[:, None]  # (N·C, 1) broadcast against (N·C, Ho·Wo)
    # add.at, not fancy-index +=: overlapping windows can pick the same element twice
    np.add.at(gx, (planes, argmax.reshape(N * C, -1)), grad_out.reshape(N * C, -1))
    return gx.reshape(N, C, H, W)


def max_pool1d_forward(x: np.ndarray, kernel_size: tuple[int], stride: tuple[int],
                       padding: tuple[int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, L) -> (o (N, C, L_out), argmax (N, C, L_out) int64): max_pool2d on height 1."""
    out, idx = max_pool2d_forward(x[:, :, None, :], (1, kernel_size[0]), (1, stride[0]),
                                  (0, padding[0]))
    return out[:, :, 0, :], idx[:, :, 0, :]


def max_pool1d_backward(grad_out: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...]
                        ) -> np.ndarray:
    """g (N, C, L_out) scattered onto x (N, C, L) at argmax."""
    N, C, L = x_shape
    return max_pool2d_backward(grad_out[:, :, None, :], argmax[:, :, None, :],
                               (N, C, 1, L))[:, :, 0, :]


def avg_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                       ) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H_out, W_out): window means, zero padding counted."""
    (ph, pw) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H + 2ph, W + 2pw)
    win = _windows(xp, kernel_size, stride)  # (N, C, Ho, Wo, kh, kw)
    return np.ascontiguousarray(win.mean(axis=(-2, -1)), dtype=x.dtype)


def avg_pool2d_backward(grad_out: np.ndarray, x_shape: tuple[int, ...], kernel_size: Pair,
                        stride: Pair, padding: Pair) -> np.ndarray:
    """Each output spreads g / (kh·kw) over its window: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    _, _, Ho, Wo = grad_out.shape
    share = grad_out / grad_out.dtype.type(kh * kw)  # (N, C, Ho, Wo)
    gxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=grad_out.dtype)
    for u in range(kh):
        for v in range(kw):  # tap (u, v) of every window, as one strided slice
            gxp[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw] += share
    return np.ascontiguousarray(gxp[:, :, ph:ph + H, pw:pw + W])


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins: [floor(i·size/out), ceil((i+1)·size/out)) for i < out."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: Pair) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H_out, W_out), each output the mean of its (possibly
    overlapping) bin of rows × cols."""
    N, C, H, W = x.shape
    out = np.empty((N, C, *output_size), dtype=x.dtype)
    for i, (h0, h1) in enumerate(adaptive_bins(H, output_size[0])):
        for j, (w0, w1) in enumerate(adaptive_bins(W, output_size[1])):
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def adaptive_avg_pool2d_backward(grad_out: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """Each output spreads g / |bin| over its bin: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    _, _, Ho, Wo = grad_out.shape
    gx = np.zeros(x_shape, dtype=grad_out.dtype)
    for i, (h0, h1) in enumerate(adaptive_bins(H, Ho)):
        for j, (w0, w1) in enumerate(adaptive_bins(W, Wo)):
            count = grad_out.dtype.type((h1 - h0) * (w1 - w0))
            gx[:, :, h0:h1, w0:w1] += (grad_out[:, :, i, j] / count)[:, :, None, None]
    return gx
