"""Losses (cross-entropy fused with log-softmax, MSE, BCE with logits) and one_hot."""

from __future__ import annotations

import numpy as np
from scipy import special

from .. import kernels
from .._validation import (
    IndexOutOfRange,
    as_tensor_arg,
    check_alloc,
    check_float,
    check_int,
    check_probability,
)
from ..autograd import Function
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(fn: str, reduction: object) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood over rows of (N, C) logits.

    Returns per-row losses (N,); the reduction is applied by the caller, so its gradient
    arrives here as ``grad_rows``.
    """

    @staticmethod
    def forward(ctx, logits, target, label_smoothing, ignore_index):
        loss, logp = kernels.get("cross_entropy_forward")(logits, target, label_smoothing,
                                                          ignore_index)
        ctx.save_for_backward(logp, target)
        ctx.eps, ctx.ignore = label_smoothing, ignore_index
        return loss

    @staticmethod
    def backward(ctx, grad_rows):
        logp, target = ctx.saved_tensors
        grad = kernels.get("cross_entropy_backward")(logp, target, ctx.eps, ctx.ignore,
                                                     np.ascontiguousarray(grad_rows))
        return grad, None, None, None


def cross_entropy(input, target, reduction: str = "mean", label_smoothing: float = 0.0,  # noqa: A002
                  ignore_index: int = -100):
    """Cross-entropy between logits and integer class targets, as ``torch.nn.functional``.

    ``input`` is (N, C), (C,) or (N, C, d1, ...); ``target`` holds class indices of shape
    (N,), () or (N, d1, ...). Loss per element: -(1-ε) log p_t - ε/C Σ_c log p_c. With
    ``reduction="mean"`` the sum is divided by the number of targets not equal to
    ``ignore_index``.
    """
    fn = "cross_entropy"
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    reduction = _reduction(fn, reduction)
    eps = check_probability(fn, "label_smoothing", label_smoothing)
    ignore_index = check_int(fn, "ignore_index", ignore_index)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype} "
                        "(class-probability targets are not supported)")
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must be at least 1-D (C,), got a 0-d tensor")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    expected = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if t.shape != expected:
        raise ValueError(f"{fn}: target must have shape {expected} for input of shape "
                         f"{x.shape}, got {t.shape}")
    valid = t != ignore_index
    if np.any(valid & ((t < 0) | (t >= c))):
        bad = t[valid & ((t < 0) | (t >= c))].reshape(-1)[0]
        raise IndexOutOfRange(f"{fn}: target holds class {bad}, outside [0, {c}) for {c} classes")
    # (N, C, d1, ...) -> (N*d1*..., C) rows
    logits = x.reshape(1, c) if x.ndim == 1 else x
    if logits.ndim > 2:
        logits = logits.reshape(x.shape[0], c, -1).transpose(1, 2).reshape(-1, c)
    rows = logits.contiguous()
    t_rows = np.ascontiguousarray(t.reshape(-1), dtype=np.int64)
    loss = CrossEntropy.apply(rows, t_rows, eps, ignore_index)
    if reduction == "none":
        return loss.reshape(*expected)
    if reduction == "sum":
        return loss.sum()
    # mean over the targets that count (all of them unless some equal ignore_index);
    # with every target ignored that is 0/0 = nan, as in PyTorch
    counted = int(valid.sum())
    return loss.sum() / counted if counted else loss.sum() * float("nan")


def mse_loss(input, target, reduction: str = "mean"):  # noqa: A002
    """Mean squared error (x - y)²; shapes must match (as PyTorch, which only warns)."""
    x = as_tensor_arg("mse_loss", "input", input)
    y = as_tensor_arg("mse_loss", "target", target)
    check_float("mse_loss", "input", x)
    check_float("mse_loss", "target", y)
    reduction = _reduction("mse_loss", reduction)
    if x.shape != y.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {y.shape} differ")
    diff = x - y
    return _reduce(diff * diff, reduction)


class BCEWithLogits(Function):
    """ℓ = max(x, 0) − x t + log(1 + e^−|x|)  (stable);  dℓ/dx = σ(x) − t,  dℓ/dt = −x."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        return (np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad
        return (g * (special.expit(x) - t) if need_x else None), (-g * x if need_t else None)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean"):  # noqa: A002
    """Binary cross-entropy on logits, computed stably for any logit size."""
    fn = "binary_cross_entropy_with_logits"
    x = as_tensor_arg(fn, "input", input)
    y = as_tensor_arg(fn, "target", target)
    check_float(fn, "input", x)
    check_float(fn, "target", y)
    reduction = _reduction(fn, reduction)
    if x.shape != y.shape:
        raise ValueError(f"{fn}: target shape {y.shape} must equal input shape {x.shape}")
    return _reduce(BCEWithLogits.apply(x, y), reduction)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (-1: max + 1)."""
    t = as_tensor_arg("one_hot", "tensor", tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: tensor must hold integers, got dtype {t.dtype}")
    num_classes = check_int("one_hot", "num_classes", num_classes, minimum=-1)
    if num_classes == -1:
        if t.data.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(t.data.max()) + 1
    check_alloc("one_hot", "the output", (*t.shape, num_classes), np.int64)
    if t.data.size and (t.data.min() < 0 or t.data.max() >= num_classes):
        raise IndexOutOfRange(f"one_hot: values must be in [0, {num_classes}), got min "
                         f"{t.data.min()} and max {t.data.max()}")
    return Tensor._wrap((t.data[..., None] == np.arange(num_classes)).astype(np.int64))
