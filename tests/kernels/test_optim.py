"""optim kernels: the Numba twins equal the NumPy reference, in place, in both float dtypes.

Both twins are compared with the reference kernel run on exactly widened copies (float64
for float32, long double for float64), within the first-order rounding-error bounds of the
update rules (``tests/kernel_bounds.py``: adam_step_bound, sgd_step_bound).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from kernel_bounds import adam_step_bound, sgd_step_bound
from tinymm.kernels.jit import optim as jit_optim
from tinymm.kernels.reference import optim as ref

from tinymm import kernels
from tinymm.testing import tolerance as tol

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=9)
dtypes = st.sampled_from([np.float32, np.float64])


def _arrays(seed, shape, dtype, n):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


def _run_both(name, arrays, *scalars):
    """Run the numpy and the numba kernel on copies; return both sets of (updated) arrays."""
    out = []
    for backend in ("numpy", "numba"):
        copies = [None if a is None else a.copy() for a in arrays]
        assert kernels.get(name, backend)(*copies, *scalars) is None  # updates in place
        out.append(copies)
    return out


def _assert_same(name, arrays, scalars, bound, results):
    """Both backends' updated arrays within ``bound``'s first-order bounds of the reference."""
    dtype = arrays[0].dtype
    wide, bounds = bound(getattr(ref, name), arrays, *scalars)
    labels = {"adam_step": ("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
              "sgd_step": ("param", "grad", "momentum_buffer")}[name]
    for backend, updated in zip(("numpy", "numba"), results):
        for label, got, want, allowed in zip(labels, updated, wide, bounds):
            if want is None:
                assert got is None
                continue
            assert got.dtype == dtype
            tol.assert_close_to_reference(got, want, allowed, name=f"{name} {label} ({backend})")


@settings(deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**31 - 1), step=st.integers(1, 20),
       decoupled=st.booleans(), amsgrad=st.booleans(), maximize=st.booleans(),
       weight_decay=st.sampled_from([0.0, 0.1]), lr=st.floats(1e-4, 0.5))
def test_adam_step_numba_matches_reference(shape, dtype, seed, step, decoupled, amsgrad,
                                           maximize, weight_decay, lr):
    param, grad, exp_avg, v = _arrays(seed, shape, dtype, 4)
    exp_avg_sq = np.asarray(v * v)  # second moments are non-negative (asarray: 0-d stays array)
    max_sq = np.asarray(exp_avg_sq * dtype(1.5)) if amsgrad else None
    before = param.copy()
    arrays = [param, grad, exp_avg, exp_avg_sq, max_sq]
    scalars = (step, lr, 0.9, 0.999, 1e-8, weight_decay, decoupled, amsgrad, maximize)
    r, j = _run_both("adam_step", arrays, *scalars)
    _assert_same("adam_step", arrays, scalars, adam_step_bound, (r, j))
    assert not np.array_equal(r[0], before)  # the parameter really moved
    np.testing.assert_array_equal(r[1], grad)  # the gradient is read, never written


@settings(deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**31 - 1), momentum=st.sampled_from(
       [0.0, 0.9]), first_step=st.booleans(), nesterov=st.booleans(), maximize=st.booleans(),
       dampening=st.sampled_from([0.0, 0.3]), weight_decay=st.sampled_from([0.0, 0.1]))
def test_sgd_step_numba_matches_reference(shape, dtype, seed, momentum, first_step, nesterov,
                                          maximize, dampening, weight_decay):
    param, grad, buf = _arrays(seed, shape, dtype, 3)
    buf = buf if momentum else None
    arrays = [param, grad, buf]
    scalars = (first_step, 0.05, momentum, dampening, weight_decay, nesterov and momentum > 0,
               maximize)
    r, j = _run_both("sgd_step", arrays, *scalars)
    _assert_same("sgd_step", arrays, scalars, sgd_step_bound, (r, j))
    np.testing.assert_array_equal(r[1], grad)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_step_first_step_by_hand(backend, dtype):
    # Step 1 from zero moments: m = (1-β1) g, v = (1-β2) g²; the bias corrections cancel
    # them, so with ε = 0 the update is exactly p ← p - lr · sign(g).
    p = np.array([1.0, -2.0, 3.0], dtype)
    g = np.array([0.5, -4.0, 2.0], dtype)
    m, v = np.zeros(3, dtype), np.zeros(3, dtype)
    kernels.get("adam_step", backend)(p, g, m, v, None, 1, 0.1, 0.9, 0.999, 0.0, 0.0, False,
                                      False, False)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-6)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-6)
    np.testing.assert_allclose(p, [0.9, -1.9, 2.9], rtol=1e-6)
    assert p.dtype == dtype and m.dtype == dtype and v.dtype == dtype


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sgd_step_momentum_by_hand(backend):
    sgd = kernels.get("sgd_step", backend)
    p, g, buf = np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.full(2, 99.0)
    sgd(p, g, buf, True, 0.1, 0.9, 0.5, 0.0, False, False)  # first step: buf = g, no dampening
    np.testing.assert_allclose(buf, [1.0, -1.0])
    np.testing.assert_allclose(p, [0.9, 2.1])
    sgd(p, g, buf, False, 0.1, 0.9, 0.5, 0.0, True, False)  # buf = 0.9 buf + 0.5 g; nesterov
    np.testing.assert_allclose(buf, [1.4, -1.4])
    np.testing.assert_allclose(p, [0.9 - 0.1 * (1 + 0.9 * 1.4), 2.1 + 0.1 * (1 + 0.9 * 1.4)])


def test_float32_stays_float32_with_float64_hyperparameters():
    # np.float64 scalars must not promote the float32 update (NEP 50 would otherwise).
    for backend in ("numpy", "numba"):
        p, g, m, v = (np.full(4, x, np.float32) for x in (1.0, 0.3, 0.0, 0.0))
        kernels.get("adam_step", backend)(p, g, m, v, None, 1, np.float64(0.01),
                                          np.float64(0.9), 0.999, 1e-8, 0.0, False, False, False)
        assert p.dtype == np.float32 and m.dtype == np.float32


def test_registry_has_real_numba_twins_and_warmup_runs():
    assert {"adam_step", "sgd_step"} <= set(kernels.jit_names())
    assert kernels.get("adam_step", "numba") is jit_optim.adam_step
    assert kernels.get("adam_step", "numpy") is ref.adam_step
    jit_optim.warmup()


@settings(deadline=None, max_examples=25)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6), seed=st.integers(0, 2**31 - 1),
       amsgrad=st.booleans(), decoupled=st.booleans())
def test_adam_steps_is_adam_step_on_each_parameter_bit_for_bit(sizes, seed, amsgrad, decoupled):
    # The multi-tensor kernel takes each parameter's own step number and dtype; in both
    # backends it must give exactly what one adam_step per parameter gives.
    rng = np.random.default_rng(seed)
    dts = [(np.float32, np.float64)[k % 2] for k in range(len(sizes))]
    state = [[rng.standard_normal(n).astype(dt) for _ in range(4)] + [rng.random(n).astype(dt)]
             for n, dt in zip(sizes, dts)]
    for s in state:
        s[3] = s[3] * s[3]  # second moments are non-negative
    steps = [int(t) for t in rng.integers(1, 30, len(sizes))]
    hyper = (1e-2, 0.9, 0.999, 1e-8, 0.1, decoupled, amsgrad, False)
    for backend in ("numpy", "numba"):
        one = [[a.copy() for a in s] for s in state]
        for s, t in zip(one, steps):
            kernels.get("adam_step", backend)(*s[:4], s[4] if amsgrad else None, t, *hyper)
        many = [[a.copy() for a in s] for s in state]
        kernels.get("adam_steps", backend)(
            *([s[i] for s in many] for i in range(4)),
            [s[4] for s in many] if amsgrad else None, steps, *hyper)
        for a, b in zip(one, many):
            for x, y in zip(a, b):
                assert y.dtype == x.dtype
                np.testing.assert_array_equal(y, x)
        assert not np.array_equal(many[0][0], state[0][0])  # the parameters really moved


def test_adam_steps_registry():
    assert "adam_steps" in kernels.jit_names()
    assert kernels.get("adam_steps", "numba") is jit_optim.adam_steps
    assert kernels.get("adam_steps", "numpy") is ref.adam_steps
