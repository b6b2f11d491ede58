"""The int8 product with AVX2's ``vpmaddubsw``, for 7-bit activations (x_q ≤ 127).

``kernels/jit/quant.py`` widens every uint8 and int8 to int32 lanes, so each ``vpmaddwd``
does 8 useful multiplies: the same rate as a float32 FMA, hence parity with BLAS's sgemm at
batch 32 on a CPU without VNNI. ``vpmaddubsw`` multiplies 32 uint8 × int8 pairs and adds
neighbours into 16 int16 lanes, with *saturation*; ``vpmaddwd`` by ones then adds those pairs
into 8 int32 lanes. The saturation never happens when x_q ≤ 127: a lane sum is at most
2 · 127 · 127 = 32 258 < 32 767 in magnitude. Under that condition the product is exact and
equals the NumPy twin bit for bit; the caller checks it (``int8_linear`` falls back to the
int32-lane kernel otherwise), and ``tinymm.compress`` quantises activations to 7 bits
(``reduce_range=True``, PyTorch's name for the same trade on x86) so that it holds.

LLVM's vectoriser does not find this pattern in plain Numba code, so the blocks of 4 input
rows × 2 channels (and 1 × 2 for the rows left over, e.g. batch 1) are written as LLVM IR
through ``numba.extending.intrinsic`` (32 values of K per step, one vector accumulator per
sum, a scalar loop for the last K mod 32). The intrinsics exist only
on AVX2 CPUs: ``AVAILABLE`` says whether this process may compile them (the host has AVX2 and
Numba targets the host CPU); nothing here is compiled otherwise.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .quant import _store


def _host_has_avx2() -> bool:
    if numba.config.DISABLE_JIT or numba.config.CPU_NAME or numba.config.CPU_FEATURES:
        return False  # interpreted, or compiling for a portable / another CPU
    try:
        return bool(_llvm.get_host_cpu_features().get("avx2", False))
    except (RuntimeError, AttributeError):
        return False


AVAILABLE = _host_has_avx2()
STEP = 32  # int8 values of K per vpmaddubsw

_I8, _I16, _I32, _I64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
_V32I8, _V16I16, _V8I32 = ir.VectorType(_I8, 32), ir.VectorType(_I16, 16), ir.VectorType(_I32, 8)


def _row_pointers(builder, base, first, stride, count):
    """Integer addresses of rows first, first + 1, ... of a C-contiguous 2-D array."""
    return [builder.add(base, builder.mul(builder.add(first, ir.Constant(_I64, i)), stride))
            for i in range(count)]


def _horizontal_sums(builder, vectors):
    """Up to 8 vectors of 8 int32 -> one vector whose lane i is the sum of vectors[i]'s lanes:
    three rounds of ``vphaddd`` and one add of the 128-bit halves (instead of 7 extracts and
    adds per vector)."""
    hadd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_V8I32, [_V8I32, _V8I32]), "llvm.x86.avx2.phadd.d")
    zero = ir.Constant(_V8I32, None)
    v = list(vectors) + [zero] * (8 - len(vectors))
    t = [builder.call(hadd, [v[2 * i], v[2 * i + 1]]) for i in range(4)]
    u0, u1 = builder.call(hadd, [t[0], t[1]]), builder.call(hadd, [t[2], t[3]])
    # u0 = [Σlo v0..v3 | Σhi v0..v3], u1 the same for v4..v7 (lo/hi: the 128-bit halves)
    low = builder.shuffle_vector(u0, u1, ir.Constant(ir.VectorType(_I32, 8), [0, 1, 2, 3, 8, 9, 10, 11]))
    high = builder.shuffle_vector(u0, u1, ir.Constant(ir.VectorType(_I32, 8), [4, 5, 6, 7, 12, 13, 14, 15]))
    return builder.add(low, high)


def _block_codegen(rows: int):
    """LLVM IR of a block of ``rows`` input rows × 2 channels (see :func:`_block_4x2`)."""

    def codegen(context, builder, signature, args):
        x_arr, w_arr, row, c0, c1, steps = args
        x = context.make_array(signature.args[0])(context, builder, x_arr)
        w = context.make_array(signature.args[1])(context, builder, w_arr)
        module = builder.module
        maddubs = cgutils.get_or_insert_function(
            module, ir.FunctionType(_V16I16, [_V32I8, _V32I8]), "llvm.x86.avx2.pmadd.ub.sw")
        maddwd = cgutils.get_or_insert_function(
            module, ir.FunctionType(_V8I32, [_V16I16, _V16I16]), "llvm.x86.avx2.pmadd.wd")
        x_rows = _row_pointers(builder, builder.ptrtoint(x.data, _I64), row,
                               builder.extract_value(x.strides, 0), rows)
        w_base, w_stride = builder.ptrtoint(w.data, _I64), builder.extract_value(w.strides, 0)
        w_rows = [builder.add(w_base, builder.mul(c, w_stride)) for c in (c0, c1)]
        sums = [cgutils.alloca_once_value(builder, ir.Constant(_V8I32, None))
                for _ in range(2 * rows)]
        ones = ir.Constant(_V16I16, [1] * 16)

        def load(address, offset):
            pointer = builder.inttoptr(builder.add(address, offset), _V32I8.as_pointer())
            return builder.load(pointer, align=1)

        with cgutils.for_range(builder, steps) as loop:
            offset = builder.mul(loop.index, ir.Constant(_I64, STEP))
            weights = [load(address, offset) for address in w_rows]
            for i, address in enumerate(x_rows):
                inputs = load(address, offset)
                for j, weight in enumerate(weights):
                    pairs = builder.call(maddubs, [inputs, weight])  # 16 × int16
                    quads = builder.call(maddwd, [pairs, ones])      # 8 × int32
                    total = sums[2 * i + j]
                    builder.store(builder.add(builder.load(total), quads), total)
        totals = _horizontal_sums(builder, [builder.load(total) for total in sums])
        out = [builder.extract_element(totals, ir.Constant(_I32, i)) for i in range(len(sums))]
        return context.make_tuple(builder, signature.return_type, out)

    return codegen


@intrinsic
def _block_4x2(typingctx, x_q, w_q, row, c0, c1, steps):
    """Σ_{k < 32·steps} x_q[row + i, k] · w_q[c_j, k] for i < 4, j < 2 -> 8 int32 (i-major).

    x_q uint8 (N, K) and w_q int8 (C, K), both C-contiguous, the indices int64; the caller
    guarantees row + 3 < N, c0, c1 < C, 32·steps ≤ K and x_q ≤ 127 (no saturation).
    """
    return types.UniTuple(types.int32, 8)(x_q, w_q, row, c0, c1, steps), _block_codegen(4)


@intrinsic
def _block_1x2(typingctx, x_q, w_q, row, c0, c1, steps):
    """:func:`_block_4x2` for one row: (Σ x_q[row] · w_q[c0], Σ x_q[row] · w_q[c1])."""
    return types.UniTuple(types.int32, 2)(x_q, w_q, row, c0, c1, steps), _block_codegen(1)


@njit(cache=True)
def _tail_4x2(x_q, w_q, n, c0, c1, start, r):
    """The eight sums r plus the 4 × 2 block's products over k in [start, K)."""
    s00, s01, s10, s11, s20, s21, s30, s31 = r
    for k in range(start, x_q.shape[1]):
        a0 = np.int32(w_q[c0, k])
        a1 = np.int32(w_q[c1, k])
        v = np.int32(x_q[n, k])
        s00 = np.int32(s00 + np.int32(v * a0))
        s01 = np.int32(s01 + np.int32(v * a1))
        v = np.int32(x_q[n + 1, k])
        s10 = np.int32(s10 + np.int32(v * a0))
        s11 = np.int32(s11 + np.int32(v * a1))
        v = np.int32(x_q[n + 2, k])
        s20 = np.int32(s20 + np.int32(v * a0))
        s21 = np.int32(s21 + np.int32(v * a1))
        v = np.int32(x_q[n + 3, k])
        s30 = np.int32(s30 + np.int32(v * a0))
        s31 = np.int32(s31 + np.int32(v * a1))
    return s00, s01, s10, s11, s20, s21, s30, s31


ROW_BLOCK_BYTES = 1 << 17  # input rows per pass over the channels: about 128 KiB (L2)


@njit(cache=True)
def _gemm_pairs(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y, lo, hi):
    """As ``quant._gemm_pairs`` (channel pairs [lo, hi)), the blocks on ``vpmaddubsw``.

    Rows are taken in blocks of about 128 KiB, each block against every channel pair of the
    share, so the input rows stay in L2 while the weights stream past them.
    """
    N, K = x_q.shape
    C = w_q.shape[0]
    N4 = N - N % 4
    steps = K // STEP
    done = steps * STEP
    block = max(4, (ROW_BLOCK_BYTES // max(K, 1)) // 4 * 4)
    for r0 in range(0, N4, block):
        r1 = min(r0 + block, N4)
        for cb in range(lo, hi):
            c0 = 2 * cb
            c1 = c0 + 1 if c0 + 1 < C else c0  # an odd last channel pairs with itself
            ws0, ws1 = w_sum[c0], w_sum[c1]
            for n in range(r0, r1, 4):
                r = _tail_4x2(x_q, w_q, n, c0, c1, done,
                              _block_4x2(x_q, w_q, np.int64(n), np.int64(c0), np.int64(c1),
                                         np.int64(steps)))
                for i in range(4):
                    _store(acc, y, n + i, c0, r[2 * i], zero, ws0, scale, bias, has_bias)
                    _store(acc, y, n + i, c1, r[2 * i + 1], zero, ws1, scale, bias, has_bias)
    for cb in range(lo, hi):
        c0 = 2 * cb
        c1 = c0 + 1 if c0 + 1 < C else c0
        ws0, ws1 = w_sum[c0], w_sum[c1]
        for n in range(N4, N):
            s0, s1 = _block_1x2(x_q, w_q, np.int64(n), np.int64(c0), np.int64(c1),
                                np.int64(steps))
            for k in range(done, K):  # the last K mod 32
                v = np.int32(x_q[n, k])
                s0 = np.int32(s0 + np.int32(v * np.int32(w_q[c0, k])))
                s1 = np.int32(s1 + np.int32(v * np.int32(w_q[c1, k])))
            _store(acc, y, n, c0, s0, zero, ws0, scale, bias, has_bias)
            _store(acc, y, n, c1, s1, zero, ws1, scale, bias, has_bias)


@njit(cache=True, parallel=True)
def _gemm_parallel(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y, chunks):
    """:func:`_gemm_pairs` with the channel pairs split into ``chunks`` threads' shares."""
    pairs = (w_q.shape[0] + 1) // 2
    for t in prange(chunks):
        _gemm_pairs(x_q, w_q, zero, w_sum, scale, bias, has_bias, acc, y,
                    t * pairs // chunks, (t + 1) * pairs // chunks)
