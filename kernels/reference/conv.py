"""conv kernels: NumPy reference twins (see kernels/__init__.py).

The seed writes convolution as ``y(i,j) = Σ_p x(i-p+1, j-p+1) · w(p)``. Like PyTorch (and
Keras) we implement the *cross-correlation* form, which is the same operation with the
kernel flipped and is what every deep-learning library calls "conv". For input
``x (N, C, H, W)``, weight ``w (O, C, kh, kw)``, stride ``s``, zero padding ``p`` and
dilation ``d`` (each a pair (rows, cols))::

    y[n, o, i, j] = b[o] + Σ_{c, u, v} x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w] · w[o, c, u, v]

    H_out = floor((H + 2·p_h − d_h·(kh − 1) − 1) / s_h) + 1      (W_out likewise)

The gradients are the same sum read backwards::

    ∂L/∂w[o, c, u, v] = Σ_{n, i, j} g[n, o, i, j] · x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]
    ∂L/∂x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w] += Σ_o g[n, o, i, j] · w[o, c, u, v]
    ∂L/∂b[o] = Σ_{n, i, j} g[n, o, i, j]

The 1-D kernels are the 2-D ones on a height-1 image. Every kernel keeps the input dtype.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv2d_forward", "conv2d_backward", "conv1d_forward", "conv1d_backward"]

Pair = tuple[int, int]


def conv_output_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """PyTorch's output length: floor((size + 2p − d(k − 1) − 1) / s) + 1."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
             ) -> np.ndarray:
    """Every receptive field of the zero-padded input, as a strided view (no copy).

    (N, C, H, W) -> (N, C, H_out, W_out, kh, kw)
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H + 2ph, W + 2pw)
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # extent of a dilated kernel
    win = sliding_window_view(xp, span, axis=(2, 3))  # (N, C, Hp-span+1, Wp-span+1, span_h, span_w)
    return win[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, kh, kw)


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   stride: Pair, padding: Pair, dilation: Pair) -> np.ndarray:
    """y = x ⋆ w + b: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> y (N, O, Ho, Wo)."""
    win = _windows(x, weight.shape[2:], stride, padding, dilation)  # (N, C, Ho, Wo, kh, kw)
    y = np.einsum("ncijuv,ocuv->noij", win, weight, optimize=True)  # (N, O, Ho, Wo)
    if bias is not None:
        y += bias[:, None, None]  # (O, 1, 1) broadcast over (N, O, Ho, Wo)
    return np.ascontiguousarray(y, dtype=x.dtype)


def _grad_input(grad_y: np.ndarray, weight: np.ndarray, x_shape: tuple[int, ...],
                stride: Pair, padding: Pair, dilation: Pair) -> np.ndarray:
    """∂L/∂x: every tap (u, v) scatters g·w[:, :, u, v] back onto the pixels it read."""
    N, C, H, W = x_shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    _, _, Ho, Wo = grad_y.shape
    gxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=grad_y.dtype)  # padded input grad
    for u in range(weight.shape[2]):
        for v in range(weight.shape[3]):
            # (N, O, Ho, Wo) x (O, C) -> (N, C, Ho, Wo): what tap (u, v) sends back
            contrib = np.einsum("noij,oc->ncij", grad_y, weight[:, :, u, v])
            rows = slice(u * dh, u * dh + sh * (Ho - 1) + 1, sh)  # pixels tap (u, v) read
            cols = slice(v * dw, v * dw + sw * (Wo - 1) + 1, sw)
            gxp[:, :, rows, cols] += contrib
    return gxp[:, :, ph:ph + H, pw:pw + W]  # drop the padding: (N, C, H, W)


def conv2d_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: Pair, padding: Pair, dilation: Pair,
                    needs: tuple[bool, bool, bool] = (True, True, True)
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(∂L/∂x, ∂L/∂w, ∂L/∂b) from g = ∂L/∂y (N, O, H_out, W_out); ``needs`` skips the unwanted.

    Shapes: ∂L/∂x like x (N, C, H, W), ∂L/∂w like w (O, C, kh, kw), ∂L/∂b (O,).
    """
    gx = gw = gb = None
    if needs[0]:
        gx = np.ascontiguousarray(
            _grad_input(grad_y, weight, x.shape, stride, padding, dilation), dtype=x.dtype)
    if needs[1]:
        win = _windows(x, weight.shape[2:], stride, padding, dilation)  # (N, C, Ho, Wo, kh, kw)
        # Σ over n, i, j of (N, O, Ho, Wo) · (N, C, Ho, Wo, kh, kw) -> (O, C, kh, kw)
        gw = np.ascontiguousarray(
            np.tensordot(grad_y, win, axes=([0, 2, 3], [0, 2, 3])), dtype=x.dtype)
    if needs[2]:
        gb = grad_y.sum(axis=(0, 2, 3)).astype(x.dtype)  # (N, O, Ho, Wo) -> (O,)
    return gx, gw, gb


def _as_2d(stride: tuple[int], padding: tuple[int], dilation: tuple[int]):
    """1-D arguments as 2-D ones over a height-1 image: (s,) -> (1, s), (p,) -> (0, p)."""
    return (1, stride[0]), (0, padding[0]), (1, dilation[0])


def conv1d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   stride: tuple[int], padding: tuple[int], dilation: tuple[int]) -> np.ndarray:
    """y[n, o, i] = b[o] + Σ_{c,u} x_pad[n, c, i·s + u·d] w[o, c, u].

    x (N, C, L), w (O, C, k), b (O,) or None -> y (N, O, L_out); stride etc. are 1-tuples.
    """
    y = conv2d_forward(x[:, :, None, :], weight[:, :, None, :], bias,
                       *_as_2d(stride, padding, dilation))  # (N, O, 1, L_out)
    return y[:, :, 0, :]


def conv1d_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: tuple[int], padding: tuple[int], dilation: tuple[int],
                    needs: tuple[bool, bool, bool] = (True, True, True)):
    """(∂L/∂x (N, C, L), ∂L/∂w (O, C, k), ∂L/∂b (O,)) from g (N, O, L_out)."""
    gx, gw, gb = conv2d_backward(grad_y[:, :, None, :], x[:, :, None, :], weight[:, :, None, :],
                                 *_as_2d(stride, padding, dilation), needs)
    return (None if gx is None else gx[:, :, 0, :],
            None if gw is None else gw[:, :, 0, :], gb)
