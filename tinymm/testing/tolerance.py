"""Error bounds from rounding-error analysis: how far a float32 kernel may be from the truth.

One rule for every comparison of kernels in low precision:

    compute a float64 reference from the SAME inputs the kernel saw (its float32 values,
    converted exactly), and require every element of the kernel's result to lie within
    a bound on its rounding error that the inputs themselves determine.

Both kernel twins (Numba and NumPy) are held to the same bound against the same reference,
instead of to each other with a tolerance that happened to pass on one CPU.

The bounds (Higham, *Accuracy and Stability of Numerical Algorithms*, ch. 2-4), with
``u = eps(dtype) / 2`` the unit roundoff (2**-24 for float32) and ``γ_n = n·u / (1 - n·u)``:

* **sum or dot product of n terms**, in any order, blocked or pairwise, with or without FMA:
  ``|fl(Σ t_i) - Σ t_i| <= γ_{n-1} · Σ |t_i|`` (each term goes through at most n - 1
  additions; a product adds one rounding, ``γ_n`` for a dot product). See :func:`sum_bound`;
* **a multilinear op** (matmul, convolution, their backward passes, pooling sums, scatter
  adds): each output is a sum of k products, so componentwise
  ``|err| <= γ_k · op(|a|, |b|, ...)``, where evaluating the op on absolute values in float64
  gives ``Σ |terms|`` for every output at once (:func:`multilinear_bound`); the normwise
  form ``||err||_F <= γ_k ||A||_F ||B||_F`` is :func:`matmul_normwise_bound`;
* **an elementwise op** ``y = f(x)``: the final rounding and the function's own error (a few
  ulps of the result) plus the input-perturbation term ``u·|x·f'(x)|`` — the error any
  algorithm makes once an intermediate such as ``x - max`` is rounded
  (:func:`elementwise_bound`).

* **a straight-line program of +, −, ×** on exact inputs (a backward pass given its saved
  arrays): the computed value is within ``γ_K`` times the same program run on absolute
  values with every − turned into +, K the number of operations on the longest path.

Composite kernels (softmax family, layer norm, attention, recurrent cells, optimizer
steps) add these terms step by step, as the first-order analysis does; their derivations
are in ``tests/kernel_bounds/``. The reference for float64 kernels is computed in
``np.longdouble`` (:func:`reference_dtype`).

**The constant.** Every bound is multiplied by ``SAFETY = 2``. The analyses are first order
and count one rounding per primitive; an implementation may spend two (a division done as a
reciprocal and a product, as the Numba softmax does; ``x - (m + L)`` instead of
``(x - m) - L``), and the float64 reference carries its own, ~1e-9 times smaller, error.
Results in the subnormal range get an absolute floor (:func:`assert_close_to_reference`).
Transcendental functions (exp, log, tanh, ...) are charged ``TRANSCENDENTAL_ULPS = 4`` ulps
(8u relative): NumPy's SIMD float32 exp/log are documented below 4 ulps, glibc's below 1,
and the Numba polynomial exp is tested below 2.

**Why this holds on any x86-64 CPU.** Nothing in a bound depends on the order in which a
kernel adds its terms: γ_n bounds recursive, reversed, pairwise (NumPy's ``np.sum``) and
lane-blocked summation (what ``reassoc`` lets LLVM emit: 8 float32 lanes with AVX2, 16 with
AVX-512, times its unroll factor) alike. A CPU with other vector widths changes the
rounding errors, not their bound. ``tests/tinymm/testing/test_tolerance.py`` checks this:
it evaluates the kernels' formulas (log-softmax backward over 10000 classes, the row that
failed on an AMD EPYC with the old ``atol=1e-6``) with sums forced into six orders —
sequential, reversed, NumPy pairwise, blocks of 8 and 16 lanes, largest magnitude first —
and shows every one lies inside the bound while the naive ``rtol=1e-4, atol=1e-6``
comparison of two of them fails.

The price of a worst-case bound is looseness on long sums (γ_10000 ≈ 6e-4 in float32);
structural bugs are caught by the same kernels' tests on small shapes, where the bounds
are tight, and by finite differences in float64.

Example::

    from tinymm.testing import tolerance as tol

    x = rng.standard_normal((64, 300)).astype(np.float32)
    w = rng.standard_normal((300, 10)).astype(np.float32)
    ref = x.astype(np.float64) @ w.astype(np.float64)
    bound = tol.multilinear_bound(np.matmul, x, w, n_terms=300, dtype=np.float32)
    tol.assert_close_to_reference(x @ w, ref, bound, name="x @ w")
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "SAFETY", "TRANSCENDENTAL_ULPS", "UNDERFLOW_OPS", "unit_roundoff", "gamma", "sum_bound",
    "dot_bound", "multilinear_bound", "multilinear_reference", "matmul_normwise_bound",
    "elementwise_bound",
    "assert_close_to_reference", "reference_inputs", "reference_dtype",
]

SAFETY = 2.0
TRANSCENDENTAL_ULPS = 4
UNDERFLOW_OPS = 16


def unit_roundoff(dtype) -> float:
    """u = eps / 2: the largest relative error of one correctly rounded operation."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"unit_roundoff: expected a floating dtype, got {dtype}")
    return float(np.finfo(dtype).eps) / 2


def gamma(n, dtype) -> float | np.ndarray:
    """γ_n = n·u / (1 - n·u), the relative bound of n successive roundings (n >= 0)."""
    u = unit_roundoff(dtype)
    n = np.asarray(n, dtype=np.float64)
    if np.any(n * u >= 1):
        raise ValueError(f"gamma: n·u must be < 1 for a bound to exist, got n = {n.max():g}")
    out = n * u / (1 - n * u)
    return float(out) if out.ndim == 0 else out


def _is_float(x) -> bool:
    return isinstance(x, np.ndarray | np.floating) and np.asarray(x).dtype.kind == "f"


def _abs64(a) -> np.ndarray:
    return np.abs(np.asarray(a, dtype=np.float64))


def sum_bound(terms, axis=None, dtype=np.float32, keepdims: bool = False) -> np.ndarray:
    """SAFETY · γ_{n-1} · Σ|terms| along ``axis``: the error of the float sum in any order.

    ``terms`` are the exact (float64) summands; n is their count along ``axis``.
    """
    t = _abs64(terms)
    n = t.size if axis is None else np.prod([t.shape[a] for a in np.atleast_1d(axis)])
    return SAFETY * gamma(max(int(n) - 1, 0), dtype) * t.sum(axis=axis, keepdims=keepdims)


def dot_bound(a, b, axis=-1, dtype=np.float32, keepdims: bool = False) -> np.ndarray:
    """SAFETY · γ_n · Σ|a·b| along ``axis``: the error of a dot product of n products."""
    t = _abs64(a) * _abs64(b)
    n = t.shape[axis]
    return SAFETY * gamma(n, dtype) * t.sum(axis=axis, keepdims=keepdims)


def multilinear_bound(op: Callable, *inputs, n_terms: int, dtype=np.float32,
                      **kwargs) -> np.ndarray:
    """SAFETY · γ_k · op(|a|, |b|, ...) for an op whose outputs are sums of k products.

    Run in float64 on absolute values, a multilinear op (matmul, convolution and its
    backward kernels, sum-pooling, a scatter-add) returns Σ|terms| for each output, the
    quantity the componentwise bound needs. ``n_terms`` is the longest sum (count a bias
    as one more term). Non-floating inputs (indices) pass through unchanged.
    """
    args = [_abs64(x) if _is_float(x) else x for x in inputs]
    out = op(*args, **kwargs)
    scale = SAFETY * gamma(n_terms, dtype)
    if isinstance(out, tuple):
        return tuple(None if o is None else scale * np.abs(o) for o in out)
    return scale * np.abs(out)


def multilinear_reference(op: Callable, *inputs, n_terms: int, **kwargs):
    """(reference, bound) of a multilinear kernel ``op`` on ``inputs``.

    The reference is ``op`` (a NumPy reference kernel) on the exactly widened inputs
    (:func:`reference_inputs`); the bound is :func:`multilinear_bound` in the dtype of the
    first floating input. Tuple outputs give tuples of both (``None`` entries stay ``None``).
    """
    dtype = next(np.asarray(x).dtype for x in inputs if _is_float(x))
    wide = reference_inputs(*inputs)
    wide = wide if isinstance(wide, tuple) and len(inputs) > 1 else (wide,)
    reference = op(*wide, **kwargs)
    return reference, multilinear_bound(op, *inputs, n_terms=n_terms, dtype=dtype, **kwargs)


def matmul_normwise_bound(a, b, dtype=np.float32) -> float:
    """SAFETY · γ_k · ||A||_F ||B||_F for A (…, m, k) @ B (…, k, n): bounds ||err||_F."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    k = a64.shape[-1]
    return float(SAFETY * gamma(k, dtype) * np.linalg.norm(a64) * np.linalg.norm(b64))


def elementwise_bound(result, dtype=np.float32, ulps: float = 0.5,
                      perturbation=0.0) -> np.ndarray:
    """SAFETY · (2·ulps·u·|result| + u·|perturbation|) for one elementwise evaluation.

    ``ulps`` is the accuracy of the function itself (0.5 for a correctly rounded + - * / or
    sqrt, :data:`TRANSCENDENTAL_ULPS` for exp, log, tanh, ...); one ulp of y is at most
    2u·|y|. ``perturbation`` is the input-conditioning term |x·f'(x)| (or the sum of such
    terms for the intermediates the algorithm rounds), evaluated in float64.
    """
    u = unit_roundoff(dtype)
    return SAFETY * (2 * ulps * u * _abs64(result) + u * _abs64(perturbation))


def reference_dtype(dtype) -> np.dtype:
    """The dtype a reference for ``dtype`` is computed in: float64 for float32 (and float16),
    ``np.longdouble`` for float64 (x87 extended precision on x86-64 Linux: 11 more bits; on a
    platform where it is plain float64 the reference's own error doubles, still inside
    SAFETY)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.longdouble) if dtype == np.float64 else np.dtype(np.float64)


def reference_inputs(*arrays):
    """Exact widened copies of the floating ``arrays`` (see :func:`reference_dtype`).

    The reference must see the same values the kernel saw: round the inputs to the
    kernel's dtype first, then widen them with this (widening is exact). Non-floating
    arrays (indices) pass through.
    """
    out = tuple(np.asarray(a).astype(reference_dtype(np.asarray(a).dtype))
                if _is_float(a) else a for a in arrays)
    return out[0] if len(out) == 1 else out


def _subnormal(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).smallest_subnormal) if dtype.kind == "f" else 0.0


def _index(flat: int, shape: tuple) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def assert_close_to_reference(actual, reference64, bound, name: str = "result") -> float:
    """Assert ``|actual - reference64| <= bound`` elementwise; return the worst ratio err/bound.

    ``reference64`` is float64 (or wider, see :func:`reference_dtype`); the comparison is
    done in the wider of the two.
    ``bound`` is an array broadcastable to the result (a scalar for a normwise bound).
    Every bound gets an absolute floor for gradual underflow: ``UNDERFLOW_OPS`` = 16
    operations' worth of half a subnormal spacing of ``actual``'s dtype (1e-44 in float32).
    Non-finite reference entries must be reproduced exactly (NaN where NaN, the same
    infinity); shapes must be equal. The failure message names ``name``, the count of
    elements outside their bound and the worst one: its index, both values, the error,
    its bound and their ratio.

    >>> import tinymm.testing as tmt
    >>> ref = np.array([1.0, 2.0])
    >>> tmt.assert_close_to_reference(np.array([1.0, 2.0000001], np.float32), ref, 1e-6)
    0.0
    """
    a = np.asarray(actual)
    r = np.asarray(reference64)
    wide = np.result_type(r.dtype, np.float64)
    r = r.astype(wide)
    if a.shape != r.shape:
        raise AssertionError(f"{name}: shape {a.shape} but the reference has shape {r.shape}")
    a = a.astype(wide)
    # gradual underflow: each operation may add half a subnormal spacing (Higham §2.1)
    floor = SAFETY * UNDERFLOW_OPS * _subnormal(np.asarray(actual).dtype) / 2
    b = np.broadcast_to(np.asarray(bound, dtype=wide), r.shape) + floor
    finite = np.isfinite(r)
    wrong_special = ~finite & ~((np.isnan(r) & np.isnan(a)) | (a == r))
    if np.any(wrong_special):
        idx = _index(int(np.argmax(wrong_special)), r.shape)
        raise AssertionError(f"{name}: {int(wrong_special.sum())} non-finite reference "
                             f"element(s) not reproduced; first at {idx}: actual {a[idx]!r}, "
                             f"reference {r[idx]!r}")
    with np.errstate(invalid="ignore"):
        err = np.where(finite, np.abs(a - r), 0.0)
    err = np.where(finite & ~np.isfinite(a), np.inf, err)
    bad = err > b
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / b)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    worst = float(ratio.max()) if ratio.size else 0.0
    if np.any(bad):
        idx = _index(int(np.argmax(np.where(bad, ratio, -1.0))), r.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} elements exceed their rounding-error "
            f"bound; worst at {idx}: actual {a[idx]:.9g}, reference {r[idx]:.9g}, "
            f"|error| {err[idx]:.3g} > bound {b[idx]:.3g} (ratio {ratio[idx]:.3g})")
    return worst
