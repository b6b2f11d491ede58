"""More of ``torch.optim.lr_scheduler``: MultiplicativeLR, ConstantLR, PolynomialLR,
CosineAnnealingWarmRestarts and ChainedScheduler, with PyTorch's names and rules.

Exported by ``tinymm.optim.lr_scheduler``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

from .._validation import check_int, check_positive_int
from .lr_scheduler import LambdaLR, LRScheduler, check_optimizer, check_state
from .optimizer import Optimizer, check_real


class MultiplicativeLR(LambdaLR):
    """Multiply the learning rate by ``lr_lambda(epoch)`` every epoch (after the first):
    lr(epoch) = lr(epoch − 1) · lr_lambda(epoch). State as ``LambdaLR``'s.

    >>> opt = tm.optim.SGD([nn.Parameter(tm.zeros(1))], lr=1.0)
    >>> sched = tm.optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.5)
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.125]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable],
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current_lrs())]


class ConstantLR(LRScheduler):
    """Scale the learning rate by ``factor`` for the first ``total_iters`` epochs, then
    restore it: lr(epoch) = base_lr · (factor if epoch < total_iters else 1).

    >>> opt = tm.optim.SGD([nn.Parameter(tm.zeros(1))], lr=1.0)
    >>> sched = tm.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        self.factor = check_real("ConstantLR", "factor", factor)
        if self.factor > 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.total_iters = check_int("ConstantLR", "total_iters", total_iters, minimum=0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay to zero over ``total_iters`` epochs:
    lr(epoch) = base_lr · (1 − min(epoch, total_iters) / total_iters)^power.

    >>> opt = tm.optim.SGD([nn.Parameter(tm.zeros(1))], lr=1.0)
    >>> sched = tm.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
    >>> lrs = []
    >>> for _ in range(5):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = check_positive_int("PolynomialLR", "total_iters", total_iters)
        self.power = check_real("PolynomialLR", "power", power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every cycle (SGDR); cycle i lasts T_0 · T_mult^i epochs:
    lr = eta_min + (base_lr − eta_min) · (1 + cos(π · T_cur / T_i)) / 2.

    ``step(epoch)`` takes a fractional epoch (e.g. ``epoch + batch / batches``), as PyTorch.

    >>> opt = tm.optim.SGD([nn.Parameter(tm.zeros(1))], lr=1.0)
    >>> sched = tm.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5, 1.0, 0.5, 1.0]
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1,  # noqa: N803
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        name = "CosineAnnealingWarmRestarts"
        self.T_0 = self.T_i = check_positive_int(name, "T_0", T_0)
        self.T_mult = check_positive_int(name, "T_mult", T_mult)
        self.eta_min = check_real(name, "eta_min", eta_min)
        self.T_cur = check_int(name, "last_epoch", last_epoch, minimum=-1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i))
                / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real) or epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts.step: epoch must be a number "
                                 f">= 0, got {epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class ChainedScheduler(LRScheduler):
    """Step several schedulers together, each applying its rule to the lr the previous one
    left (e.g. a ConstantLR warm-up times an ExponentialLR decay).

    >>> opt = tm.optim.SGD([nn.Parameter(tm.zeros(1))], lr=1.0)
    >>> sched = tm.optim.lr_scheduler.ChainedScheduler([
    ...     tm.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2),
    ...     tm.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)])
    >>> lrs = [round(sched.get_last_lr()[0], 4)]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5, 0.45, 0.81, 0.729]
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        from .lr_scheduler_adaptive import ReduceLROnPlateau

        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError("ChainedScheduler: schedulers must be a non-empty list of schedulers")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"ChainedScheduler: schedulers[{i}] is a ReduceLROnPlateau, "
                                 "whose step needs a metric; it cannot be chained")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"ChainedScheduler: schedulers[{i}] must be a scheduler, got "
                                f"{type(s).__name__}")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        check_optimizer("ChainedScheduler", optimizer)
        for i, s in enumerate(schedulers):
            if s.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler: schedulers[{i}] ({type(s).__name__}) "
                                 "belongs to another optimizer")
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("_schedulers"), list) \
                or len(state_dict["_schedulers"]) != len(self._schedulers):
            raise ValueError(f"ChainedScheduler.load_state_dict: expected a dict from state_dict() "
                             f"with {len(self._schedulers)} scheduler states")
        self.__dict__.update({k: v for k, v in state_dict.items()
                              if k not in ("optimizer", "_schedulers")})
        for s, state in zip(self._schedulers, state_dict["_schedulers"]):
            check_state(type(s).__name__, state)
            s.load_state_dict(state)
