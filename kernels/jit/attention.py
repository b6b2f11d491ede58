"""Scaled dot-product attention kernels: Numba twins of kernels/reference/attention.py.

Same signatures and equations as the reference (see its docstring). The batched matrix
products run in NumPy (``np.matmul`` -> OpenBLAS, one BLAS for the whole op); Numba does what
NumPy would need several passes and temporaries for:

* forward: one pass per score row fusing scale, additive mask, causal mask, the row max, a
  vectorisable polynomial ``exp``, the row sum and the normalisation, in place on the fresh
  ``Q Kᵀ`` buffer (which becomes P);
* backward: one pass per row fusing the dropout mask, ``rowsum(dP ⊙ P)`` and
  ``dS = P ⊙ (dP − rowsum) · scale``, in place on the fresh ``dO Vᵀ`` buffer.

Rows are independent, so ``prange`` can run over the flattened ``batch × L`` rows, each
iteration writing only its own row. Score matrices smaller than ``PARALLEL_MIN_SIZE`` (16M
elements) use a serial twin of the same loop: between the OpenBLAS products that surround
these loops, Numba's thread pool fights OpenBLAS's for the two cores, and measured inside
MultiheadAttention (batch 32, 4 heads, 128 tokens) the threaded loops lost (28.4 vs 27.4 ms
fwd+bwd; at 20 tokens 15.9 vs 2.8 ms).
Reductions use eight independent accumulators: Numba does not vectorise a floating-point
reduction loop (it may not reorder the additions), eight accumulators let the CPU pipeline
it and keep the result deterministic.

Memory: a page fault costs ~2 µs per 4 KiB page on these VMs, and glibc hands big freed
blocks back to the OS, so fresh (B, L, S) arrays every step cost milliseconds (batch 32,
4 heads, 128 tokens: ~2500 faults, ~6 ms of a 37 ms MultiheadAttention step). Temporaries
live in per-thread scratch buffers (``kernels/workspace.py``); outputs (P and the gradients) come
from small per-thread pools that hand a buffer out again only once nothing refers to it
(:func:`_recycled`). Both are plain per-thread state: no process-wide allocator settings.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
from numba import njit, prange

from ..workspace import workspace

__all__ = ["attention_forward", "attention_backward"]

PARALLEL_MIN_SIZE = 1 << 24  # score matrices (B·L·S) at least this big use threaded loops


@njit(inline="always", error_model="numpy", cache=True)
def _exp_nonpos(x, tp):
    """exp(x) for x <= 0 (``-inf`` -> 0) in dtype ``tp``; vectorises, unlike ``math.exp``.

    x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two, Cody-Waite, so n·ln2 is subtracted
    without rounding error); exp(r) by its Taylor polynomial, 2**n built from exponent bits.
    float64: degree 11, relative error < 1e-14, results below e^-708 flush to 0.
    float32: degree 7, relative error < 1e-6, results below e^-87 (~1.6e-38) flush to 0.
    """
    # True for float64; LLVM folds this to a constant, so each dtype compiles one branch.
    wide = (tp(1.0) + tp(1e-10)) != tp(1.0)
    if wide:
        xc = max(x, tp(-708.0))
        n = np.floor(xc * tp(1.4426950408889634) + tp(0.5))
        r = (xc - n * tp(0.693359375)) - n * tp(-2.1219444005469058e-4)
        p = tp(1.0 / 39916800.0)
        p = p * r + tp(1.0 / 3628800.0)
        p = p * r + tp(1.0 / 362880.0)
        p = p * r + tp(1.0 / 40320.0)
        p = p * r + tp(1.0 / 5040.0)
        p = p * r + tp(1.0 / 720.0)
        p = p * r + tp(1.0 / 120.0)
        p = p * r + tp(1.0 / 24.0)
        p = p * r + tp(1.0 / 6.0)
        p = p * r + tp(0.5)
        p = p * r + tp(1.0)
        p = p * r + tp(1.0)
        pow2 = tp(np.int64((np.int64(n) + 1023) << 52).view(np.float64))  # 2**n, exact
        return tp(0.0) if x < tp(-708.0) else p * pow2
    xc = max(x, tp(-87.0))
    n = np.floor(xc * tp(1.4426950408889634) + tp(0.5))
    r = (xc - n * tp(0.693359375)) - n * tp(-2.1219444005469058e-4)
    p = tp(1.0 / 5040.0)
    p = p * r + tp(1.0 / 720.0)
    p = p * r + tp(1.0 / 120.0)
    p = p * r + tp(1.0 / 24.0)
    p = p * r + tp(1.0 / 6.0)
    p = p * r + tp(0.5)
    p = p * r + tp(1.0)
    p = p * r + tp(1.0)
    pow2 = tp(np.int32((np.int32(n) + 127) << 23).view(np.float32))  # 2**n, exact
    return tp(0.0) if x < tp(-87.0) else p * pow2


@njit(inline="always", cache=True)
def _row_max(row, n):
    """max(row[:n]) with eight accumulators; -inf for n == 0."""
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row.dtype.type(-np.inf)
    n8 = n - n % 8
    for j in range(0, n8, 8):
        m0 = max(m0, row[j])
        m1 = max(m1, row[j + 1])
        m2 = max(m2, row[j + 2])
        m3 = max(m3, row[j + 3])
        m4 = max(m4, row[j + 4])
        m5 = max(m5, row[j + 5])
        m6 = max(m6, row[j + 6])
        m7 = max(m7, row[j + 7])
    for j in range(n8, n):
        m0 = max(m0, row[j])
    return max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))


@njit(inline="always", cache=True)
def _row_dot(a, b, n):
    """sum(a[:n] * b[:n]) with eight accumulators (in the arrays' dtype)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = a.dtype.type(0.0)
    n8 = n - n % 8
    for j in range(0, n8, 8):
        s0 += a[j] * b[j]
        s1 += a[j + 1] * b[j + 1]
        s2 += a[j + 2] * b[j + 2]
        s3 += a[j + 3] * b[j + 3]
        s4 += a[j + 4] * b[j + 4]
        s5 += a[j + 5] * b[j + 5]
        s6 += a[j + 6] * b[j + 6]
        s7 += a[j + 7] * b[j + 7]
    for j in range(n8, n):
        s0 += a[j] * b[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(inline="always", cache=True)
def _row_sum(a, n):
    """sum(a[:n]) with eight accumulators."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = a.dtype.type(0.0)
    n8 = n - n % 8
    for j in range(0, n8, 8):
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        s4 += a[j + 4]
        s5 += a[j + 5]
        s6 += a[j + 6]
        s7 += a[j + 7]
    for j in range(n8, n):
        s0 += a[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(inline="always", error_model="numpy", cache=True)
def _softmax_row(row, i, mrow, has_mask, causal, sc):
    """In place: one row of raw scores (S,) for query i -> softmax(row·sc + mrow)."""
    S = row.shape[0]
    tp = row.dtype.type
    n = min(i + 1, S) if causal else S  # keys this query may see
    if has_mask or sc < 0:
        # Store scores·scale + mask, then take the row max of what was stored.
        if has_mask:
            for j in range(n):
                row[j] = row[j] * sc + mrow[j]
        else:
            for j in range(n):
                row[j] = row[j] * sc
        m = _row_max(row, n)
        step = tp(1.0)
    else:
        # max(s·scale) = max(s)·scale for scale >= 0: fold the scale into the exp pass.
        m = _row_max(row, n)
        step = sc
    if m == -np.inf:  # fully masked row (or n == 0): P = 0, as PyTorch's SDPA
        for j in range(S):
            row[j] = tp(0.0)
        return
    for j in range(n):
        row[j] = _exp_nonpos((row[j] - m) * step, tp)
    inv = tp(1.0) / _row_sum(row, n)
    for j in range(n):
        row[j] *= inv
    for j in range(n, S):
        row[j] = tp(0.0)


@njit(inline="always", error_model="numpy", cache=True)
def _softmax_backward_row(g, p, d, has_dropout, sc):
    """In place: g = dW row -> dS = P ⊙ (dW⊙D − rowsum(dW⊙D ⊙ P)) · sc."""
    S = g.shape[0]
    if has_dropout:
        for j in range(S):
            g[j] *= d[j]
    dot = _row_dot(g, p, S)
    for j in range(S):
        g[j] = p[j] * (g[j] - dot) * sc


# The same row loops twice: threaded (prange) for very big score matrices, plain otherwise
# (see the module docstring).
@njit(parallel=True, error_model="numpy", cache=True)
def _softmax_rows_parallel(rows, L, scale, causal, table, index, has_mask):
    """In place: rows (B·L, S) of raw scores Q Kᵀ -> P = softmax(scores·scale + mask).

    table (M, Lm, S) holds the additive mask, index (B,) the table entry of each batch
    element (Lm is 1 or L). Keys j > i are dropped when ``causal``.
    """
    sc = rows.dtype.type(scale)
    Lm = table.shape[1]
    for r in prange(rows.shape[0]):
        i = r % L
        mrow = table[index[r // L], i if Lm > 1 else 0]
        _softmax_row(rows[r], i, mrow, has_mask, causal, sc)


@njit(error_model="numpy", cache=True)
def _softmax_rows_serial(rows, L, scale, causal, table, index, has_mask):
    """Single-threaded twin of :func:`_softmax_rows_parallel`."""
    sc = rows.dtype.type(scale)
    Lm = table.shape[1]
    for r in range(rows.shape[0]):
        i = r % L
        mrow = table[index[r // L], i if Lm > 1 else 0]
        _softmax_row(rows[r], i, mrow, has_mask, causal, sc)


@njit(parallel=True, error_model="numpy", cache=True)
def _softmax_backward_rows_parallel(grad, probs, scale, dropout_mask, has_dropout):
    """In place: grad (B·L, S) = dW -> dS = P ⊙ (dW⊙D − rowsum(dW⊙D ⊙ P)) · scale."""
    sc = grad.dtype.type(scale)
    for r in prange(grad.shape[0]):
        rd = np.int64(r) if has_dropout else np.int64(0)  # (prange's r is unsigned)
        _softmax_backward_row(grad[r], probs[r], dropout_mask[rd], has_dropout, sc)


@njit(error_model="numpy", cache=True)
def _softmax_backward_rows_serial(grad, probs, scale, dropout_mask, has_dropout):
    """Single-threaded twin of :func:`_softmax_backward_rows_parallel`."""
    sc = grad.dtype.type(scale)
    for r in range(grad.shape[0]):
        _softmax_backward_row(grad[r], probs[r], dropout_mask[r if has_dropout else 0],
                              has_dropout, sc)


_scratch_space = threading.local()


def _recycled(slot: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """An uninitialised array for a kernel *output*, recycled once nobody holds it anymore.

    P lives from forward to backward (the autograd graph keeps it), so it cannot be a
    scratch buffer; but once the graph is freed only this pool refers to it, and the next
    forward of the same shape takes it back instead of faulting in 8 MB of fresh pages.
    A buffer is reused only when ``sys.getrefcount`` shows no reference outside the pool
    (views and exported buffers hold references, so they keep it out of reach; this relies
    on CPython's reference counts, as every CPython build that Numba supports has).
    """
    pool = _scratch_space.__dict__.setdefault("pool_" + slot, [])
    for i in range(len(pool)):
        # references: the pool's list and getrefcount's argument
        if pool[i].shape == shape and pool[i].dtype == dtype and sys.getrefcount(pool[i]) == 2:
            return pool[i]
    buf = np.empty(shape, dtype)
    if len(pool) >= 4:  # bounded: keep the newest few
        pool.pop(0)
    pool.append(buf)
    return buf


def _mask_table(mask: np.ndarray, batch: tuple, L: int, S: int) -> tuple[np.ndarray, np.ndarray]:
    """An additive mask broadcastable to (*batch, L, S) as a (M, Lm, S) table + (B,) index.

    Avoids materialising a mask shared across heads or batch elements at full size.
    """
    mask = mask.reshape((1,) * (len(batch) + 2 - mask.ndim) + mask.shape)  # pad to (*b, l, s)
    lead, Lm = mask.shape[:-2], mask.shape[-2]
    table = np.ascontiguousarray(np.broadcast_to(mask, lead + (Lm, S))).reshape(-1, Lm, S)
    index = np.arange(table.shape[0], dtype=np.int64).reshape(lead)  # table entry per lead
    index = np.ascontiguousarray(np.broadcast_to(index, batch)).reshape(-1)  # (B,)
    return table, index


def attention_forward(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    scale: float,
    mask: np.ndarray | None = None,
    causal: bool = False,
    dropout_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """O = (softmax(Q Kᵀ · scale + M) ⊙ D) V; returns ``(O, P)`` with P before dropout."""
    L, S = query.shape[-2], key.shape[-2]
    # A stacked np.matmul whose second operand is a transposed view runs 2-4x slower than
    # on a contiguous one (and suffers badly from busy cores): copy the small Kᵀ once.
    key_t = workspace("attention.key_t", key.shape[:-2] + (key.shape[-1], S), key.dtype)  # (*B, E, S)
    np.copyto(key_t, np.swapaxes(key, -1, -2))
    # (*B, L, E) @ (*B, E, S) -> (*B, L, S), a buffer that becomes P in place.
    batch = np.broadcast_shapes(query.shape[:-2], key_t.shape[:-2])
    probs = _recycled("probs", batch + (L, S), query.dtype)
    np.matmul(query, key_t, out=probs)
    if mask is None:
        table, index = np.zeros((1, 1, S), probs.dtype), np.zeros(1, np.int64)
    else:
        table, index = _mask_table(mask.astype(probs.dtype, copy=False), batch, L, S)
    rows = probs.reshape(probs.size // max(S, 1), S)  # (B·L, S), a view
    run = _softmax_rows_parallel if probs.size >= PARALLEL_MIN_SIZE else _softmax_rows_serial
    run(rows, L, float(scale), bool(causal), table, index, mask is not None)
    weights = probs if dropout_mask is None else probs * dropout_mask  # (*B, L, S)
    out = np.matmul(weights, value)  # (*B, L, S) @ (*B, S, Ev) -> (*B, L, Ev)
    return out, probs


def attention_backward(
    grad_output: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    probs: np.ndarray,
    scale: float,
    dropout_mask: np.ndarray | None = None,
    grad_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dQ, dK, dV)``; equations in the reference twin's docstring."""
    S = probs.shape[-1]
    R = probs.size // max(S, 1)  # B·L score rows
    weights = probs if dropout_mask is None else probs * dropout_mask  # (*B, L, S)
    batch = probs.shape[:-2]
    grad_value = _recycled("grad_value", batch + value.shape[-2:], probs.dtype)
    np.matmul(np.swapaxes(weights, -1, -2), grad_output, out=grad_value)  # (*B, S, Ev)
    value_t = workspace("attention.value_t", value.shape[:-2] + (value.shape[-1], S), value.dtype)
    np.copyto(value_t, np.swapaxes(value, -1, -2))  # (*B, Ev, S), see forward
    # (*B, L, Ev) @ (*B, Ev, S) -> (*B, L, S): dW, turned into dS in place below.
    grad_scores = workspace("attention.grad_scores", probs.shape, probs.dtype)
    np.matmul(grad_output, value_t, out=grad_scores)
    if grad_weights is not None:
        grad_scores += grad_weights
    if dropout_mask is None:
        dmask = np.zeros((1, S), probs.dtype)
    else:
        dmask = np.ascontiguousarray(dropout_mask, dtype=probs.dtype).reshape(R, S)
    run = (_softmax_backward_rows_parallel if probs.size >= PARALLEL_MIN_SIZE
           else _softmax_backward_rows_serial)
    run(grad_scores.reshape(R, S), probs.reshape(R, S), float(scale), dmask,
        dropout_mask is not None)
    grad_query = _recycled("grad_query", batch + query.shape[-2:], probs.dtype)
    np.matmul(grad_scores, key, out=grad_query)  # (*B, L, S) @ (*B, S, E) -> (*B, L, E)
    grad_key = _recycled("grad_key", batch + key.shape[-2:], probs.dtype)
    np.matmul(np.swapaxes(grad_scores, -1, -2), query, out=grad_key)  # (*B, S, E)
    return grad_query, grad_key, grad_value


def warmup() -> None:
    """Compile (or load from cache) the serial attention loops for float32 and float64.

    The threaded twins (used only above ``PARALLEL_MIN_SIZE``) compile on first use.
    """
    for dtype in (np.float32, np.float64):
        q = np.ones((2, 3, 4), dtype)
        for m in (None, np.zeros((3, 3), dtype)):
            out, probs = attention_forward(q, q, q, 0.5, m, True, None)
        attention_backward(out, q, q, q, probs, 0.5, None, None)
        attention_backward(out, q, q, q, probs, 0.5, np.ones_like(probs), None)
