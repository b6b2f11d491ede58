"""``Adam`` and ``AdamW``: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable

from .. import kernels
from .optimizer import Optimizer, check_flag, check_real


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's update rule (``torch.optim.Adam``).

    At step t, for each parameter p with gradient g (λ weight decay)::

        g ← -g if maximize;   g ← g + λ p            (AdamW instead: p ← p (1 - lr λ))
        m ← β1 m + (1 - β1) g,   v ← β2 v + (1 - β2) g²
        v̂ ← max(v̂, v) and use it for v               (if amsgrad)
        p ← p - lr / (1 - β1^t) · m / (√v / √(1 - β2^t) + ε)

    Each parameter is updated by one fused pass, all of a group's in one kernel call
    (``kernels.get("adam_steps")``, split over the threads once). State per
    parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq``, and ``max_exp_avg_sq`` if amsgrad.

    >>> import tinymm as tm
    >>> w = tm.nn.Parameter(tm.ones(2))
    >>> opt = tm.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data.round(6)
    array([0.9, 0.9], dtype=float32)
    """

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict, where: str) -> None:
        for name in ("lr", "eps", "weight_decay"):
            group[name] = check_real(where, name, group[name])
        betas = group["betas"]
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(isinstance(b, numbers.Real) for b in betas)):
            raise TypeError(f"{where}: betas must be a pair of floats (beta1, beta2), "
                            f"got {betas!r}")
        group["betas"] = (check_real(where, "betas[0]", betas[0], 0.0, below=1.0),
                          check_real(where, "betas[1]", betas[1], 0.0, below=1.0))
        for name in ("amsgrad", "maximize"):
            group[name] = check_flag(where, name, group[name])

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._run_closure(closure)
        adam_steps = kernels.get("adam_steps")
        where = f"{type(self).__name__}.step"
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            todo = []  # every parameter of the group is checked before any is updated
            for p in group["params"]:
                if p.grad is None:
                    continue
                data, grad = self._kernel_arrays(p, where)
                state = self.state[p]
                bufs = [self._buffer(state, key, p) for key in
                        ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())]
                todo.append((p, state, data, grad, bufs))
            if not todo:
                continue
            for _, state, *_ in todo:
                state["step"] = state.get("step", 0) + 1
            adam_steps([t[2] for t in todo], [t[3] for t in todo], [t[4][0] for t in todo],
                       [t[4][1] for t in todo], [t[4][2] for t in todo] if amsgrad else None,
                       [t[1]["step"] for t in todo], group["lr"], beta1, beta2, group["eps"],
                       group["weight_decay"], self._decoupled, amsgrad, group["maximize"])
            for p, _, data, _, _ in todo:
                self._write_back(p, data)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    The decay shrinks the weights directly, p ← p (1 - lr λ), before the Adam update,
    instead of adding λ p to the gradient; hence the non-zero default ``weight_decay``.

    >>> w = nn.Parameter(tm.ones(2))
    >>> opt = tm.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = np.zeros(2, np.float32)     # no gradient: only the decay acts
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.95, 0.95]
    """

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
