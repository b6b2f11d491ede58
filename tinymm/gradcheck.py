"""Check analytic gradients against central finite differences in float64.

For an output ``y = fn(*inputs)`` a fixed random cotangent ``r`` turns the check into one
of a scalar ``f(x) = Σ r·y``: autograd gives ``∇f = Jᵀr`` in one backward. Small inputs are
checked element by element, ``(f(x + ε e_i) − f(x − ε e_i)) / 2ε``; inputs with more than
``max_elements`` elements are checked by random projection (HIPS autograd's trick):
``⟨∇f, v⟩`` against ``(f(x + εv) − f(x − εv)) / 2ε`` for a few random directions ``v``.
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numeric one."""


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              max_elements: int = 2000, num_directions: int = 3, seed: int = 0) -> bool:
    """Return True if ``fn``'s gradients match finite differences, else raise GradcheckError.

    ``inputs`` is a Tensor or a tuple of Tensors/other values. Floating inputs with
    ``requires_grad=True`` are checked; they are copied to float64 first (modules called
    inside ``fn`` should be ``.double()`` for the check to be meaningful).

    >>> import tinymm as tm
    >>> x = tm.randn(3, 4, dtype=tm.float64, requires_grad=True)
    >>> tm.gradcheck(lambda t: (t * t).sum(dim=1), (x,))
    True
    """
    if isinstance(inputs, Tensor) or not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"gradcheck: {name} must be a non-negative number, got {v!r}")
    args = []
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad and x.dtype.kind == "f":
            # float64 inputs keep their layout (strided and reversed views reach the op)
            data = x.data if x.dtype == np.float64 else x.data.astype(np.float64, order="K")
            x = Tensor._wrap(data, requires_grad=True)
        args.append(x)
    checked = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")

    rng = np.random.default_rng(seed)
    outs = _outputs(fn, args)
    if not outs or not any(o.requires_grad for o in outs):
        raise ValueError("gradcheck: fn returned no floating output that depends on the inputs")
    cotangents = [rng.standard_normal(o.shape) for o in outs]

    def scalar(values: list) -> float:
        with no_grad():
            return float(sum(np.sum(o.data * r) for o, r in zip(_outputs(fn, values), cotangents)))

    total = None
    for o, r in zip(outs, cotangents):
        if o.requires_grad:
            term = (o * Tensor._wrap(r.astype(o.dtype))).sum()
            total = term if total is None else total + term
    total.backward()

    for i in checked:
        x = args[i]
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
        base = x.data

        def f_at(data: np.ndarray, i: int = i) -> float:
            values = list(args)
            values[i] = Tensor._wrap(data)
            return scalar(values)

        if base.size <= max_elements:
            numeric = np.zeros(base.shape)
            flat = numeric.reshape(-1)
            for j in range(base.size):
                step = np.zeros(base.size)
                step[j] = eps
                step = step.reshape(base.shape)
                flat[j] = (f_at(base + step) - f_at(base - step)) / (2 * eps)
            err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
            if np.any(err > 0) or not np.all(np.isfinite(analytic)):
                j = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(err), err, np.inf))),
                                     base.shape)
                raise GradcheckError(
                    f"gradcheck: gradient of input {i} (shape {base.shape}) differs at element "
                    f"{tuple(int(k) for k in j)}: analytic {analytic[j]:.8g}, numeric "
                    f"{numeric[j]:.8g} (atol={atol}, rtol={rtol})"
                )
        else:
            for k in range(num_directions):
                v = rng.standard_normal(base.shape)
                numeric = (f_at(base + eps * v) - f_at(base - eps * v)) / (2 * eps)
                projected = float(np.sum(analytic * v))
                if not abs(projected - numeric) <= atol * np.sqrt(base.size) + rtol * abs(numeric):
                    raise GradcheckError(
                        f"gradcheck: gradient of input {i} (shape {base.shape}) fails random "
                        f"projection {k}: analytic <grad, v> = {projected:.8g}, numeric "
                        f"{numeric:.8g} (atol={atol}, rtol={rtol})"
                    )
    return True
