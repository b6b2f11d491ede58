"""conv kernels: Numba twins of kernels/reference/conv.py, same signatures.

im2col + one GEMM. Numba lays every receptive field out as a column of
``cols (C·kh·kw, N·H_out·W_out)`` — row ``(c, u, v)`` holds, for every output pixel of every
sample, the input value tap ``(u, v)`` of channel ``c`` reads — and NumPy's BLAS does the
one large product ``W (O, C·kh·kw) @ cols``. Each row of ``cols`` is a run of contiguous
copies from the input, so building it is memcpy-like; the backward pass builds the same
``cols`` again, gets ``∂L/∂W = G @ colsᵀ`` and ``∂L/∂cols = Wᵀ @ G`` as two more GEMMs, and
col2im adds the kh·kw shifted slices of ``∂L/∂cols`` back onto the input (never
``np.add.at``). With stride 1 and as many output as input columns ("same" width), a tap of a
whole image plane is one shifted run, and im2col/col2im copy or add whole planes (2× and
1.4× faster than row by row at 16×16).

Design notes (measured on 2 cores, see docs/performance.md and benchmarks/RESULTS.md):
- The Numba helpers are serial. Numba's OpenMP threads and OpenBLAS's threads both spin
  after work, and alternating them around every GEMM made a conv 2–5× slower than running
  the copy loops on one thread and giving both cores to BLAS.
- Inner loops index with unsigned integers: a signed index makes Numba emit a negative-index
  wrap-around check per element, which blocked vectorisation (3× slower copies).
- ``cols`` and the GEMM output live in per-thread workspaces that are reused across calls:
  fresh multi-MB buffers cost a page fault per 4 KiB on every call. A batch whose columns
  would exceed ``COLUMN_BUDGET`` elements is processed a few samples at a time.
- Tried and measured slower, so not here: keeping the forward's ``cols`` for the backward
  (1.72–1.77× torch against 1.57–1.58× at 64→128, 16×16, even from a reused buffer: a
  second 19 MB array in flight costs more than rebuilding into the hot one); Winograd
  F(2×2, 3×3) (16 GEMMs with 16/36 of the multiplications, but its input/output transforms
  and the NCHW <-> tile-layout transposes cost as much as the GEMM time saved: 1.10× im2col's
  time at 16×16, 1.2× at 13×13, 0.85× at 8×8); sample chunks small enough for L2 (GEMMs on
  fewer columns lose more than the cache saves: 21.8 ms at 8 MB chunks against 20.8).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..workspace import release, workspace

__all__ = ["conv2d_forward", "conv2d_backward", "conv1d_forward", "conv1d_backward"]

Pair = tuple[int, int]

def release_workspace() -> None:
    """Free this thread's scratch buffers (they grow to the largest conv seen so far)."""
    release()


# ---------------------------------------------------------------------------------------------
# Numba helpers


# inline: typed inside each caller instead of compiled as a function of its own (~0.15 s
# less at a cold first conv, measured on an AMD EPYC Zen 4)
@njit(cache=True, inline="always")
def _tap_range(off: int, stride: int, size: int, n_out: int):
    """Output positions o in [lo, hi) whose input index o·stride + off lies in [0, size)."""
    lo = 0
    if off < 0:
        lo = (-off + stride - 1) // stride
    hi = 0
    if size - 1 - off >= 0:
        hi = (size - 1 - off) // stride + 1
        if hi > n_out:
            hi = n_out
    if lo > hi:
        lo = hi
    return lo, hi


@njit(cache=True)
def _im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
    """(N, C, H, W) -> cols (C·kh·kw, N·Ho·Wo); zero where a tap reads the padding."""
    N, C, H, W = x.shape
    L = Ho * Wo
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    zero = x.dtype.type(0)
    usw = np.uint64(sw)
    uWo = np.uint64(Wo)
    for r in range(C * kh * kw):
        c = r // (kh * kw)
        u = (r // kw) % kh
        v = r % kw
        off_w = v * dw - pw
        lo, hi = _tap_range(off_w, sw, W, Wo)
        ulo, uhi = np.uint64(lo), np.uint64(hi)
        for n in range(N):
            for i in range(Ho):
                ih = i * sh - ph + u * dh
                d = np.uint64((r * N + n) * L + i * Wo)  # start of this output row in cols
                if ih < 0 or ih >= H:
                    for t in range(uWo):
                        cf[d + t] = zero
                    continue
                s = np.uint64(((n * C + c) * H + ih) * W + lo * sw + off_w)  # first pixel read
                for t in range(ulo):
                    cf[d + t] = zero
                dd = d + ulo
                if sw == 1:  # contiguous run: vectorises
                    for t in range(uhi - ulo):
                        cf[dd + t] = xf[s + t]
                else:
                    for t in range(uhi - ulo):
                        cf[dd + t] = xf[s + t * usw]
                for t in range(uhi, uWo):
                    cf[d + t] = zero


@njit(cache=True)
def _col2im(gcols, gx, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
    """gx (N, C, H, W) = Σ over taps of the shifted slices of gcols (C·kh·kw, N·Ho·Wo)."""
    N, C, H, W = gx.shape
    L = Ho * Wo
    gf = gx.reshape(-1)
    cf = gcols.reshape(-1)
    usw = np.uint64(sw)
    gf[:] = 0
    for n in range(N):
        for c in range(C):  # each (n, c) plane of gx is finished before the next one starts
            for u in range(kh):
                for v in range(kw):
                    r = (c * kh + u) * kw + v
                    off_w = v * dw - pw
                    lo, hi = _tap_range(off_w, sw, W, Wo)
                    m = np.uint64(hi - lo)
                    for i in range(Ho):
                        ih = i * sh - ph + u * dh
                        if ih < 0 or ih >= H:
                            continue
                        s = np.uint64((r * N + n) * L + i * Wo + lo)
                        d = np.uint64(((n * C + c) * H + ih) * W + lo * sw + off_w)
                        if sw == 1:
                            for t in range(m):
                                gf[d + t] += cf[s + t]
                        else:
                            for t in range(m):
                                gf[d + t * usw] += cf[s + t]


# Stride 1 with as many output columns as input columns ("same" width, e.g. 3×3 with padding
# 1): a tap (u, v) of a whole image plane is then ONE shift of the flattened plane, by
# (u·dh - ph)·W + (v·dw - pw), except for the |v·dw - pw| columns per row that wrap around
# into the neighbouring row. Copying (or adding) the plane as one run of up to H·W elements
# and then fixing the wrapped columns vectorises far better than the general row-by-row
# loops, whose runs are only W_out long (too short for LLVM's vector loop at W = 16).


@njit(cache=True)
def _same_width_span(off_h, off_w, H, W, Ho):
    """(i_lo, i_hi, t0, t1): output rows whose input row is inside, and the flat output range
    [t0, t1) whose shifted input index t + off_h·W + off_w stays inside the plane."""
    i_lo, i_hi = _tap_range(off_h, 1, H, Ho)
    t0 = i_lo * W + max(0, -off_w)
    t1 = max(t0, i_hi * W - max(0, off_w))
    return i_lo, i_hi, t0, t1


@njit(cache=True)
def _im2col_same_width(x, cols, kh, kw, ph, pw, dh, dw, Ho):
    """_im2col for stride 1 and W_out == W: one shifted run per (tap, plane), then the wrapped
    columns and the rows that read padding are zeroed."""
    N, C, H, W = x.shape
    L = Ho * W
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    zero = x.dtype.type(0)
    for r in range(C * kh * kw):
        c = r // (kh * kw)
        off_h = ((r // kw) % kh) * dh - ph
        off_w = (r % kw) * dw - pw
        i_lo, i_hi, t0, t1 = _same_width_span(off_h, off_w, H, W, Ho)
        shift = off_h * W + off_w
        for n in range(N):
            d = np.uint64((r * N + n) * L)
            s = np.uint64((n * C + c) * H * W + t0 + shift)
            for t in range(np.uint64(0), np.uint64(i_lo * W)):
                cf[d + t] = zero
            for t in range(np.uint64(t1 - t0)):
                cf[d + np.uint64(t0) + t] = xf[s + t]
            for t in range(np.uint64(i_hi * W), np.uint64(L)):
                cf[d + t] = zero
            for i in range(i_lo, i_hi):  # the wrapped columns read padding
                row = d + np.uint64(i * W)
                for j in range(0, min(W, -off_w)):
                    cf[row + np.uint64(j)] = zero
                for j in range(max(0, W - off_w), W):
                    cf[row + np.uint64(j)] = zero


@njit(cache=True)
def _col2im_same_width(gcols, gx, kh, kw, ph, pw, dh, dw, Ho):
    """_col2im for stride 1 and W_out == W; zeroes the wrapped columns of ``gcols`` (scratch)
    and adds each tap's block onto its plane as one shifted run."""
    N, C, H, W = gx.shape
    L = Ho * W
    gf = gx.reshape(-1)
    cf = gcols.reshape(-1)
    zero = gx.dtype.type(0)
    gf[:] = zero
    for n in range(N):
        for c in range(C):
            for u in range(kh):
                for v in range(kw):
                    r = (c * kh + u) * kw + v
                    off_h, off_w = u * dh - ph, v * dw - pw
                    i_lo, i_hi, t0, t1 = _same_width_span(off_h, off_w, H, W, Ho)
                    s = np.uint64((r * N + n) * L)
                    for i in range(i_lo, i_hi):
                        row = s + np.uint64(i * W)
                        for j in range(0, min(W, -off_w)):
                            cf[row + np.uint64(j)] = zero
                        for j in range(max(0, W - off_w), W):
                            cf[row + np.uint64(j)] = zero
                    d = np.uint64((n * C + c) * H * W + t0 + off_h * W + off_w)
                    s += np.uint64(t0)
                    for t in range(np.uint64(t1 - t0)):
                        gf[d + t] += cf[s + t]


@njit(cache=True)
def _gemm_out_to_nchw(out, bias, y):
    """out (O, N·L) -> y (N, O, L) with the bias added in the same pass."""
    N, O, L = y.shape
    uL = np.uint64(L)
    of = out.reshape(-1)
    yf = y.reshape(-1)
    for n in range(N):
        for o in range(O):
            b = bias[o]
            s = np.uint64((o * N + n) * L)
            d = np.uint64((n * O + o) * L)
            for t in range(uL):
                yf[d + t] = of[s + t] + b


@njit(cache=True, fastmath={"reassoc"})  # reassoc lets the bias sum vectorise
def _grad_to_gemm(grad_y, g, gb):
    """grad_y (N, O, L) -> g (O, N·L); gb[o] = Σ_{n,l} grad_y[n, o, l] (gb is float64)."""
    N, O, L = grad_y.shape
    uL = np.uint64(L)
    gyf = grad_y.reshape(-1)
    gf = g.reshape(-1)
    for o in range(O):
        acc = 0.0
        for n in range(N):
            s = np.uint64((n * O + o) * L)
            d = np.uint64((o * N + n) * L)
            for t in range(uL):
                gf[d + t] = gyf[s + t]
            # the sum in a loop of its own, with no stores: its order must not depend on
            # which of LLVM's loop versions the addresses select (see softmax.py)
            for t in range(uL):
                acc += gyf[s + t]
        gb[o] = acc


# ---------------------------------------------------------------------------------------------
# kernels


def _same_width(sh: int, sw: int, Wo: int, W: int) -> bool:
    """Stride 1 and as many output as input columns: the whole-plane im2col/col2im apply."""
    return sh == sw == 1 and Wo == W


def _im2col_any(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo) -> None:
    if _same_width(sh, sw, Wo, x.shape[3]):
        _im2col_same_width(x, cols, kh, kw, ph, pw, dh, dw, Ho)
    else:
        _im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)


def _col2im_any(gcols, gx, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo) -> None:
    if _same_width(sh, sw, Wo, gx.shape[3]):
        _col2im_same_width(gcols, gx, kh, kw, ph, pw, dh, dw, Ho)
    else:
        _col2im(gcols, gx, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


# Columns for at most this many elements at once (128 MB in float32): larger batches are
# done in chunks of samples, so a 224×224 batch does not need a multi-GB im2col buffer.
COLUMN_BUDGET = 1 << 25


def _chunks(N: int, per_sample: int):
    """Sample ranges [n0, n1) whose columns fit in COLUMN_BUDGET elements."""
    step = max(1, min(N, COLUMN_BUDGET // max(per_sample, 1)))
    return [(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   stride: Pair, padding: Pair, dilation: Pair) -> np.ndarray:
    """y = x ⋆ w + b: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> y (N, O, Ho, Wo)."""
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho, Wo = _out_size(H, kh, sh, ph, dh), _out_size(W, kw, sw, pw, dw)
    K, L = C * kh * kw, Ho * Wo
    w2 = weight.reshape(O, K)
    b = bias if bias is not None else np.zeros(O, x.dtype)
    y = np.empty((N, O, Ho, Wo), x.dtype)
    for n0, n1 in _chunks(N, K * L):
        cols = workspace("conv.cols", (K, (n1 - n0) * L), x.dtype)
        _im2col_any(x[n0:n1], cols, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)  # (K, n·L)
        out = workspace("conv.gemm", (O, (n1 - n0) * L), x.dtype)
        np.matmul(w2, cols, out=out)  # (O, K) @ (K, n·L) -> (O, n·L)
        _gemm_out_to_nchw(out, b, y[n0:n1].reshape(n1 - n0, O, L))  # + bias -> (n, O, L)
    return y


def conv2d_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: Pair, padding: Pair, dilation: Pair,
                    needs: tuple[bool, bool, bool] = (True, True, True)
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(∂L/∂x, ∂L/∂w, ∂L/∂b) from g = ∂L/∂y (N, O, H_out, W_out); ``needs`` skips the unwanted."""
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho, Wo = grad_y.shape[2], grad_y.shape[3]
    K, L = C * kh * kw, Ho * Wo
    chunks = _chunks(N, K * L)
    gx = np.empty_like(x) if needs[0] else None
    gw_t = np.zeros((K, O), x.dtype) if needs[1] else None  # ∂L/∂w transposed, (K, O)
    gb = np.zeros(O, np.float64)
    gb_part = np.empty(O, np.float64)
    for n0, n1 in chunks:
        n = n1 - n0
        g = workspace("conv.gemm", (O, n * L), x.dtype)
        _grad_to_gemm(grad_y[n0:n1].reshape(n, O, L), g, gb_part)  # -> (O, n·L), Σ -> (O,)
        gb += gb_part
        if needs[1]:
            # rebuilt, not kept from the forward: holding a second multi-MB array between the
            # passes measured slower (1.72-1.77x torch against 1.57 at 64->128, 16x16), even
            # from a reused buffer, than writing the columns again into the one hot buffer
            cols = workspace("conv.cols", (K, n * L), x.dtype)
            _im2col_any(x[n0:n1], cols, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)  # (K, n·L)
            # (K, n·L) @ (n·L, O) -> (K, O): ~15 % faster in OpenBLAS than g @ cols.T
            gw_t += np.matmul(cols, g.T)
        if needs[0]:
            gcols = workspace("conv.cols", (K, n * L), x.dtype)  # cols is done with
            np.matmul(weight.reshape(O, K).T, g, out=gcols)  # (K, O) @ (O, n·L) -> ∂L/∂cols
            _col2im_any(gcols, gx[n0:n1], kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)  # (n, C, H, W)
    gw = None
    if gw_t is not None:
        gw = np.empty(weight.shape, x.dtype)
        gw.reshape(O, K)[...] = gw_t.T  # written into an array of its own (no reshaped view)
    return gx, gw, (gb.astype(x.dtype) if needs[2] else None)


def _as_2d(stride: tuple[int], padding: tuple[int], dilation: tuple[int]):
    return (1, stride[0]), (0, padding[0]), (1, dilation[0])


def conv1d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   stride: tuple[int], padding: tuple[int], dilation: tuple[int]) -> np.ndarray:
    """x (N, C, L), w (O, C, k), b (O,) or None -> y (N, O, L_out): conv2d on height 1."""
    y = conv2d_forward(x[:, :, None, :], weight[:, :, None, :], bias,
                       *_as_2d(stride, padding, dilation))
    return y[:, :, 0, :]


def conv1d_backward(grad_y: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: tuple[int], padding: tuple[int], dilation: tuple[int],
                    needs: tuple[bool, bool, bool] = (True, True, True)):
    """(∂L/∂x (N, C, L), ∂L/∂w (O, C, k), ∂L/∂b (O,)) from g (N, O, L_out)."""
    gx, gw, gb = conv2d_backward(grad_y[:, :, None, :], x[:, :, None, :], weight[:, :, None, :],
                                 *_as_2d(stride, padding, dilation), needs)
    return (None if gx is None else gx[:, :, 0, :],
            None if gw is None else gw[:, :, 0, :], gb)


def warmup() -> None:
    """Compile (or load from cache) every helper for float32 and float64."""
    for dt in (np.float32, np.float64):
        x = np.ones((1, 2, 5, 5), dt)
        w = np.ones((3, 2, 3, 3), dt)
        y = conv2d_forward(x, w, np.ones(3, dt), (2, 1), (1, 0), (1, 2))
        conv2d_backward(np.ones_like(y), x, w, (2, 1), (1, 0), (1, 2))
        y = conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1))  # the same-width path
        conv2d_backward(np.ones_like(y), x, w, (1, 1), (1, 1), (1, 1))
        x1, w1 = np.ones((1, 2, 5), dt), np.ones((3, 2, 3), dt)
        y1 = conv1d_forward(x1, w1, None, (1,), (1,), (1,))
        conv1d_backward(np.ones_like(y1), x1, w1, (1,), (1,), (1,))
