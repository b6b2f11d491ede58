"""Row softmax, log-softmax and fused cross-entropy as Numba kernels.

Same signatures and maths as ``kernels/reference/softmax.py``. Rows are split over Numba's
thread count with plain Python threads and ``nogil`` kernels (kernels/jit/threads.py), not
``prange`` (a parallel loop here fought OpenBLAS's threads and made whole training runs 10x
slower on 2 cores). Each row is computed the same way whatever the split. Per element they were
~1.4-2 ns, scalar code; now they are near one core's memory bandwidth. What it took,
measured on 32·4·128 rows of 128 and 640 rows of 10000 (float32):

* the row max: Python's ``max`` is a compare-and-select that LLVM never vectorises (NaN
  order), and that scalar chain cost more than all the rest (~1 ns per element). It is now
  an integer max/min over the floats' bit patterns (:func:`_key_max`), which vectorises;
* ``exp`` is :func:`_exp_poly`, a polynomial with no float->int conversion (13 vector
  instructions per 8 floats instead of 19 for the earlier Taylor version). It is compiled
  on its own with only the ``contract`` flag and LLVM inlines it, so the ``reassoc`` of the
  row loops cannot touch its rounding trick or its Cody-Waite steps;
* the row sums carry ``reassoc`` (so LLVM vectorises them), never ``nnan``/``ninf``, so
  ``-inf`` entries give exactly probability 0 / log-probability -inf, and a NaN in a row
  makes the row NaN, as in the reference. Constants are in the row's dtype (no float64
  promotion of float32 rows by Python literals);
* the row loops are software-pipelined (see the comment above :func:`_softmax_rows`):
  loads, arithmetic and stores of three rows overlap, 1.3x;
* cross-entropy forward is log-softmax plus the per-row sum of log p taken while writing it,
  instead of a second sweep over the (N, C) log-probabilities.

Targets outside ``[0, C)`` other than ``ignore_index`` raise ``IndexError`` instead of being
read out of bounds. Numba's cache tracks only this file: after editing ``rowmath.py``, delete
``kernels/jit/__pycache__``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rowmath import exp_nonpos as _exp_poly  # vectorisable exp (see rowmath.py)
from .rowmath import max_from_keys as _key_max  # a row's float max from its bit patterns
from .threads import split_run

__all__ = [
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
]


# reassoc lets LLVM vectorise the row sums; no nnan/ninf, so -inf in a row stays exact
_FAST = {"reassoc", "contract"}


# The row kernels are software-pipelined: sweep k over the columns works on three rows at
# once, the max of row k (streamed from memory), the exp-sum of row k-1 (arithmetic on a row
# still in L1/L2) and the output of row k-2 (stores), so loads, arithmetic and stores overlap
# instead of taking turns (one row at a time left the core waiting on memory in the max and
# store passes and idle memory during the exp pass: 1.3x slower at 16384x128 and 640x10000).
# Rows before the first and after the last are zero dummy rows, so every sweep is the same
# loop. ``xk`` is ``x`` viewed as signed integers of the same width, for the max (_key_max).
# The dummy rows come from the caller (``z`` (3, c) zeros, ``zk`` (c,) integer zeros, fresh
# per call: rows 1 and 2 of ``z`` are written): ``np.zeros`` inside a kernel costs a compile
# of Numba's allocator per dtype and shape (~0.2 s at a cold first call).
#
# Each sweep is two loops: one that stores (the outputs, and the integer max/min, which are
# exact in any order) and one that only loads and adds up the floats. A float sum must not sit
# in a loop that stores: LLVM cannot prove the stored row and the loaded rows apart, so it
# checks their addresses at run time and takes the vector loop or the scalar one, and with
# ``reassoc`` the two add in different orders. The result then depended on where the arrays
# happened to lie in memory (two different last bits over 400 placements of the same 5x5
# input; found by the aliasing test). A loop without stores needs no such check.


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _softmax_rows(x, xk, out, z, zk):
    n, c = x.shape
    if c == 0:
        return
    tp = x.dtype.type
    mb = tp(0.0)  # max of row k-1
    inv_c = tp(0.0)  # 1 / sum of row k-2
    for k in range(n + 2):
        ka = xk[k] if k < n else zk
        xb = x[k - 1] if 1 <= k <= n else z[0]
        ob = out[k - 1] if 1 <= k <= n else z[1]
        oc = out[k - 2] if k >= 2 else z[2]
        hi = lo = ka[0]
        for j in range(c):
            kj = ka[j]
            hi = kj if kj > hi else hi
            lo = kj if kj < lo else lo
            ob[j] = _exp_poly(xb[j] - mb, tp)
            oc[j] *= inv_c
        total = tp(0.0)
        for j in range(c):  # loads only: the same order wherever the rows lie
            total += ob[j]
        inv_c = tp(1.0) / total
        mb = _key_max(hi, lo, tp)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _log_softmax_rows(x, xk, out, sums, z, zk):
    """out = log_softmax(x) row by row; sums[i] = Σ_c out[i, c] (for label smoothing)."""
    n, c = x.shape
    tp = x.dtype.type
    if c == 0:
        for i in range(n):
            sums[i] = tp(0.0)
        return
    mb = mc = tp(0.0)  # max of rows k-1 and k-2
    lse_c = tp(0.0)  # log-sum-exp (minus the max) of row k-2
    for k in range(n + 2):
        ka = xk[k] if k < n else zk
        xb = x[k - 1] if 1 <= k <= n else z[0]
        xc = x[k - 2] if k >= 2 else z[0]
        oc = out[k - 2] if k >= 2 else z[1]
        hi = lo = ka[0]
        for j in range(c):
            kj = ka[j]
            hi = kj if kj > hi else hi
            lo = kj if kj < lo else lo
            oc[j] = (xc[j] - mc) - lse_c
        total = tp(0.0)
        s = tp(0.0)
        for j in range(c):  # loads only (see above)
            total += _exp_poly(xb[j] - mb, tp)
            s += oc[j]
        if k >= 2:
            sums[k - 2] = s
        mc, lse_c = mb, np.log(total)
        mb = _key_max(hi, lo, tp)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _softmax_backward_rows(y, g, out, log, z):
    """Pipelined like the forward: sweep k writes row k-1, then sums row k."""
    n, c = y.shape
    tp = y.dtype.type
    sb = tp(0.0)
    for k in range(n + 1):
        ya = y[k] if k < n else z[0]
        ga = g[k] if k < n else z[0]
        yb = y[k - 1] if k >= 1 else z[0]
        gb = g[k - 1] if k >= 1 else z[0]
        ob = out[k - 1] if k >= 1 else z[1]
        s = tp(0.0)
        if log:  # dx = g - exp(y) Σ g
            for j in range(c):
                ob[j] = gb[j] - _exp_poly(yb[j], tp) * sb
            for j in range(c):  # loads only (see above)
                s += ga[j]
        else:  # dx = y (g - Σ g y)
            for j in range(c):
                ob[j] = yb[j] * (gb[j] - sb)
            for j in range(c):
                s += ga[j] * ya[j]
        sb = s


@njit(cache=True, nogil=True, error_model="numpy")
def _cross_entropy_rows(logp, sums, target, eps, ignore_index, loss):
    """loss_i = -(1-ε) log p_{i,t} - ε/C Σ_c log p_{i,c}, 0 where t == ignore_index."""
    n, c = logp.shape
    tp = logp.dtype.type
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            loss[i] = tp(0.0)
        else:
            loss[i] = -(tp(1.0) - eps) * logp[i, t]
            if eps != tp(0.0):  # only then: 0 · Σ log p is nan for a row with a -inf logit
                loss[i] -= (eps / tp(c)) * sums[i]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _cross_entropy_backward_rows(logp, target, eps, ignore_index, grad_rows, out):
    """out = (exp(logp) - ε/C - (1-ε)·onehot(t)) · grad_rows, 0 in rows with ignored targets."""
    n, c = logp.shape
    tp = logp.dtype.type
    off = eps / tp(c)
    for i in range(n):
        lr, orow = logp[i], out[i]
        t = target[i]
        if t == ignore_index:
            for j in range(c):
                orow[j] = tp(0.0)
            continue
        gi = grad_rows[i]
        for j in range(c):
            orow[j] = (_exp_poly(lr[j], tp) - off) * gi
        orow[t] -= (tp(1.0) - eps) * gi


def _as_int(x: np.ndarray) -> np.ndarray:
    return x.view(np.int32 if x.dtype == np.float32 else np.int64)


# Elements per thread below which a softmax / log-softmax / cross-entropy call runs serially.
# Far below threads.MIN_CHUNK: on a quiet 2-core AMD EPYC (Zen 4, AVX-512) two threads took
# softmax fwd+bwd on 2 M elements from 1.13x PyTorch's time to 0.75x, log_softmax from 1.17x
# to 0.77x, cross-entropy from 1.0x to 0.58x (benchmarks/run.py, medians of 2 interleaved runs
# each); layer norm on 0.5 M elements got slower split, hence the threshold of 1 M elements.
ROWS_MIN_CHUNK = 1 << 19


def _check_target(fn: str, target: np.ndarray, ignore_index: int, c: int) -> None:
    # NumPy, not a kernel: one vectorised pass, and no Numba compile at the first call
    wrong = (target != ignore_index) & ((target < 0) | (target >= c))
    if wrong.any():
        bad = int(np.argmax(wrong))
        raise IndexError(f"{fn}: target[{bad}] = {int(target[bad])} is not a class index in "
                         f"[0, {c})")


def _dummy_rows(x: np.ndarray, ints: bool = True) -> tuple[np.ndarray, ...]:
    """Zero dummy rows for one call of a pipelined row kernel: ``z`` (3, c), and ``zk`` (c,)
    in the integer type of :func:`_as_int` when ``ints``."""
    z = np.zeros((3, x.shape[1]), x.dtype)
    return (z, _as_int(np.zeros(x.shape[1], x.dtype))) if ints else (z,)


def _by_rows(kernel, arrays, args=(), ints=True):
    """``kernel(*(a[lo:hi] for a in arrays), *args, *dummy rows)`` over row ranges, split
    over Numba's thread count (kernels/jit/threads.py); every array's first axis is the row.
    Each range gets its own dummy rows (the kernels write into them)."""
    def work(lo: int, hi: int) -> None:
        kernel(*(a[lo:hi] for a in arrays), *args, *_dummy_rows(arrays[0], ints))

    split_run(work, arrays[0].shape[0], arrays[0].size, ROWS_MIN_CHUNK)


def softmax_forward(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _by_rows(_softmax_rows, (x, _as_int(x), out))
    return out


def softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    out = np.empty_like(y)
    _by_rows(_softmax_backward_rows, (y, grad, out), (False,), ints=False)
    return out


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _by_rows(_log_softmax_rows, (x, _as_int(x), out, np.empty(x.shape[0], x.dtype)))
    return out


def log_softmax_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    out = np.empty_like(y)
    _by_rows(_softmax_backward_rows, (y, grad, out), (True,), ints=False)
    return out


def cross_entropy_forward(logits, target, label_smoothing, ignore_index):
    _check_target("cross_entropy_forward", target, ignore_index, logits.shape[1])
    x = np.ascontiguousarray(logits)
    logp = np.empty_like(x)
    sums = np.empty(x.shape[0], x.dtype)
    loss = np.empty(x.shape[0], dtype=x.dtype)
    eps = x.dtype.type(label_smoothing)

    def work(lo: int, hi: int) -> None:
        _log_softmax_rows(x[lo:hi], _as_int(x[lo:hi]), logp[lo:hi], sums[lo:hi],
                          *_dummy_rows(x))
        _cross_entropy_rows(logp[lo:hi], sums[lo:hi], target[lo:hi], eps, ignore_index,
                            loss[lo:hi])

    split_run(work, x.shape[0], x.size, ROWS_MIN_CHUNK)
    return loss, logp


def cross_entropy_backward(logp, target, label_smoothing, ignore_index, grad_rows):
    _check_target("cross_entropy_backward", target, ignore_index, logp.shape[1])
    out = np.empty_like(logp)
    eps = logp.dtype.type(label_smoothing)
    g = grad_rows.astype(logp.dtype, copy=False)

    def work(lo: int, hi: int) -> None:
        _cross_entropy_backward_rows(logp[lo:hi], target[lo:hi], eps, ignore_index, g[lo:hi],
                                     out[lo:hi])

    split_run(work, logp.shape[0], logp.size, ROWS_MIN_CHUNK)
    return out


def warmup() -> None:
    for dtype in (np.float32, np.float64):
        x = np.linspace(-1, 1, 6, dtype=dtype).reshape(2, 3)
        t = np.array([0, 2], dtype=np.int64)
        softmax_backward(softmax_forward(x), x)
        log_softmax_backward(log_softmax_forward(x), x)
        loss, logp = cross_entropy_forward(x, t, 0.1, -100)
        cross_entropy_backward(logp, t, 0.1, -100, loss)
