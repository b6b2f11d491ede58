"""Grouped 2-D convolution (``groups > 1``, depthwise when ``groups = C``): NumPy reference.

The channels split into ``G`` groups; group ``g`` convolves its ``C/G`` input channels into
its ``O/G`` output channels with its own weights. For x (N, C, H, W) and w (O, C/G, kh, kw),
with ``g(o) = o // (O/G)`` the group of output channel ``o``::

    y[n, o, i, j] = b[o] + Σ_{c < C/G, u, v} x_pad[n, g(o)·C/G + c, i·s_h + u·d_h, j·s_w + v·d_w]
                                              · w[o, c, u, v]

The gradients are ``conv2d_backward``'s (kernels/reference/conv.py) applied group by group.
"""

from __future__ import annotations

import numpy as np

from .conv import Pair, _windows

__all__ = ["conv2d_grouped_forward", "conv2d_grouped_backward"]


def conv2d_grouped_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           stride: Pair, padding: Pair, dilation: Pair,
                           groups: int) -> np.ndarray:
    """x (N, C, H, W), w (O, C/G, kh, kw), b (O,) or None -> y (N, O, Ho, Wo)."""
    N, C = x.shape[:2]
    O, Cg, kh, kw = weight.shape
    win = _windows(x, (kh, kw), stride, padding, dilation)  # (N, C, Ho, Wo, kh, kw)
    Ho, Wo = win.shape[2:4]
    win = win.reshape(N, groups, Cg, Ho, Wo, kh, kw)  # channels split by group
    wg = weight.reshape(groups, O // groups, Cg, kh, kw)  # (G, O/G, C/G, kh, kw)
    y = np.einsum("ngcijuv,gocuv->ngoij", win, wg, optimize=True).reshape(N, O, Ho, Wo)
    if bias is not None:
        y += bias[:, None, None]
    return np.ascontiguousarray(y, dtype=x.dtype)


def conv2d_grouped_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                            stride: Pair, padding: Pair, dilation: Pair, groups: int,
                            needs: tuple[bool, bool, bool] = (True, True, True)):
    """(∂L/∂x (N, C, H, W), ∂L/∂w (O, C/G, kh, kw), ∂L/∂b (O,)) from g (N, O, Ho, Wo);
    ``needs`` skips the unwanted; ``x`` is only read for ∂L/∂w."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    _, _, Ho, Wo = grad_y.shape
    gyg = grad_y.reshape(N, groups, O // groups, Ho, Wo)  # (N, G, O/G, Ho, Wo)
    wg = weight.reshape(groups, O // groups, Cg, kh, kw)
    gx = gw = gb = None
    if needs[0]:
        gxp = np.zeros((N, groups, Cg, H + 2 * ph, W + 2 * pw), dtype=grad_y.dtype)
        for u in range(kh):
            for v in range(kw):
                # (N, G, O/G, Ho, Wo) x (G, O/G, C/G) -> (N, G, C/G, Ho, Wo): tap (u, v) sends back
                contrib = np.einsum("ngoij,goc->ngcij", gyg, wg[:, :, :, u, v])
                rows = slice(u * dh, u * dh + sh * (Ho - 1) + 1, sh)
                cols = slice(v * dw, v * dw + sw * (Wo - 1) + 1, sw)
                gxp[:, :, :, rows, cols] += contrib
        gx = np.ascontiguousarray(gxp[..., ph:ph + H, pw:pw + W].reshape(N, C, H, W),
                                  dtype=x.dtype)
    if needs[1]:
        win = _windows(x, (kh, kw), stride, padding, dilation).reshape(
            N, groups, Cg, Ho, Wo, kh, kw)
        # Σ_{n, i, j} (N, G, O/G, Ho, Wo) · (N, G, C/G, Ho, Wo, kh, kw) -> (G, O/G, C/G, kh, kw)
        gw = np.einsum("ngoij,ngcijuv->gocuv", gyg, win, optimize=True)
        gw = np.ascontiguousarray(gw.reshape(O, Cg, kh, kw), dtype=x.dtype)
    if needs[2]:
        gb = grad_y.sum(axis=(0, 2, 3)).astype(x.dtype)
    return gx, gw, gb
