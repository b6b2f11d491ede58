"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .. import kernels
from .optimizer import Optimizer, check_flag, check_real


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's update rule (``torch.optim.SGD``).

    For each parameter p with gradient g (λ weight decay, μ momentum, τ dampening)::

        g ← -g if maximize;   g ← g + λ p
        b ← g on the first step, then b ← μ b + (1 - τ) g     (if μ ≠ 0)
        g ← g + μ b if nesterov else b                         (if μ ≠ 0)
        p ← p - lr g

    State per parameter: ``momentum_buffer`` (only when μ ≠ 0).

    >>> import tinymm as tm
    >>> w = tm.nn.Parameter(tm.ones(3))
    >>> opt = tm.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data
    array([0.8, 0.8, 0.8], dtype=float32)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict, where: str) -> None:
        for name in ("lr", "momentum", "dampening", "weight_decay"):
            group[name] = check_real(where, name, group[name])
        for name in ("nesterov", "maximize"):
            group[name] = check_flag(where, name, group[name])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, dampening={group['dampening']}")

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._run_closure(closure)
        sgd_step = kernels.get("sgd_step")
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                data, grad = self._kernel_arrays(p, "SGD.step")
                buf, first = None, False
                if momentum != 0:
                    state = self.state[p]
                    first = state.get("momentum_buffer") is None
                    buf = self._buffer(state, "momentum_buffer", p)
                sgd_step(data, grad, buf, first, group["lr"], momentum, group["dampening"],
                         group["weight_decay"], group["nesterov"], group["maximize"])
                self._write_back(p, data)
        return loss
