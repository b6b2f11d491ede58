"""Loss modules: ``CrossEntropyLoss``, ``MSELoss``, ``BCEWithLogitsLoss``."""

from __future__ import annotations

from .. import functional as F
from .._validation import check_probability
from .module import Module


class CrossEntropyLoss(Module):
    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0,
                 ignore_index: int = -100):
        super().__init__()
        self.reduction = reduction
        self.label_smoothing = check_probability("CrossEntropyLoss", "label_smoothing",
                                                 label_smoothing)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, reduction=self.reduction,
                               label_smoothing=self.label_smoothing,
                               ignore_index=self.ignore_index)


class MSELoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
