"""Scaled dot-product attention kernels: Numba twins of kernels/reference/attention.py.

Same signatures and equations as the reference (see its docstring). The batched matrix
products run in NumPy (``np.matmul`` -> OpenBLAS, one BLAS for the whole op); Numba does what
NumPy would need several passes and temporaries for:

* forward: per score row, passes fusing scale, additive mask, causal mask, the row max, a
  vectorisable polynomial ``exp``, the row sum and the normalisation, in place on the fresh
  ``Q Kᵀ`` buffer (which becomes P);
* backward: one pass per row fusing the dropout mask, ``rowsum(dP ⊙ P)`` and
  ``dS = P ⊙ (dP − rowsum) · scale``, in place on the fresh ``dO Vᵀ`` buffer.

Threads: the batch of (L, S) problems is cut into ``numba.get_num_threads()`` chunks run on
as many threads (the caller's and kernels/jit/threads.py's pool) when the score matrices hold
at least ``THREADED_MIN_SIZE`` elements (512K); with one thread it runs in one call.
OpenBLAS does not thread these small products (128×32×128 ran as fast with
one OpenBLAS thread as with two), so one call used one core; both halves only call OpenBLAS
and ``nogil`` Numba loops, so they overlap. Batch 32, 4 heads, 128 tokens, float32, medians in
one process: forward 5.8 -> 3.2 ms, backward 8.3 -> 4.0 ms. Numba's own ``prange`` is not
used: between the OpenBLAS products its thread pool fought OpenBLAS's (inside
MultiheadAttention, 128 tokens: 28.4 vs 27.4 ms fwd+bwd; 20 tokens: 15.9 vs 2.8 ms).

Row loops (float32, 128-wide rows): the row max is an integer max/min over the floats' bit
patterns (:func:`_key_max`; a float ``max`` chain never vectorises), ``exp`` is a polynomial
without float->int conversion (:func:`_exp_nonpos`, compiled with ``contract`` only), the row
sums carry ``reassoc`` (never ``nnan``/``ninf``: ``-inf`` scores give exactly 0) and the rows
are indexed in the 2-D arrays rather than sliced (a view per row costs reference counting).

Memory: temporaries (the transposed K and V, dS) live in per-thread scratch buffers
(``kernels/workspace.py``) and never leave a call. Outputs (O, P, which the graph keeps until
backward, and the gradients) are fresh arrays: the workspace rule forbids handing out
anything a later call could overwrite. An earlier version recycled P and the gradients from
a per-thread pool guarded by reference counts; with fresh arrays, batch 32, 4 heads,
128 tokens, float32, fwd+bwd took 0-1 minor page faults per step against 74 with the pool
(glibc's adaptive mmap threshold keeps freed multi-MB blocks in the heap), and no measurable
extra time on a noisy 2-core AMD EPYC (in-process A/B, medians of 3 rounds: SDPA 99 vs
136 ms, MultiheadAttention 302 vs 348 ms with one OpenBLAS thread on a machine at load 10).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..workspace import workspace
from .rowmath import exp_nonpos as _exp_nonpos  # vectorisable exp (see rowmath.py)
from .rowmath import max_from_keys
from .threads import split_run

__all__ = ["attention_forward", "attention_backward"]

THREADED_MIN_SIZE = 1 << 19  # score matrices (B·L·S) at least this big run on two threads


# reassoc lets LLVM vectorise the row sums; no nnan/ninf, so -inf scores stay exact
_FAST = {"reassoc", "contract"}


@njit(inline="always", cache=True)
def _key_max(keys, r, n, tp):
    """The float max of row r's first n entries, from ``keys``, the rows' bit patterns.

    Read as signed integers, the patterns of non-negative floats sort like the floats and
    those of negative floats in reverse (-0 is the smallest). So the max is the largest
    pattern if that is >= 0, else the smallest (-inf for n == 0, or an all -inf row). An
    integer max/min reduction vectorises; a float max (compare-and-select, NaN order) does
    not, and as a scalar chain it cost more than the rest of the row.
    """
    if n == 0:
        return tp(-np.inf)
    hi = lo = keys[r, 0]
    for j in range(n):
        hi = max(hi, keys[r, j])
        lo = min(lo, keys[r, j])
    return max_from_keys(hi, lo, tp)


# The row helpers index the 2-D arrays with the row number instead of taking row views:
# a view per row costs reference-count calls that, at 128 floats a row, took a third of the time.
@njit(inline="always", error_model="numpy", cache=True)
def _softmax_row(rows, keys, r, i, table, t, mi, has_mask, causal, sc):
    """In place: row r of raw scores (query i) -> softmax(row·sc + table[t, mi]).

    ``keys`` are the rows viewed as signed integers (for :func:`_key_max`).
    """
    S = rows.shape[1]
    tp = rows.dtype.type
    n = min(i + 1, S) if causal else S  # keys this query may see
    if has_mask or sc < 0:
        # Store scores·scale + mask, then take the row max of what was stored.
        if has_mask:
            for j in range(n):
                rows[r, j] = rows[r, j] * sc + table[t, mi, j]
        else:
            for j in range(n):
                rows[r, j] = rows[r, j] * sc
        step = tp(1.0)
    else:
        # max(s·scale) = max(s)·scale for scale >= 0: fold the scale into the exp pass.
        step = sc
    m = _key_max(keys, r, n, tp)
    if m == -np.inf:  # fully masked row (or n == 0): P = 0, as PyTorch's SDPA
        for j in range(S):
            rows[r, j] = tp(0.0)
        return
    total = tp(0.0)
    for j in range(n):
        e = _exp_nonpos((rows[r, j] - m) * step, tp)
        rows[r, j] = e
        total += e
    inv = tp(1.0) / total
    for j in range(n):
        rows[r, j] *= inv
    for j in range(n, S):
        rows[r, j] = tp(0.0)


@njit(inline="always", error_model="numpy", cache=True)
def _softmax_backward_row(g, p, r, d, rd, has_dropout, sc):
    """In place: row r of g = dW -> dS = P ⊙ (dW⊙D − rowsum(dW⊙D ⊙ P)) · sc."""
    S = g.shape[1]
    tp = g.dtype.type
    dot = tp(0.0)
    if has_dropout:
        for j in range(S):
            g[r, j] = g[r, j] * d[rd, j]
    # the sum in a loop with no stores: its order must not depend on which of LLVM's loop
    # versions the arrays' addresses select (kernels/jit/softmax.py)
    for j in range(S):
        dot += g[r, j] * p[r, j]
    for j in range(S):
        g[r, j] = p[r, j] * (g[r, j] - dot) * sc


# Row loops over a (R, S) block of rows; ``nogil`` so that the two halves of a big batch
# can run on two Python threads (see the module docstring).
@njit(nogil=True, fastmath=_FAST, error_model="numpy", cache=True)
def _softmax_rows(rows, keys, L, scale, causal, table, index, has_mask):
    """In place: rows (B·L, S) of raw scores Q Kᵀ -> P = softmax(scores·scale + mask).

    ``keys`` is ``rows`` viewed as same-width signed integers. table (M, Lm, S) holds the
    additive mask, index (B,) the table entry of each batch element (Lm is 1 or L). Keys
    j > i are dropped when ``causal``.
    """
    sc = rows.dtype.type(scale)
    Lm = table.shape[1]
    for r in range(rows.shape[0]):
        i = r % L
        _softmax_row(rows, keys, r, i, table, index[r // L], i if Lm > 1 else 0, has_mask,
                     causal, sc)


@njit(nogil=True, fastmath=_FAST, error_model="numpy", cache=True)
def _softmax_backward_rows(grad, probs, scale, dropout_mask, has_dropout):
    """In place: grad (B·L, S) = dW -> dS = P ⊙ (dW⊙D − rowsum(dW⊙D ⊙ P)) · scale."""
    sc = grad.dtype.type(scale)
    for r in range(grad.shape[0]):
        _softmax_backward_row(grad, probs, r, dropout_mask, r if has_dropout else 0,
                              has_dropout, sc)


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


def _two_halves(work, B: int, size: int) -> None:
    """Run ``work(lo, hi)`` over the batch range [0, B): split over Numba's thread count
    (``numba.get_num_threads()``, so ``--threads 1`` runs it in one call) when the score
    matrices hold at least ``THREADED_MIN_SIZE`` elements, else in one call. The chunks only
    call OpenBLAS and ``nogil`` Numba loops, which release the GIL (kernels/jit/threads.py).
    """
    split_run(work, B, size, THREADED_MIN_SIZE // 2)


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
    L, S, E, Ev = query.shape[-2], key.shape[-2], query.shape[-1], value.shape[-1]
    batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    B = int(np.prod(batch, dtype=np.int64))
    dt = query.dtype
    # Batch dims that broadcast are expanded; (*B, L, E) -> (B, L, E) is a view when possible.
    q3 = np.broadcast_to(query, batch + (L, E)).reshape(B, L, E)
    k3 = np.broadcast_to(key, batch + (S, E)).reshape(B, S, E)
    v3 = np.broadcast_to(value, batch + (S, Ev)).reshape(B, S, Ev)
    d3 = None if dropout_mask is None else dropout_mask.reshape(B, L, S)
    # A stacked np.matmul whose second operand is a transposed view runs 2-4x slower than
    # on a contiguous one (and suffers badly from busy cores): copy the small Kᵀ once.
    key_t = workspace("attention.key_t", (B, E, S), dt)
    probs = np.empty(batch + (L, S), dt)  # P: saved for backward, so never a workspace
    p3 = probs.reshape(B, L, S)
    out = np.empty(batch + (L, Ev), dt)
    o3 = out.reshape(B, L, Ev)
    if mask is None:
        table, index = np.zeros((1, 1, S), dt), np.zeros(B, np.int64)
    else:
        table, index = _mask_table(mask.astype(dt, copy=False), batch, L, S)
    ikind = np.int64 if dt == np.float64 else np.int32

    def work(lo: int, hi: int) -> None:
        np.copyto(key_t[lo:hi], np.swapaxes(k3[lo:hi], -1, -2))
        p = p3[lo:hi]
        np.matmul(q3[lo:hi], key_t[lo:hi], out=p)  # scores, turned into P in place
        rows = p.reshape((hi - lo) * L, S)
        _softmax_rows(rows, rows.view(ikind), L, float(scale), bool(causal), table,
                      index[lo:hi], mask is not None)
        w = p if d3 is None else p * d3[lo:hi]
        np.matmul(w, v3[lo:hi], out=o3[lo:hi])

    _two_halves(work, B, probs.size)
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
    L, S = probs.shape[-2:]
    E, Ev = query.shape[-1], value.shape[-1]
    batch = probs.shape[:-2]
    B = int(np.prod(batch, dtype=np.int64))
    dt = probs.dtype
    q3 = np.broadcast_to(query, batch + (L, E)).reshape(B, L, E)
    k3 = np.broadcast_to(key, batch + (S, E)).reshape(B, S, E)
    v3 = np.broadcast_to(value, batch + (S, Ev)).reshape(B, S, Ev)
    go3 = np.broadcast_to(grad_output, batch + (L, Ev)).reshape(B, L, Ev)
    p3 = probs.reshape(B, L, S)
    d3 = None if dropout_mask is None else dropout_mask.reshape(B, L, S)
    gw3 = None if grad_weights is None else np.broadcast_to(grad_weights, probs.shape).reshape(B, L, S)
    value_t = workspace("attention.value_t", (B, Ev, S), dt)
    grad_scores = workspace("attention.grad_scores", (B, L, S), dt)
    grad_query = np.empty(batch + (L, E), dt)  # results: fresh arrays the caller owns
    grad_key = np.empty(batch + (S, E), dt)
    grad_value = np.empty(batch + (S, Ev), dt)
    gq3, gk3, gv3 = (g.reshape(B, -1, g.shape[-1]) for g in (grad_query, grad_key, grad_value))
    no_drop = np.zeros((1, S), dt)

    def work(lo: int, hi: int) -> None:
        p = p3[lo:hi]
        w = p if d3 is None else p * d3[lo:hi]
        np.matmul(np.swapaxes(w, -1, -2), go3[lo:hi], out=gv3[lo:hi])  # (b, S, Ev)
        np.copyto(value_t[lo:hi], np.swapaxes(v3[lo:hi], -1, -2))  # (b, Ev, S), see forward
        gs = grad_scores[lo:hi]
        np.matmul(go3[lo:hi], value_t[lo:hi], out=gs)  # dW, turned into dS in place below
        if gw3 is not None:
            gs += gw3[lo:hi]
        R = (hi - lo) * L
        dm = no_drop if d3 is None else np.ascontiguousarray(d3[lo:hi]).reshape(R, S)
        _softmax_backward_rows(gs.reshape(R, S), p.reshape(R, S), float(scale), dm, d3 is not None)
        np.matmul(gs, k3[lo:hi], out=gq3[lo:hi])  # (b, L, S) @ (b, S, E) -> (b, L, E)
        np.matmul(np.swapaxes(gs, -1, -2), q3[lo:hi], out=gk3[lo:hi])  # (b, S, E)

    _two_halves(work, B, probs.size)
    return grad_query, grad_key, grad_value


def warmup() -> None:
    """Compile (or load from cache) the attention row loops for float32 and float64."""
    for dtype in (np.float32, np.float64):
        q = np.ones((2, 3, 4), dtype)
        for m in (None, np.zeros((3, 3), dtype)):
            out, probs = attention_forward(q, q, q, 0.5, m, True, None)
        attention_backward(out, q, q, q, probs, 0.5, None, None)
        attention_backward(out, q, q, q, probs, 0.5, np.ones_like(probs), None)
