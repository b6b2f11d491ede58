"""Vectorisable row maths shared by the softmax and attention kernels.

There is no SVML here, so ``math.exp`` in a Numba loop is a scalar libm call per element
(docs/performance.md, pitfall 3), and a float ``max`` chain never vectorises. These two helpers are the
replacements: a polynomial ``exp`` for non-positive arguments, and the float max of a row
recovered from integer max/min reductions over its bit patterns.

Numba's on-disk cache tracks only the file that defines a jitted function, not the jitted
functions it calls from other files: after editing this file, delete
``kernels/jit/__pycache__`` so softmax.py and attention.py are compiled again.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["exp_nonpos", "max_from_keys", "bitcast"]


@intrinsic
def bitcast(typingctx, value, to):
    """``bitcast(v, np.int32)``: the bits of scalar ``v`` read as the same-width type ``to``.

    What ``np.float32(v).view(np.int32)`` does, as one LLVM ``bitcast`` emitted in place.
    Numba compiles each scalar ``.view`` as a function of its own (~40 ms per type pair at
    first call, and both dtypes' pairs get compiled because both branches below are typed).
    """
    target = getattr(to, "instance_type", None)
    if not (isinstance(value, types.Number) and isinstance(target, types.Number)
            and value.bitwidth == target.bitwidth):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(value, to), codegen


# exp(r) ~ 1 + r·(c1 + r·(c2 + ... + r·c6)) on |r| <= ln2/2, relative error 2e-9: a minimax
# fit (Lawson's iteratively reweighted least squares on the relative error, 4001 Chebyshev
# points), so degree 6 is as accurate in float32 as degree 7 of the Taylor series.
_C1, _C2, _C3 = 1.0000000321654516, 0.49999994208987447, 0.1666643126083054
_C4, _C5, _C6 = 0.04166800204196932, 0.008374155460163943, 0.001384365362312305


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def exp_nonpos(x, tp):
    """exp(x) in dtype ``tp`` for x <= 0 (valid up to x ~ 88); vectorises, unlike ``math.exp``.

    x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two, Cody-Waite, so n·ln2 is subtracted
    without rounding error); exp(r) by a polynomial, 2**n from exponent bits. n is rounded by
    adding 1.5·2**23 (2**52 for float64) plus the exponent bias: the sum's low mantissa bits
    are then bias + n, which shifted into the exponent field give 2**n; no float->int
    conversion. ``-inf`` -> 0, NaN -> NaN. float32: degree-6 minimax polynomial, relative
    error < 1.5e-7, results below e^-87 (~1.6e-38, the smallest normal floats) flush to 0.
    float64: degree-12 Taylor polynomial, relative error < 1e-15, results below e^-708 flush
    to 0. Compiled with ``contract`` only: ``reassoc`` would let LLVM cancel the rounding
    constant (``(a + M) - M -> a``) or merge the two Cody-Waite steps.
    """
    # True for float64; LLVM folds this to a constant, so each dtype compiles one branch.
    wide = (tp(1.0) + tp(1e-10)) != tp(1.0)
    lo = tp(-708.0) if wide else tp(-87.0)
    # x < lo (and -inf) give garbage below, replaced by 0 at the end; NaN stays NaN
    magic = tp(6755399441055744.0 + 1023.0) if wide else tp(12582912.0 + 127.0)
    t = x * tp(1.4426950408889634) + magic  # magic + round(x / ln2)
    n = t - magic
    r = (x - n * tp(0.693359375)) - n * tp(-2.1219444005469058e-4)
    if wide:
        p = tp(1.0 / 479001600.0)
        p = p * r + tp(1.0 / 39916800.0)
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
        pow2 = tp(bitcast(np.int64(bitcast(np.float64(t), np.int64) << 52), np.float64))  # 2**n
    else:
        p = tp(_C6)
        p = p * r + tp(_C5)
        p = p * r + tp(_C4)
        p = p * r + tp(_C3)
        p = p * r + tp(_C2)
        p = p * r + tp(_C1)
        p = p * r + tp(1.0)
        pow2 = tp(bitcast(np.int32(bitcast(np.float32(t), np.int32) << 23), np.float32))  # 2**n
    return tp(0.0) if x < lo else p * pow2


@njit(cache=True, error_model="numpy")
def max_from_keys(hi, lo, tp):
    """The float max of a row from the max ``hi`` and min ``lo`` of its bit patterns.

    Read as signed integers, the patterns of non-negative floats sort like the floats and
    those of negative floats in reverse (-0 is the smallest). So the max is the largest
    pattern if that is >= 0, else the smallest. A +NaN pattern is above +inf: NaN wins.
    Integer max/min reductions vectorise; a float max (compare-and-select) does not, and
    ``llvm.maximum`` only with a slow NaN fix-up per element: as a scalar loop the row max
    cost more than the rest of the softmax.
    """
    wide = (tp(1.0) + tp(1e-10)) != tp(1.0)
    if wide:
        return tp(bitcast(np.int64(hi if hi >= 0 else lo), np.float64))
    return tp(bitcast(np.int32(hi if hi >= 0 else lo), np.float32))
