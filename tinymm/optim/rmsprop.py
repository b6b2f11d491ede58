"""``RMSprop``: divide each gradient by a running root mean square of its recent values."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .optimizer import Optimizer, check_flag, check_real


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's update rule (``torch.optim.RMSprop``).

    For each parameter p with gradient g (λ weight decay, α smoothing, μ momentum)::

        g ← -g if maximize;   g ← g + λ p
        v ← α v + (1 - α) g²
        ḡ ← ḡ + (1 - α)(g - ḡ),  d ← √(v - ḡ²) + ε       (centered)
        d ← √v + ε                                          (otherwise)
        b ← μ b + g / d,  p ← p - lr b                      (μ > 0)
        p ← p - lr g / d                                    (otherwise)

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (μ > 0) and
    ``grad_avg`` (centered). Element-wise NumPy in the parameter's dtype.

    >>> import tinymm as tm
    >>> w = tm.nn.Parameter(tm.ones(2))
    >>> opt = tm.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data.round(4)
    array([0.9, 0.9], dtype=float32)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict, where: str) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            group[name] = check_real(where, name, group[name])
        for name in ("centered", "maximize"):
            group[name] = check_flag(where, name, group[name])

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            alpha, momentum = group["alpha"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                data, grad = self._kernel_arrays(p, "RMSprop.step")
                dtype = data.dtype.type
                g = -grad if group["maximize"] else grad.copy()
                if group["weight_decay"] != 0:
                    g += dtype(group["weight_decay"]) * data
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                square_avg = self._buffer(state, "square_avg", p)
                square_avg *= dtype(alpha)
                square_avg += dtype(1 - alpha) * g * g
                if group["centered"]:
                    grad_avg = self._buffer(state, "grad_avg", p)
                    grad_avg += dtype(1 - alpha) * (g - grad_avg)
                    denom = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    denom = np.sqrt(square_avg)
                denom += dtype(group["eps"])
                if momentum > 0:
                    buf = self._buffer(state, "momentum_buffer", p)
                    buf *= dtype(momentum)
                    buf += g / denom
                    data -= dtype(group["lr"]) * buf
                else:
                    data -= dtype(group["lr"]) * (g / denom)
                self._write_back(p, data)
        return loss
