"""pool kernels: Numba twins of kernels/reference/pool.py, same signatures.

One pass over each (n, c) plane, clipping every window to the input instead of padding
(padding only ever adds −inf or zeros, which never win a max and the average counts as
kh·kw anyway). Planes are split over Numba's thread count with plain Python threads and
``nogil`` kernels (kernels/jit/threads.py), not ``prange``: these kernels sit between GEMMs,
and Numba's OpenMP threads spinning against OpenBLAS's threads cost more than a core gains.
Max pooling keeps PyTorch's CPU rule ``val > best or isnan(val)``: ties go to the first
maximum in row-major window order, a NaN wins (the last NaN if there are several).

What makes the fast paths fast (measured on 32x128x128 and 32x64x32x32, float32):

* 1-D max pooling has its own kernel (the 2-D loop on height 1 clipped every window and ran
  the window loop per output, ~6x slower): windows that lie inside the row are handled tap
  by tap (the first two together) across all outputs of the row, so the loop over outputs
  vectorises, and only the few clipped windows at the ends run the scalar loop. For strides
  1 and 2 the stride is a compile-time constant there (LLVM vectorises constant-stride
  loads, not runtime-stride ones); other strides take the window loop per output;
* 2×2 / stride-2 max pooling takes the window max first and then recovers the index from it
  with integer arithmetic (:func:`_max_pool2d_2x2s2`): 10x faster than picking value and
  index in one chain of selects, which LLVM compiled to mispredicted branches;
* 2×2 / stride-2 average pooling has an unrolled forward and a backward that writes every
  element of gx once (no zeroing pass, no scatter), ~8x / ~5x faster than the general loops;
* inner loops index flat views with unsigned integers, so Numba emits no negative-index
  wrap-around checks.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .threads import split_run

__all__ = [
    "max_pool2d_forward", "max_pool2d_values", "max_pool2d_backward",
    "max_pool1d_forward", "max_pool1d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
]

Pair = tuple[int, int]


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


@njit(cache=True)
def _pick(val, at, best, best_at):
    """PyTorch's max-pool update ``val > best or isnan(val)``, written without branches
    (random data makes that branch unpredictable: ~3x slower with an ``if``)."""
    take = (val > best) | (val != val)
    return (val if take else best), (at if take else best_at)


@njit(cache=True, nogil=True)
def _max_pool2d(x, out, argmax, kh, kw, sh, sw, ph, pw):
    """x (P, H, W) -> out, argmax (P, Ho, Wo); P = N·C planes. Any window, clipped to x."""
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    neg_inf = x.dtype.type(-np.inf)
    for p in range(P):
        for i in range(Ho):
            h0 = i * sh - ph
            hs, he = max(h0, 0), min(h0 + kh, H)
            for j in range(Wo):
                w0 = j * sw - pw
                ws, we = max(w0, 0), min(w0 + kw, W)
                best = neg_inf
                best_at = hs * W + ws  # PyTorch's choice when every value is −inf
                for h in range(hs, he):
                    for w in range(ws, we):
                        best, best_at = _pick(x[p, h, w], h * W + w, best, best_at)
                out[p, i, j] = best
                argmax[p, i, j] = best_at


@njit(cache=True, nogil=True)
def _max_pool2d_2x2(x, out, argmax, sh, sw):
    """The common MaxPool2d(2): 2×2 windows, no padding (so never clipped), unrolled.

    Same result as ``_max_pool2d``; ~3x faster because the tiny window loops are gone.
    """
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    xf, of, af = x.reshape(-1), out.reshape(-1), argmax.reshape(-1)
    uW, usw, one = np.uint64(W), np.uint64(sw), np.uint64(1)
    for p in range(P):
        plane = np.uint64(p * H * W)
        for i in range(Ho):
            r0 = np.uint64(i * sh) * uW  # offsets of the window's two rows in the plane
            r1 = r0 + uW
            o = np.uint64((p * Ho + i) * Wo)
            for j in range(np.uint64(Wo)):  # unsigned indices: no wrap-around checks
                c = j * usw
                best, best_at = xf[plane + r0 + c], r0 + c
                best, best_at = _pick(xf[plane + r0 + c + one], r0 + c + one, best, best_at)
                best, best_at = _pick(xf[plane + r1 + c], r1 + c, best, best_at)
                best, best_at = _pick(xf[plane + r1 + c + one], r1 + c + one, best, best_at)
                of[o + j] = best
                af[o + j] = best_at


@njit(cache=True, nogil=True)
def _max_pool2d_2x2s2(x, out, argmax):
    """MaxPool2d(2) with stride 2 (the common case), values and argmax in two vectorised
    passes per output row.

    ``_max_pool2d_2x2`` picks value and index together in one chain of selects; LLVM turns
    that chain into branches, which random data mispredicts (~40 ns per output, 10x slower).
    Here pass 1 takes the window max with ``_pick``'s rule (float selects only: vectorises),
    pass 2 recovers the index from the max with integer arithmetic on the comparisons: the
    first window element equal to the max, or, if the max is NaN, the last NaN (PyTorch's
    ``val > best or isnan(val)`` picks exactly these). The row's inputs are still in L1.
    """
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    for p in range(P):
        for i in range(Ho):
            x0, x1 = x[p, 2 * i], x[p, 2 * i + 1]
            op, ap = out[p, i], argmax[p, i]
            for j in range(Wo):
                a, b, c, d = x0[2 * j], x0[2 * j + 1], x1[2 * j], x1[2 * j + 1]
                m = a
                m = b if (b > m) | (b != b) else m
                m = c if (c > m) | (c != c) else m
                m = d if (d > m) | (d != d) else m
                op[j] = m
            base = 2 * i * W
            for j in range(Wo):
                a, b, c, d = x0[2 * j], x0[2 * j + 1], x1[2 * j], x1[2 * j + 1]
                m = op[j]
                ea, eb, ec = np.int64(a == m), np.int64(b == m), np.int64(c == m)
                first = (1 - ea) * (eb + (1 - eb) * (W + 1 - ec))  # 0, 1, W or W + 1
                nb, nc, nd = np.int64(b != b), np.int64(c != c), np.int64(d != d)
                last_nan = nd * (W + 1) + (1 - nd) * (nc * W + (1 - nc) * nb)
                isnan = np.int64(m != m)
                ap[j] = base + 2 * j + isnan * last_nan + (1 - isnan) * first


@njit(cache=True, nogil=True)
def _max_pool2d_2x2s2_values(x, out):
    """Pass 1 of ``_max_pool2d_2x2s2`` alone: the forward when no gradient is needed
    (PyTorch stores no indices then either)."""
    P, Ho, Wo = out.shape
    for p in range(P):
        for i in range(Ho):
            x0, x1 = x[p, 2 * i], x[p, 2 * i + 1]
            op = out[p, i]
            for j in range(Wo):
                a, b, c, d = x0[2 * j], x0[2 * j + 1], x1[2 * j], x1[2 * j + 1]
                m = a
                m = b if (b > m) | (b != b) else m
                m = c if (c > m) | (c != c) else m
                m = d if (d > m) | (d != d) else m
                op[j] = m


@njit(cache=True, nogil=True)
def _max_pool2d_scatter(grad_out, argmax, gx):
    """gx (P, H·W) = 0, then += grad_out (P, L) at argmax (P, L), one plane at a time.

    Flat views and unsigned offsets (2-D indexing with a signed index kept this 4x slower);
    an argmax outside its plane raises instead of writing out of bounds."""
    P, L = grad_out.shape
    HW = gx.shape[1]
    gf, of, af = gx.reshape(-1), grad_out.reshape(-1), argmax.reshape(-1)
    zero = gx.dtype.type(0)
    uHW, uL = np.uint64(HW), np.uint64(L)
    for p in range(np.uint64(P)):
        d = p * uHW
        for t in range(uHW):
            gf[d + t] = zero
        s = p * uL
        for t in range(uL):
            a = np.uint64(af[s + t])  # a negative index wraps to a huge one: caught here
            if a >= uHW:
                raise IndexError("max_pool backward: argmax outside its plane")
            gf[d + a] += of[s + t]


@njit(cache=True, inline="always")
def _max_pool1d_inner(xf, of, af, base, o0, at0, n, k, us):
    """Outputs ``o0 .. o0+n-1`` of one row, windows ``at0 + j·us + [0, k)`` all inside it.

    Taps 0 and 1 in one pass, then one pass per further tap, each over all n outputs, so
    the loop over outputs vectorises (given a constant ``us``); ``at`` are offsets in the
    row, ``base`` is the row's start in ``xf``.
    """
    if k == 1:
        for j in range(n):
            at = at0 + j * us
            of[o0 + j] = xf[base + at]
            af[o0 + j] = at
        return
    one = np.uint64(1)
    for j in range(n):  # taps 0 and 1 in one pass (all of MaxPool1d(2))
        at = at0 + j * us
        best, best_at = _pick(xf[base + at + one], at + one, xf[base + at], at)
        of[o0 + j] = best
        af[o0 + j] = best_at
    for t in range(2, k):
        ut = np.uint64(t)
        for j in range(n):
            at = at0 + j * us + ut
            val, best = xf[base + at], of[o0 + j]
            take = (val > best) | (val != val)  # _pick's rule, on the stored best
            of[o0 + j] = val if take else best
            af[o0 + j] = at if take else af[o0 + j]


@njit(cache=True, inline="always")
def _max_pool1d_clipped(x, out, argmax, q, j, k, s, p):
    """Output j of row q, its window clipped to the row (as ``_max_pool2d``)."""
    L = x.shape[1]
    w0 = j * s - p
    ws, we = max(w0, 0), min(w0 + k, L)
    best = x.dtype.type(-np.inf)
    best_at = ws  # PyTorch's choice when every value is −inf
    for w in range(ws, we):
        best, best_at = _pick(x[q, w], w, best, best_at)
    out[q, j] = best
    argmax[q, j] = best_at


@njit(cache=True, nogil=True)
def _max_pool1d(x, out, argmax, k, s, p):
    """x (P, L) -> out, argmax (P, Lo); any window, stride and padding, clipped to x."""
    P, L = x.shape
    Lo = out.shape[1]
    xf, of, af = x.reshape(-1), out.reshape(-1), argmax.reshape(-1)
    jlo = min(-(-p // s), Lo)  # outputs [jlo, jhi) have windows inside [0, L)
    jhi = max(min((L - k + p) // s + 1, Lo), jlo)
    n = np.uint64(jhi - jlo)
    at0 = np.uint64(max(jlo * s - p, 0))
    for q in range(P):
        base = np.uint64(q * L)
        o0 = np.uint64(q * Lo + jlo)
        if n > 0:
            if s == 1:  # constant strides: LLVM vectorises their loads
                _max_pool1d_inner(xf, of, af, base, o0, at0, n, k, np.uint64(1))
            elif s == 2:
                _max_pool1d_inner(xf, of, af, base, o0, at0, n, k, np.uint64(2))
            else:
                us = np.uint64(s)
                for j in range(n):
                    w0 = at0 + j * us
                    best, best_at = xf[base + w0], w0
                    for t in range(1, k):
                        at = w0 + np.uint64(t)
                        best, best_at = _pick(xf[base + at], at, best, best_at)
                    of[o0 + j] = best
                    af[o0 + j] = best_at
        for j in range(jlo):  # the clipped windows at both ends
            _max_pool1d_clipped(x, out, argmax, q, j, k, s, p)
        for j in range(jhi, Lo):
            _max_pool1d_clipped(x, out, argmax, q, j, k, s, p)


@njit(cache=True, nogil=True, error_model="numpy")
def _avg_pool2d_2x2(x, out):
    """The common AvgPool2d(2): 2×2 windows, stride 2, no padding, unrolled.

    Same sums in the same order as ``_avg_pool2d``.
    """
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    xf, of = x.reshape(-1), out.reshape(-1)
    uW, two, one = np.uint64(W), np.uint64(2), np.uint64(1)
    count = x.dtype.type(4)
    for p in range(P):
        for i in range(Ho):
            r0 = np.uint64((p * H + 2 * i) * W)  # the window's two rows in xf
            r1 = r0 + uW
            o = np.uint64((p * Ho + i) * Wo)
            for j in range(np.uint64(Wo)):
                c = j * two
                acc = xf[r0 + c] + xf[r0 + c + one]
                acc = (acc + xf[r1 + c]) + xf[r1 + c + one]
                of[o + j] = acc / count


@njit(cache=True, nogil=True, error_model="numpy")
def _avg_pool2d_2x2_backward(grad_out, gx):
    """Backward of ``_avg_pool2d_2x2``: the windows tile x, so every gx element is written
    once (g / 4 inside the windows, 0 in a last odd row or column) instead of zeroed and
    then added to."""
    P, H, W = gx.shape
    Ho, Wo = grad_out.shape[1], grad_out.shape[2]
    gf, xf = grad_out.reshape(-1), gx.reshape(-1)
    uW, two, one = np.uint64(W), np.uint64(2), np.uint64(1)
    count = gx.dtype.type(4)
    zero = gx.dtype.type(0)
    for p in range(P):
        for i in range(Ho):
            r0 = np.uint64((p * H + 2 * i) * W)
            o = np.uint64((p * Ho + i) * Wo)
            for u in range(2):  # one row at a time: whole interleaved store groups
                r = r0 + np.uint64(u) * uW
                for j in range(np.uint64(Wo)):
                    share = gf[o + j] / count
                    xf[r + j * two] = share
                    xf[r + j * two + one] = share
                for w in range(2 * Wo, W):  # an odd last column is in no window
                    gx[p, 2 * i + u, w] = zero
        for h in range(2 * Ho, H):  # an odd last row too
            for w in range(W):
                gx[p, h, w] = zero


@njit(cache=True, nogil=True, error_model="numpy")
def _avg_pool2d(x, out, kh, kw, sh, sw, ph, pw):
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    count = x.dtype.type(kh * kw)  # padding counts (count_include_pad=True)
    for p in range(P):
        for i in range(Ho):
            h0 = i * sh - ph
            hs, he = max(h0, 0), min(h0 + kh, H)
            for j in range(Wo):
                w0 = j * sw - pw
                ws, we = max(w0, 0), min(w0 + kw, W)
                acc = x.dtype.type(0)
                for h in range(hs, he):
                    for w in range(ws, we):
                        acc += x[p, h, w]
                out[p, i, j] = acc / count


@njit(cache=True, nogil=True, error_model="numpy")
def _avg_pool2d_backward(grad_out, gx, kh, kw, sh, sw, ph, pw):
    P, H, W = gx.shape
    Ho, Wo = grad_out.shape[1], grad_out.shape[2]
    count = gx.dtype.type(kh * kw)
    for p in range(P):
        for h in range(H):
            for w in range(W):
                gx[p, h, w] = 0
        for i in range(Ho):
            h0 = i * sh - ph
            hs, he = max(h0, 0), min(h0 + kh, H)
            for j in range(Wo):
                w0 = j * sw - pw
                ws, we = max(w0, 0), min(w0 + kw, W)
                share = grad_out[p, i, j] / count
                for h in range(hs, he):
                    for w in range(ws, we):
                        gx[p, h, w] += share


@njit(cache=True, error_model="numpy")
def _adaptive_avg_pool2d(x, out):
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    for p in range(P):
        for i in range(Ho):
            hs, he = (i * H) // Ho, -(-((i + 1) * H) // Ho)
            for j in range(Wo):
                ws, we = (j * W) // Wo, -(-((j + 1) * W) // Wo)
                acc = x.dtype.type(0)
                for h in range(hs, he):
                    for w in range(ws, we):
                        acc += x[p, h, w]
                out[p, i, j] = acc / x.dtype.type((he - hs) * (we - ws))


@njit(cache=True, error_model="numpy")
def _adaptive_avg_pool2d_backward(grad_out, gx):
    P, H, W = gx.shape
    Ho, Wo = grad_out.shape[1], grad_out.shape[2]
    for p in range(P):
        for h in range(H):
            for w in range(W):
                gx[p, h, w] = 0
        for i in range(Ho):
            hs, he = (i * H) // Ho, -(-((i + 1) * H) // Ho)
            for j in range(Wo):
                ws, we = (j * W) // Wo, -(-((j + 1) * W) // Wo)
                share = grad_out[p, i, j] / gx.dtype.type((he - hs) * (we - ws))
                for h in range(hs, he):
                    for w in range(ws, we):
                        gx[p, h, w] += share


def _by_planes(kernel, arrays, args, size):
    """``kernel(*(a[lo:hi] for a in arrays), *args)`` over plane ranges on Numba's thread
    count (kernels/jit/threads.py); every array's first axis is the plane."""
    def work(lo: int, hi: int) -> None:
        kernel(*(a[lo:hi] for a in arrays), *args)

    split_run(work, arrays[0].shape[0], size)


def max_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                       ) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W) -> (o (N, C, H_out, W_out), argmax (N, C, H_out, W_out) int64 into H·W)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Ho, Wo = _out_size(H, kh, sh, ph), _out_size(W, kw, sw, pw)
    out = np.empty((N, C, Ho, Wo), x.dtype)
    argmax = np.empty((N, C, Ho, Wo), np.int64)
    planes = (x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo), argmax.reshape(N * C, Ho, Wo))
    if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0):
        _by_planes(_max_pool2d_2x2s2, planes, (), x.size)
    elif (kh, kw, ph, pw) == (2, 2, 0, 0):
        _by_planes(_max_pool2d_2x2, planes, (sh, sw), x.size)
    else:
        _by_planes(_max_pool2d, planes, (kh, kw, sh, sw, ph, pw), x.size)
    return out, argmax


def max_pool2d_values(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                      ) -> np.ndarray:
    """The values of :func:`max_pool2d_forward` only (no argmax: nothing to back-propagate)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    if (kh, kw, sh, sw, ph, pw) != (2, 2, 2, 2, 0, 0):
        return max_pool2d_forward(x, kernel_size, stride, padding)[0]
    Ho, Wo = _out_size(H, kh, sh, ph), _out_size(W, kw, sw, pw)
    out = np.empty((N, C, Ho, Wo), x.dtype)
    _by_planes(_max_pool2d_2x2s2_values, (x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo)),
               (), x.size)
    return out


def max_pool2d_backward(grad_out: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...]
                        ) -> np.ndarray:
    """∂L/∂x[n, c, argmax[n, c, i, j]] += g[n, c, i, j]: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    # np.empty, not np.zeros: calloc maps fresh pages (a page fault per 4 KiB every call)
    gx = np.empty((N * C, H * W), grad_out.dtype)
    _by_planes(_max_pool2d_scatter, (grad_out.reshape(N * C, -1), argmax.reshape(N * C, -1), gx),
               (), gx.size)
    return gx.reshape(N, C, H, W)


def max_pool1d_forward(x: np.ndarray, kernel_size: tuple[int], stride: tuple[int],
                       padding: tuple[int]) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, L) -> (o (N, C, L_out), argmax (N, C, L_out) int64): max_pool2d on height 1
    (same values and indices), by its own kernel."""
    N, C, L = x.shape
    (k,), (s,), (p,) = kernel_size, stride, padding
    Lo = _out_size(L, k, s, p)
    out = np.empty((N, C, Lo), x.dtype)
    argmax = np.empty((N, C, Lo), np.int64)
    _max_pool1d(x.reshape(N * C, L), out.reshape(N * C, Lo), argmax.reshape(N * C, Lo), k, s, p)
    return out, argmax


def max_pool1d_backward(grad_out: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...]
                        ) -> np.ndarray:
    """g (N, C, L_out) scattered onto x (N, C, L) at argmax."""
    N, C, L = x_shape
    gx = np.empty((N * C, L), grad_out.dtype)
    _max_pool2d_scatter(grad_out.reshape(N * C, -1), argmax.reshape(N * C, -1), gx)
    return gx.reshape(N, C, L)


def avg_pool2d_forward(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair
                       ) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H_out, W_out): window means, zero padding counted."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Ho, Wo = _out_size(H, kh, sh, ph), _out_size(W, kw, sw, pw)
    out = np.empty((N, C, Ho, Wo), x.dtype)
    planes = (x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo))
    if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0):
        _by_planes(_avg_pool2d_2x2, planes, (), x.size)
    else:
        _by_planes(_avg_pool2d, planes, (kh, kw, sh, sw, ph, pw), x.size)
    return out


def avg_pool2d_backward(grad_out: np.ndarray, x_shape: tuple[int, ...], kernel_size: Pair,
                        stride: Pair, padding: Pair) -> np.ndarray:
    """Each output spreads g / (kh·kw) over its window: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    gx = np.empty(x_shape, grad_out.dtype)
    planes = (grad_out.reshape(N * C, *grad_out.shape[2:]), gx.reshape(N * C, H, W))
    if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0):
        _by_planes(_avg_pool2d_2x2_backward, planes, (), gx.size)
    else:
        _by_planes(_avg_pool2d_backward, planes, (kh, kw, sh, sw, ph, pw), gx.size)
    return gx


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: Pair) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H_out, W_out): means over PyTorch's adaptive bins."""
    N, C, H, W = x.shape
    out = np.empty((N, C, *output_size), x.dtype)
    _adaptive_avg_pool2d(x.reshape(N * C, H, W), out.reshape(N * C, *output_size))
    return out


def adaptive_avg_pool2d_backward(grad_out: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """Each output spreads g / |bin| over its bin: (N, C, H_out, W_out) -> x_shape."""
    N, C, H, W = x_shape
    gx = np.empty(x_shape, grad_out.dtype)
    _adaptive_avg_pool2d_backward(grad_out.reshape(N * C, *grad_out.shape[2:]),
                                  gx.reshape(N * C, H, W))
    return gx


def warmup() -> None:
    """Compile (or load from cache) every helper for float32 and float64."""
    for dt in (np.float32, np.float64):
        x = np.ones((1, 2, 5, 4), dt)
        for k, s, p in (((2, 2), (2, 1), (1, 0)), ((2, 2), (2, 2), (0, 0))):
            out, idx = max_pool2d_forward(x, k, s, p)
            max_pool2d_backward(out, idx, x.shape)
            max_pool2d_values(x, k, s, p)
        for k, s, p in (((3, 2), (1, 2), (1, 1)), ((2, 2), (2, 2), (0, 0))):
            a = avg_pool2d_forward(x, k, s, p)
            avg_pool2d_backward(a, x.shape, k, s, p)
        x1 = x.reshape(1, 2, 20)
        for k, s, p in ((3, 1, 1), (2, 2, 0), (3, 3, 1)):
            out, idx = max_pool1d_forward(x1, (k,), (s,), (p,))
            max_pool1d_backward(out, idx, x1.shape)
        b = adaptive_avg_pool2d_forward(x, (3, 2))
        adaptive_avg_pool2d_backward(b, x.shape)
