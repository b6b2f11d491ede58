"""Gradient clipping as PyTorch does it: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both act in place on the ``.grad`` arrays (NumPy ndarrays in tinymm) of the given parameters,
after ``backward()`` and before ``optimizer.step()``; parameters whose ``.grad`` is None are
skipped.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(fn: str, parameters) -> list[np.ndarray]:
    """The non-None ``.grad`` arrays of a Tensor or an iterable of Tensors."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif not isinstance(parameters, Iterable):
        raise TypeError(f"{fn}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}")
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters[{i}] must be a Tensor, got {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _real(fn: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``.

    ``total = ‖(‖g_1‖_p, ..., ‖g_k‖_p)‖_p`` (the p-norm of all gradients as one vector;
    ``p = inf`` takes the largest ``|g|``), then every ``g *= min(1, max_norm / (total + 1e-6))``.
    Returns ``total`` (a 0-d Tensor in the gradients' dtype), measured before clipping.
    A non-finite total raises RuntimeError when ``error_if_nonfinite`` (as PyTorch), else the
    gradients are scaled by it anyway. ``foreach`` is accepted for PyTorch compatibility.

    >>> import tinymm as tm
    >>> p = tm.nn.Parameter(tm.zeros(2).data); p.grad = tm.tensor([3.0, 4.0]).data
    >>> float(clip_grad_norm_([p], max_norm=1.0))
    5.0
    """
    fn = "clip_grad_norm_"
    grads = _grads(fn, parameters)
    max_norm = _real(fn, "max_norm", max_norm)
    norm_type = _real(fn, "norm_type", norm_type)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    dtype = grads[0].dtype
    if math.isinf(norm_type):
        norms = [np.max(np.abs(g)) if g.size else 0.0 for g in grads]
        total = max(float(n) for n in norms)
    else:
        # per-gradient norms, then the norm of the norms (PyTorch's order of reduction)
        norms = np.array([np.linalg.norm(g.ravel(), ord=norm_type) if g.size else 0.0
                          for g in grads], dtype=np.float64)
        total = float(np.linalg.norm(norms, ord=norm_type)) if norm_type != 0 else float(
            np.sum(norms))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{fn}: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({total}), so it cannot be clipped; set "
                           "error_if_nonfinite=False to scale by it anyway")
    coef = min(max_norm / (total + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # a non-finite total scales to NaN, as in PyTorch
        for g in grads:
            g *= g.dtype.type(coef)
    return Tensor(np.array(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    >>> import tinymm as tm
    >>> p = tm.nn.Parameter(tm.zeros(2).data); p.grad = tm.tensor([3.0, -4.0]).data
    >>> clip_grad_value_(p, 1.0); p.grad.tolist()
    [1.0, -1.0]
    """
    fn = "clip_grad_value_"
    grads = _grads(fn, parameters)
    clip_value = _real(fn, "clip_value", clip_value)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
