"""``Adagrad``: per-coordinate step sizes shrinking with the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .optimizer import Optimizer, check_flag, check_real


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's update rule (``torch.optim.Adagrad``).

    At step t, for each parameter p with gradient g (λ weight decay, η lr)::

        g ← -g if maximize;   g ← g + λ p
        η_t = η / (1 + (t - 1) · lr_decay)
        s ← s + g²                      (s starts at initial_accumulator_value)
        p ← p - η_t g / (√s + ε)

    State per parameter (created with the optimizer, as PyTorch does): ``step`` and ``sum``.
    Element-wise NumPy in the parameter's dtype.

    >>> import tinymm as tm
    >>> w = tm.nn.Parameter(tm.ones(2))
    >>> opt = tm.optim.Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data.round(4)
    array([0.9, 0.9], dtype=float32)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": np.full(p.shape, group[
                    "initial_accumulator_value"], dtype=p.dtype)}

    def _check_group(self, group: dict, where: str) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = check_real(where, name, group[name])
        group["maximize"] = check_flag(where, "maximize", group["maximize"])

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                data, grad = self._kernel_arrays(p, "Adagrad.step")
                dtype = data.dtype.type
                g = -grad if group["maximize"] else grad.copy()
                if group["weight_decay"] != 0:
                    g += dtype(group["weight_decay"]) * data
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
                total = self._buffer(state, "sum", p)
                total += g * g
                data -= dtype(clr) * (g / (np.sqrt(total) + dtype(group["eps"])))
                self._write_back(p, data)
        return loss
