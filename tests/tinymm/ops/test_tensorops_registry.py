"""The registry entries of the tensor ops (tests/registry/tensorops.py) at every size they
list, in float32 and float64, on both backends: forward and input gradients equal PyTorch's,
and each invalid variant raises an error that names the op."""

import numpy as np
import pytest
from registry import tensorops
from registry.harness import as_numpy, call_tinymm, call_torch, flatten, tinymm_args, torch_args

import tinymm as tm

torch = pytest.importorskip("torch")

BACKENDS = ("numpy", "numba") if tm.kernels.numba_available() else ("numpy",)
# float32: results of up to ~10^3-term sums (bench sizes) in another order than PyTorch's
TOL = {np.dtype("float32"): dict(rtol=2e-5, atol=2e-5), np.dtype("float64"): dict(rtol=1e-10, atol=1e-12)}


def _run(spec, sample, backend):
    """Outputs and input gradients of one call, in tinymm (``backend``) and in PyTorch."""
    with tm.backend(backend):
        a = tinymm_args(spec, sample)
        outs = flatten(call_tinymm(spec, sample, a))
        cot = [np.random.default_rng(k).standard_normal(o.shape).astype(o.dtype)
               for k, o in enumerate(outs) if o.requires_grad]
        diff = [o for o in outs if o.requires_grad]
        if diff:
            total = sum(((o * tm.Tensor(c)).sum() for o, c in zip(diff, cot)), tm.zeros(()))
            total.backward()
    b = torch_args(spec, sample)
    outs_t = flatten(call_torch(spec, sample, b))
    diff_t = [o for o in outs_t if o.requires_grad]
    if diff_t:
        torch.autograd.backward(diff_t, [torch.from_numpy(c) for c in cot])
    grads = {k: (a[k].grad, b[k].grad) for k in sample.grad if k in a and a[k].requires_grad}
    return outs, outs_t, grads


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", tensorops.SPECS, ids=lambda s: s.name)
def test_entry_matches_torch_at_every_size(spec, backend):
    for size in spec.sizes:
        for dtype in ("float32", "float64"):
            sample = spec.build(np.random.default_rng(0), size, dtype)
            outs, outs_t, grads = _run(spec, sample, backend)
            where = f"{spec.name} at {size} in {dtype}"
            assert len(outs) == len(outs_t), where
            for o, t in zip(outs, outs_t):
                ref = as_numpy(t)
                assert o.shape == ref.shape and o.dtype == ref.dtype, where
                np.testing.assert_allclose(o.data, ref, **TOL[np.dtype(dtype)], err_msg=where)
            assert bool(grads) == spec.differentiable, where
            for name, (g, g_t) in grads.items():
                assert g is not None and g_t is not None, f"{where}: {name}"
                np.testing.assert_allclose(g, g_t.numpy(), **TOL[np.dtype(dtype)],
                                           err_msg=f"{where}: gradient of {name}")


@pytest.mark.parametrize("spec", [s for s in tensorops.SPECS if s.invalid], ids=lambda s: s.name)
def test_invalid_variants_raise_errors_naming_the_op(spec):
    rng = np.random.default_rng(1)
    for invalid in spec.invalid:
        bad = invalid.make(spec.build(rng, "small"), rng)
        a = tinymm_args(spec, bad)
        try:
            out = call_tinymm(spec, bad, a)
        except invalid.errors as exc:
            assert spec.error_name in str(exc), f"{spec.name} / {invalid.kind}: {exc}"
            continue
        assert invalid.torch_may_accept, f"{spec.name} / {invalid.kind}: no error"
        ref = flatten(call_torch(spec, bad, torch_args(spec, bad)))
        assert [o.shape for o in flatten(out)] == [tuple(t.shape) for t in ref]
