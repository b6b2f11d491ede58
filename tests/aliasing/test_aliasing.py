"""Aliasing property for every registry entry: a result never shares memory that a later call
reuses (issue 10, "An aliasing property").

For each entry, size and backend, every call followed by a backward with a fixed output
gradient: a *cold* call with inputs x1 in a new thread (scratch buffers are per thread, so it
starts with none), then in this thread a warm-up call with other inputs x2 of the same shape,
call 1 with x1, call 2 with x2, call 3 with x1. Then

* call 1 and call 3 give bitwise the cold call's outputs and gradients (same inputs, same
  kernels: a scratch buffer shared by two steps of one call shows up here, as it did for
  one-token cross-attention, whose query heads were overwritten by the key projection);
* the outputs and gradients of call 1 are bitwise unchanged after calls 2 and 3 (nothing a
  caller holds is overwritten by a scratch buffer, a recycled output or an in-place update).

Sizes: every degenerate-but-legal size the entry supports (one token, one head, batch 1, one
channel, 1x1 spatial — where a transposed view happens to be contiguous and so is never
copied out), the small size, and the benchmark size (in the ``ci`` profile only for a few
entries, on the Numba kernels).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from registry import SPECS
from registry.harness import call_tinymm, flatten, make_tinymm, parameters, tinymm_args

import tinymm as tm
from tinymm.testing.profiles import ENV_VAR

PROFILE = os.environ.get(ENV_VAR, "") or "dev"
# benchmark-size entries run in the ci profile (one per kernel family)
CI_BENCH = {"F.conv2d", "F.scaled_dot_product_attention", "F.layer_norm", "F.linear",
            "nn.MultiheadAttention[self]", "nn.MultiheadAttention[cross]", "nn.LSTM",
            "F.cross_entropy", "F.max_pool2d", "F.embedding"}


def _cases():
    for spec in SPECS:
        for size in spec.sizes:
            for backend in ("numba", "numpy"):
                if size == "bench" and PROFILE == "ci" and (spec.name not in CI_BENCH
                                                            or backend != "numba"):
                    continue
                yield pytest.param(spec, size, backend, id=f"{spec.name}-{size}-{backend}")


def _run(spec, sample, module, grad_seed: int):
    """One call and its backward: (output Tensors, gradient arrays by name) — the objects
    the caller holds, not copies."""
    args = tinymm_args(spec, sample)
    if spec.random:
        tm.manual_seed(1234)
    outs = [o for o in flatten(call_tinymm(spec, sample, args, module))]
    grads = {}
    live = [o for o in outs if o.requires_grad and o.dtype.kind == "f"]
    if spec.differentiable and live:
        rng = np.random.default_rng(grad_seed)
        total = None
        for o in live:
            g = tm.Tensor(rng.standard_normal(o.shape).astype(o.dtype))
            term = (o * g).sum()
            total = term if total is None else total + term
        for p in parameters(module):
            p.grad = None  # a fresh gradient array per call (zero_grad(set_to_none=True))
        total.backward()
        grads = {k: t.grad for k, t in args.items() if isinstance(t, tm.Tensor) and t.requires_grad}
        grads.update({f"param.{n}": p.grad for n, p in
                      (module.named_parameters() if module is not None else ())})
    return outs, grads


def _snapshot(outs, grads):
    return [np.array(o.data, copy=True) for o in outs], \
        {k: None if g is None else np.array(g, copy=True) for k, g in grads.items()}


def _assert_same(label, outs, grads, snap_outs, snap_grads):
    assert len(outs) == len(snap_outs), f"{label}: {len(outs)} outputs, expected {len(snap_outs)}"
    for i, (o, s) in enumerate(zip(outs, snap_outs)):
        a = o.data if isinstance(o, tm.Tensor) else o
        np.testing.assert_array_equal(a, s, err_msg=f"{label}: output {i}")
    assert grads.keys() == snap_grads.keys(), f"{label}: gradients of {sorted(grads)}"
    for k, g in grads.items():
        if g is None or snap_grads[k] is None:
            assert g is None and snap_grads[k] is None, f"{label}: gradient {k} missing"
            continue
        np.testing.assert_array_equal(g, snap_grads[k], err_msg=f"{label}: gradient {k}")


def _cold(spec, sample, module, backend):
    """Snapshot of a call made in a new thread (fresh per-thread scratch buffers)."""
    box = {}

    def work():
        try:
            with tm.backend(backend):
                box["snap"] = _snapshot(*_run(spec, sample, module, grad_seed=10))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["snap"]


@pytest.mark.parametrize("spec,size,backend", list(_cases()))
def test_results_survive_the_next_call(spec, size, backend):
    with tm.backend(backend):
        x1 = spec.build(np.random.default_rng(1), size)
        x2 = spec.build(np.random.default_rng(2), size)
        tm.manual_seed(0)
        module = make_tinymm(spec, x1)
        cold = _cold(spec, x1, module, backend)
        _run(spec, x2, module, grad_seed=20)  # warm the scratch buffers with other values
        outs1, grads1 = _run(spec, x1, module, grad_seed=10)
        _assert_same(f"{spec.name} call 1 (warm buffers) vs a cold call", outs1, grads1, *cold)
        snap = _snapshot(outs1, grads1)
        _run(spec, x2, module, grad_seed=20)
        _assert_same(f"{spec.name} call 1 after call 2", outs1, grads1, *snap)
        outs3, grads3 = _run(spec, x1, module, grad_seed=10)
        _assert_same(f"{spec.name} call 1 after call 3", outs1, grads1, *snap)
        _assert_same(f"{spec.name} call 3 vs a cold call", outs3, grads3, *cold)
