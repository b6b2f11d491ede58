"""Assertions for op tests: gradients vs finite differences, tinymm vs PyTorch, NumPy vs Numba.

Each raises ``AssertionError`` with a report a person can act on: which input (by name),
its dtype, shape and memory layout, how many elements disagree and the worst one.

Every run of the op gets its own copies of the inputs, made from pristine copies taken on
entry (same values, same memory layout), so an op that writes into an input can neither
corrupt the other runs' inputs nor the caller's arrays; and each assertion fails, naming the
input, when the op changed an input it was given (:func:`_check_unchanged`).

    from tinymm.testing import assert_gradients_close, assert_matches_torch

    assert_gradients_close(lambda x, w: F.linear(x, w), x, w, names=("x", "w"))
    assert_matches_torch(lambda x: x.tanh(), lambda x: x.tanh(), np.random.randn(3, 4))
"""

from __future__ import annotations

import sys
import unittest
from collections.abc import Callable, Sequence

import numpy as np

from .. import kernels
from ..autograd import no_grad
from ..random import manual_seed
from ..tensor import Tensor
from ._inputs import _check_unchanged, _describe_inputs, _fail, _fresh, _fresh_value, _names

__all__ = [
    "assert_gradients_close", "assert_matches_torch", "assert_backends_agree",
    "MissingDependency", "NoNumbaTwin",
]


class MissingDependency(unittest.SkipTest):
    """Raised (outside pytest) when an assertion needs torch or numba and it is missing.

    A subclass of ``unittest.SkipTest``, so unittest and pytest both report a skip.
    Inside a pytest run the assertions call ``pytest.skip`` directly.
    """


class NoNumbaTwin(AssertionError):
    """Raised by :func:`assert_backends_agree` when the op ran no kernel with a Numba twin.

    Both backends then executed the same NumPy code, and their agreement proves nothing;
    test such an op with :func:`assert_matches_torch` or :func:`assert_gradients_close`.
    """


def _skip(reason: str):
    pytest = sys.modules.get("pytest")
    if pytest is not None:
        pytest.skip(reason)
    raise MissingDependency(reason)


def _worst(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
           labels: tuple[str, str]) -> str | None:
    """None if ``actual`` ≈ ``expected`` (same shape), else a report of the worst element."""
    a, e = np.asarray(actual), np.asarray(expected)
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        bad = a != e
        excess = bad.astype(np.float64)
    else:
        a, e = a.astype(np.float64), e.astype(np.float64)
        bad = ~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        with np.errstate(invalid="ignore"):
            excess = np.abs(a - e) - (atol + rtol * np.abs(e))
        excess = np.where(np.isnan(excess), np.inf, excess)
    if not np.any(bad):
        return None
    flat = int(np.argmax(np.where(bad, excess, -np.inf)))
    idx = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim else ()
    la, le = labels
    return (f"{int(bad.sum())} of {bad.size} elements differ; worst at {idx}: "
            f"{la} {a[idx]:.10g}, {le} {e[idx]:.10g} "
            f"(|diff| {abs(float(a[idx]) - float(e[idx])):.3g}, allowed {atol:g} + "
            f"{rtol:g}·|{le}|)")


def _tolerance(dtype: np.dtype, rtol: float | None, atol: float | None,
               table: dict[str, tuple[float, float]]) -> tuple[float, float]:
    default = table.get(np.dtype(dtype).name, table["float64"])
    return (default[0] if rtol is None else rtol), (default[1] if atol is None else atol)


# ----------------------------------------------------------------------------- gradients
def _float_outputs(out: object) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _as_float64_leaf(t: Tensor) -> Tensor:
    """A float64 leaf with a copy of ``t``'s values; float64 inputs keep their memory layout."""
    data = _fresh(t.data) if t.dtype == np.float64 else t.data.astype(np.float64, order="K")
    return Tensor._wrap(data, requires_grad=True)


def assert_gradients_close(fn: Callable, *tensors: object, names: Sequence[str] | None = None,
                           eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                           max_elements: int = 500, num_directions: int = 3,
                           seed: int = 0) -> None:
    """Assert ``fn``'s analytic gradients equal central finite differences in float64.

    ``fn(*tensors)`` returns a Tensor or a tuple of them. Every floating Tensor argument
    with ``requires_grad=True`` is checked (copied to float64; float64 inputs keep their
    memory layout, so non-contiguous views reach the op); other arguments pass through.
    With a fixed random cotangent r the check is on f(x) = Σ r·fn(x): inputs of at most
    ``max_elements`` elements element by element, larger ones along ``num_directions``
    random directions v (⟨∇f, v⟩ vs (f(x+εv) − f(x−εv)) / 2ε). ``fn`` must be
    deterministic (seed any dropout inside it). Parameters used inside ``fn`` (a Module)
    receive ``.grad`` from the analytic pass; call ``zero_grad()`` afterwards if it matters.

    >>> import tinymm.testing as tmt
    >>> x = tm.tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    >>> tmt.assert_gradients_close(lambda t: (t * t.sigmoid()).sum(dim=1), x)   # silent: it holds
    """
    me = "assert_gradients_close"
    names = _names(me, names, len(tensors))
    args = [_as_float64_leaf(x) if isinstance(x, Tensor) and x.requires_grad
            and x.dtype.kind == "f" else _fresh_value(x) for x in tensors]
    pristine = [_fresh_value(x) for x in args]
    checked = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{me}: no argument is a floating Tensor with requires_grad=True")
    rng = np.random.default_rng(seed)
    outs = _float_outputs(fn(*args))
    if not any(o.requires_grad for o in outs):
        _fail(me, "fn returned no floating output that depends on the checked inputs",
              names, tensors)
    cotangents = [rng.standard_normal(o.shape) for o in outs]

    total = None
    for o, r in zip(outs, cotangents):
        if o.requires_grad:
            term = (o * Tensor._wrap(r.astype(o.dtype))).sum()
            total = term if total is None else total + term
    try:
        total.backward()
    except Exception as exc:  # report which input the engine could not give a gradient to
        msg = str(exc)
        suspects = [f"'{names[i]}'" for i in checked if f"to {tuple(args[i].shape)}" in msg]
        who = f" (suspect input {', '.join(suspects)})" if suspects else ""
        raise AssertionError(f"{me}: backward of fn failed{who}: {type(exc).__name__}: {msg}\n"
                             f"{_describe_inputs(names, tensors)}") from exc
    _check_unchanged(me, "fn", names, pristine, args, tensors)

    def scalar(values: list) -> float:
        with no_grad():
            ys = _float_outputs(fn(*values))
        return float(sum(np.sum(y.data.astype(np.float64) * r) for y, r in zip(ys, cotangents)))

    for i in checked:
        x = args[i]
        analytic = (np.zeros(x.shape) if x.grad is None
                    else np.asarray(x.grad, dtype=np.float64))
        base = np.array(x.data, dtype=np.float64)

        def f_at(data: np.ndarray, i=i) -> float:
            values = list(args)
            values[i] = Tensor._wrap(data)
            return scalar(values)

        where = f"gradient of input '{names[i]}' (argument {i}, shape {tuple(x.shape)})"
        if not np.all(np.isfinite(analytic)):
            bad = tuple(int(k) for k in np.argwhere(~np.isfinite(analytic))[0])
            _fail(me, f"{where} is not finite at {bad}: {analytic[bad]}", names, tensors)
        if base.size <= max_elements:
            numeric = np.empty(base.shape)
            flat_base, flat_num = base.reshape(-1), numeric.reshape(-1)
            for j in range(base.size):
                plus, minus = flat_base.copy(), flat_base.copy()
                plus[j] += eps
                minus[j] -= eps
                flat_num[j] = (f_at(plus.reshape(base.shape)) -
                               f_at(minus.reshape(base.shape))) / (2 * eps)
            report = _worst(analytic, numeric, rtol, atol, ("analytic", "numeric"))
            if report:
                _fail(me, f"{where} disagrees with finite differences: {report}", names, tensors)
        else:
            for k in range(num_directions):
                v = rng.standard_normal(base.shape)
                numeric = (f_at(base + eps * v) - f_at(base - eps * v)) / (2 * eps)
                projected = float(np.sum(analytic * v))
                allowed = atol * np.sqrt(base.size) + rtol * abs(numeric)
                if not abs(projected - numeric) <= allowed:
                    _fail(me, f"{where} fails random projection {k}: analytic ⟨grad, v⟩ = "
                          f"{projected:.10g}, numeric {numeric:.10g} "
                          f"(|diff| {abs(projected - numeric):.3g}, allowed {allowed:.3g})",
                          names, tensors)


# ----------------------------------------------------------------------------- shared runner
def _requires(fn: str, requires_grad: Sequence[bool] | None, arrays: list[np.ndarray]):
    if requires_grad is None:
        return [a.dtype.kind == "f" for a in arrays]
    flags = [bool(v) for v in requires_grad]
    if len(flags) != len(arrays):
        raise ValueError(f"{fn}: requires_grad has {len(flags)} entries for {len(arrays)} inputs")
    for i, (a, f) in enumerate(zip(arrays, flags)):
        if f and a.dtype.kind != "f":
            raise ValueError(f"{fn}: requires_grad[{i}] is True but input {i} has dtype {a.dtype}")
    return flags


def _as_arrays(values: Sequence[object]) -> list[np.ndarray]:
    return [v.data if isinstance(v, Tensor) else np.asarray(v) for v in values]


def _compare_runs(me: str, mine: tuple, theirs: tuple, labels: tuple[str, str],
                  names: list[str], shown: Sequence[object], rtol, atol, table,
                  check_dtype: bool = True) -> None:
    """Compare (outputs, grads) of two runs: count, shape, dtype, values, then gradients."""
    (outs_a, grads_a), (outs_b, grads_b) = mine, theirs
    la, lb = labels
    if len(outs_a) != len(outs_b):
        _fail(me, f"{la} returned {len(outs_a)} outputs, {lb} returned {len(outs_b)}",
              names, shown)
    for k, (a, b) in enumerate(zip(outs_a, outs_b)):
        if a.shape != b.shape:
            _fail(me, f"output {k} has shape {a.shape} in {la} but {b.shape} in {lb}",
                  names, shown)
        if check_dtype and a.dtype != b.dtype:
            _fail(me, f"output {k} has dtype {a.dtype} in {la} but {b.dtype} in {lb}",
                  names, shown)
        r, t = _tolerance(b.dtype, rtol, atol, table)
        report = _worst(a, b, r, t, labels)
        if report:
            _fail(me, f"output {k} differs: {report}", names, shown)
    for i, (ga, gb) in enumerate(zip(grads_a, grads_b)):
        if ga is None and gb is None:
            continue
        if ga is None or gb is None:
            missing = la if ga is None else lb
            _fail(me, f"gradient of input '{names[i]}': {missing} gives none "
                  "(is an output not recorded in the graph?)", names, shown)
        if ga.shape != gb.shape:
            _fail(me, f"gradient of input '{names[i]}' has shape {ga.shape} in {la} but "
                  f"{gb.shape} in {lb}", names, shown)
        r, t = _tolerance(gb.dtype, rtol, atol, table)
        report = _worst(ga, gb, r, t, labels)
        if report:
            _fail(me, f"gradient of input '{names[i]}' differs: {report}", names, shown)


def _cotangents(shapes_dtypes: list[tuple], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(d) for s, d in shapes_dtypes]


def _run_tinymm(fn: Callable, arrays: list[np.ndarray], flags: list[bool], seed: int,
                me: str, names: list[str], who: str = "tinymm_fn"):
    """Call ``fn`` on leaves over fresh copies of ``arrays`` (their layouts kept); backprop a
    seeded random cotangent of every float output; fail if ``fn`` wrote into an input."""
    inputs = [Tensor(_fresh(a), requires_grad=f) for a, f in zip(arrays, flags)]
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    outs = [o for o in outs if isinstance(o, Tensor)]
    diff = [o for o in outs if o.requires_grad]
    grads: list[np.ndarray | None] = [None] * len(inputs)
    if diff and any(flags):
        rs = _cotangents([(o.shape, o.dtype) for o in diff], seed)
        total = None
        for o, r in zip(diff, rs):
            term = (o * Tensor._wrap(r)).sum()
            total = term if total is None else total + term
        total.backward()
        grads = [None if x.grad is None else np.array(x.grad) for x in inputs]
    _check_unchanged(me, who, names, arrays, inputs, arrays)
    grads = [np.zeros(a.shape, a.dtype) if g is None and f else g
             for g, a, f in zip(grads, arrays, flags)]
    return [np.array(o.data) for o in outs], grads, [o.requires_grad for o in outs]


# ----------------------------------------------------------------------------- PyTorch
_TORCH_TOL = {"float64": (1e-7, 1e-9), "float32": (1e-4, 1e-5), "float16": (1e-2, 1e-3)}


def assert_matches_torch(tinymm_fn: Callable, torch_fn: Callable, *arrays: object,
                         names: Sequence[str] | None = None,
                         requires_grad: Sequence[bool] | None = None,
                         rtol: float | None = None, atol: float | None = None,
                         check_dtype: bool = True, seed: int = 0) -> None:
    """Assert tinymm and PyTorch agree on forward values, dtype, shape and every input gradient.

    Each array becomes a tinymm Tensor (its memory layout kept) and a torch tensor; floating
    ones require grad unless ``requires_grad`` (one bool per array) says otherwise. Both
    sides backprop the same random cotangent. Default tolerances by dtype: float64
    rtol 1e-7 / atol 1e-9, float32 1e-4 / 1e-5. Without torch installed this skips with
    reason "torch is not installed" (``pytest.skip`` in a pytest run, else
    :class:`MissingDependency`).
    """
    me = "assert_matches_torch"
    try:
        import torch
    except ImportError:
        _skip("torch is not installed")
    arrs = [_fresh(a) for a in _as_arrays(arrays)]  # pristine: no run ever sees these
    names = _names(me, names, len(arrs))
    flags = _requires(me, requires_grad, arrs)

    outs_tm, grads_tm, recorded = _run_tinymm(tinymm_fn, arrs, flags, seed, me, names)

    t_inputs = [torch.tensor(np.array(a, order="C", copy=True), requires_grad=f)
                for a, f in zip(arrs, flags)]
    out = torch_fn(*t_inputs)
    outs_t = list(out) if isinstance(out, (tuple, list)) else [out]
    outs_t = [o for o in outs_t if isinstance(o, torch.Tensor)]
    outs_np = [o.detach().numpy().copy() for o in outs_t]
    if len(outs_np) == len(outs_tm):
        for k, (o, rec) in enumerate(zip(outs_t, recorded)):
            if o.requires_grad and not rec and any(flags):
                _fail(me, f"output {k} is differentiable in torch but tinymm recorded no "
                      "graph for it", names, arrs)
    grads_t = [None] * len(arrs)
    diff = [o for o in outs_t if o.requires_grad]
    if diff and any(flags):
        rs = _cotangents([(tuple(o.shape), o.detach().numpy().dtype) for o in diff], seed)
        torch.autograd.backward(diff, [torch.from_numpy(r) for r in rs])
    for i, (x, f) in enumerate(zip(t_inputs, flags)):
        if f:
            grads_t[i] = (np.zeros(arrs[i].shape, arrs[i].dtype) if x.grad is None
                          else x.grad.numpy().copy())
    _compare_runs(me, (outs_tm, grads_tm), (outs_np, grads_t), ("tinymm", "torch"), names,
                  arrs, rtol, atol, _TORCH_TOL, check_dtype)


# ----------------------------------------------------------------------------- backends
_BACKEND_TOL = {"float64": (1e-10, 1e-12), "float32": (1e-4, 1e-6)}


def assert_backends_agree(fn: Callable, *arrays: object, names: Sequence[str] | None = None,
                          requires_grad: Sequence[bool] | None = None,
                          rtol: float | None = None, atol: float | None = None,
                          seed: int | None = 0) -> None:
    """Assert ``fn`` gives the same outputs and input gradients on both kernel backends.

    Runs ``fn`` on fresh Tensors under ``tm.backend("numpy")`` (reference kernels) and
    ``tm.backend("numba")`` (JIT kernels), reseeding tinymm with ``seed`` before each run
    (so dropout masks match; ``seed=None`` leaves the generator alone). Default
    tolerances: float64 rtol 1e-10 / atol 1e-12, float32 1e-4 / 1e-6. Skips when Numba
    is unavailable (reason "numba is not available").

    The kernels each run fetches are traced (``kernels.trace``). If the values agree but
    the numba run ran no kernel that has a Numba twin (``kernels.jit_names()``), the same
    NumPy code ran twice and the agreement means nothing: :class:`NoNumbaTwin` (an
    ``AssertionError``) is raised, naming the kernels that did run.

    >>> import tinymm.testing as tmt
    >>> tmt.assert_backends_agree(lambda t: F.max_pool2d(t, 2), np.arange(32.0).reshape(2, 1, 4, 4))
    """
    me = "assert_backends_agree"
    if not kernels.numba_available():
        _skip("numba is not available")
    arrs = [_fresh(a) for a in _as_arrays(arrays)]  # pristine: no run ever sees these
    names = _names(me, names, len(arrs))
    flags = _requires(me, requires_grad, arrs)
    runs = []
    for backend in ("numpy", "numba"):
        with kernels.backend(backend), kernels.trace() as ran:
            if seed is not None:
                manual_seed(seed)
            outs, grads, _ = _run_tinymm(fn, arrs, flags, seed or 0, me, names,
                                         who=f"fn (on the {backend} backend)")
        runs.append((outs, grads))
    _compare_runs(me, runs[1], runs[0], ("numba", "numpy"), names, arrs, rtol, atol,
                  _BACKEND_TOL)
    twins = set(kernels.jit_names())
    if not any(backend == "numba" and name in twins for name, backend, _ in ran):
        used = sorted({f"{name} ({backend})" for name, backend, _ in ran})
        raise NoNumbaTwin(
            f"{me}: fn ran no kernel with a Numba twin (kernels it ran on the numba backend: "
            f"{', '.join(used) if used else 'none'}), so both runs executed the same NumPy "
            "code and agree trivially; test this op with assert_matches_torch or "
            f"assert_gradients_close instead\n{_describe_inputs(names, arrs)}")
