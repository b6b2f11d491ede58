"""Loss modules with PyTorch's constructors: each keeps its options and calls
``tinymm.functional``. A class ``weight`` given to ``CrossEntropyLoss``, ``NLLLoss`` or
``BCELoss`` is a buffer named ``weight`` (in the state dict, as PyTorch)."""

from __future__ import annotations

from .. import functional as F
from .._validation import check_probability
from ..functional.loss import _reduction
from ..tensor import Tensor
from .module import Module


class _Loss(Module):
    _modes: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        # checked by the functional form at call time, as PyTorch; the deprecated flags, when
        # given, decide the mode here
        if size_average is not None or reduce is not None:
            reduction = _reduction(type(self).__name__, reduction, size_average, reduce,
                                   allowed=self._modes)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(f"{type(self).__name__}: weight must be a Tensor or None, got "
                            f"{type(weight).__name__}")
        self.register_buffer("weight", weight)

    def _weight(self):
        return None if self.weight is None else Tensor._wrap(self.weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or probabilities, as
    :func:`tinymm.functional.cross_entropy` (softmax included: pass raw logits).

    Input (N, C) logits and target (N,) class indices -> () (or (N,) with ``reduction="none"``).

    >>> loss = nn.CrossEntropyLoss()(tm.tensor([[2.0, 0.0, 0.0]]), tm.tensor([0]))
    >>> round(loss.item(), 4)
    0.2395
    """
    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = check_probability("CrossEntropyLoss", "label_smoothing",
                                                 label_smoothing)

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, weight=self._weight(),
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood ℓ_i = −w[t_i] input[i, t_i] of log-probabilities, as
    :func:`tinymm.functional.nll_loss`; ``LogSoftmax`` then ``NLLLoss`` is ``CrossEntropyLoss``.

    Input (N, C) log-probabilities and target (N,) -> () (or (N,) with ``reduction="none"``).

    >>> nn.NLLLoss()(tm.tensor([[-0.5, -1.0]]), tm.tensor([1])).item()
    1.0
    """
    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, weight=self._weight(), ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy −(y log x + (1 − y) log(1 − x)) of probabilities, as
    :func:`tinymm.functional.binary_cross_entropy`; ``weight`` is a buffer.

    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> round(nn.BCELoss()(tm.tensor([0.5, 0.9]), tm.tensor([1.0, 1.0])).item(), 4)
    0.3993
    """
    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self._weight(),
                                      reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x − y)², as :func:`tinymm.functional.mse_loss`.

    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> nn.MSELoss()(tm.tensor([1.0, 3.0]), tm.tensor([0.0, 0.0])).item()
    5.0
    """
    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x − y|, as :func:`tinymm.functional.l1_loss`.

    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> nn.L1Loss()(tm.tensor([1.0, -3.0]), tm.tensor([0.0, 0.0])).item()
    2.0
    """
    def forward(self, input, target):  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d²/β where |d| < β, else |d| − β/2, as :func:`tinymm.functional.smooth_l1_loss`.

    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> nn.SmoothL1Loss(reduction="none")(tm.tensor([0.5, 3.0]), tm.tensor([0.0, 0.0])).tolist()
    [0.125, 2.5]
    """
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d² where |d| < δ, else δ (|d| − δ/2), as :func:`tinymm.functional.huber_loss`.

    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> nn.HuberLoss(reduction="none", delta=2.0)(tm.tensor([0.5, 3.0]), tm.tensor([0.0, 0.0])).tolist()
    [0.125, 4.0]
    """
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence Σ t (log t − x) of log-probabilities x from target t, as
    :func:`tinymm.functional.kl_div` (use ``reduction="batchmean"`` for the true KL per sample).

    Input and target (N, *) -> () (or (N, *) with ``reduction="none"``).

    >>> p = tm.tensor([[0.5, 0.5]])
    >>> nn.KLDivLoss(reduction="batchmean")(p.log(), p).item()
    0.0
    """
    _modes = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x1, x2) for target 1, max(0, cos(x1, x2) − margin) for target −1, as
    :func:`tinymm.functional.cosine_embedding_loss`.

    Inputs (N, D), (N, D) and target (N,) -> () (or (N,) with ``reduction="none"``).

    >>> x = tm.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> nn.CosineEmbeddingLoss(reduction="none")(x, x, tm.tensor([1, -1])).tolist()
    [0.0, 1.0]
    """
    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits, computed stably, as
    :func:`tinymm.functional.binary_cross_entropy_with_logits`.

    ``weight`` and ``pos_weight`` are buffers (in the state dict when given), as PyTorch.
    Input and target (*) -> () (or (*) with ``reduction="none"``).

    >>> round(nn.BCEWithLogitsLoss()(tm.tensor([0.0]), tm.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        if pos_weight is not None and not isinstance(pos_weight, Tensor):
            raise TypeError(f"BCEWithLogitsLoss: pos_weight must be a Tensor or None, got "
                            f"{type(pos_weight).__name__}")
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):  # noqa: A002
        pw = None if self.pos_weight is None else Tensor._wrap(self.pos_weight)
        return F.binary_cross_entropy_with_logits(input, target, weight=self._weight(),
                                                  reduction=self.reduction, pos_weight=pw)
