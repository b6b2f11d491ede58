"""Elementwise losses: L1, smooth L1, Huber, binary cross-entropy, KL divergence, and the
cosine embedding loss, with PyTorch's signatures, reductions and gradients.

Input and target must have the same shape (PyTorch broadcasts them with a warning; tinymm
refuses, as ``mse_loss`` does). Targets may require gradients where PyTorch's do.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import as_tensor_arg, check_float
from ..autograd import Function
from ..tensor import Tensor
from .loss import _reduce, _reduction

# scipy.special is imported in the functions that use it: importing it takes ~0.13 s,
# a third of `import tinymm`'s time.


def _pair(fn: str, input, target) -> tuple[Tensor, Tensor]:  # noqa: A002
    x = as_tensor_arg(fn, "input", input)
    y = as_tensor_arg(fn, "target", target)
    check_float(fn, "input", x)
    check_float(fn, "target", y)
    if x.shape != y.shape:
        raise ValueError(f"{fn}: target shape {y.shape} must equal input shape {x.shape}")
    if x.dtype != y.dtype:
        raise TypeError(f"{fn}: input has dtype {x.dtype} but target has {y.dtype}")
    return x, y


def _nonneg(fn: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__} {value!r}")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value}")
    return float(value)


def _sample_weight(fn: str, weight, x: Tensor) -> Tensor | None:
    if weight is None:
        return None
    w = as_tensor_arg(fn, "weight", weight)
    check_float(fn, "weight", w)
    if w.shape != x.shape:
        raise ValueError(f"{fn}: weight must have the input's shape {x.shape}, got {w.shape}")
    return w


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
            weight=None) -> Tensor:
    """ℓ = |x − y|; with ``weight`` (input's shape) the weighted mean divides by Σ weight.

    The gradient at x = y is 0 (sign(0), as PyTorch).

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> F.l1_loss(tm.tensor([1.0, -3.0]), tm.tensor([0.0, 0.0])).item()
    2.0
    """
    fn = "l1_loss"
    x, y = _pair(fn, input, target)
    reduction = _reduction(fn, reduction, size_average, reduce)
    w = _sample_weight(fn, weight, x)
    loss = (x - y).abs()
    if w is None:
        return _reduce(loss, reduction)
    loss = loss * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


class SmoothL1(Function):
    """Huber-shaped losses of d = x − y with a quadratic zone |d| < b.

    ``huber=False`` (smooth L1, b = beta):  ℓ = d²/(2b) if |d| < b else |d| − b/2
    ``huber=True``  (Huber, b = delta):      ℓ = d²/2   if |d| < b else b (|d| − b/2)
    dℓ/dd = d/b (d for Huber) inside the zone, else sign(d) (b·sign(d) for Huber); b = 0
    is the L1 loss.
    """

    @staticmethod
    def forward(ctx, x, y, b, huber):
        d = x - y
        ad = np.abs(d)
        inside = ad < b
        with np.errstate(divide="ignore", invalid="ignore"):
            if huber:
                loss = np.where(inside, 0.5 * d * d, b * (ad - 0.5 * b))
            else:
                loss = np.where(inside, 0.5 * d * d / (b if b else 1.0), ad - 0.5 * b)
        ctx.save_for_backward(d)
        ctx.b, ctx.huber = b, huber
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        b = ctx.b
        scale = 1.0 if ctx.huber else (1.0 / b if b else 0.0)
        outer = b if ctx.huber else 1.0
        grad = np.where(d < -b, -outer, np.where(d > b, outer, d * scale)) * g
        grad = grad.astype(d.dtype, copy=False)
        need_x, need_y = ctx.needs_input_grad[:2]
        return (grad if need_x else None), (-grad if need_y else None), None, None


def smooth_l1_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """ℓ = 0.5 d²/β where |d| < β, else |d| − β/2 (d = x − y); β = 0 gives the L1 loss.

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> F.smooth_l1_loss(tm.tensor([0.5, 3.0]), tm.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    fn = "smooth_l1_loss"
    x, y = _pair(fn, input, target)
    reduction = _reduction(fn, reduction, size_average, reduce)
    return _reduce(SmoothL1.apply(x, y, _nonneg(fn, "beta", beta), False), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight=None) -> Tensor:
    """ℓ = 0.5 d² where |d| < δ, else δ (|d| − δ/2); with ``weight`` (input's shape) the
    weighted losses are averaged over the elements (as PyTorch).

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> F.huber_loss(tm.tensor([0.5, 3.0]), tm.tensor([0.0, 0.0]), reduction="none", delta=2.0).tolist()
    [0.125, 4.0]
    """
    fn = "huber_loss"
    x, y = _pair(fn, input, target)
    reduction = _reduction(fn, reduction)
    delta = _nonneg(fn, "delta", delta)
    if delta == 0:
        raise ValueError(f"{fn}: delta must be > 0, got 0")
    w = _sample_weight(fn, weight, x)
    loss = SmoothL1.apply(x, y, delta, True)
    return _reduce(loss if w is None else loss * w, reduction)


class BinaryCrossEntropy(Function):
    """ℓ = −w (t log x + (1 − t) log(1 − x)), each log clamped to >= −100 (as PyTorch).

    dℓ/dx = w (x − t) / max(x (1 − x), 1e-12),  dℓ/dt = w (log(1 − x) − log x) (not clamped,
    as PyTorch: ±inf at x = 0 or 1).
    """

    @staticmethod
    def forward(ctx, x, t, w):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, t, w)
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, t, w = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        gw = g if w is None else g * w
        gx = gw * (x - t) / np.maximum(x * (1 - x), 1e-12) if need_x else None
        gt = None
        if need_t:
            with np.errstate(divide="ignore"):
                gt = gw * (np.log1p(-x) - np.log(x))
        return gx, gt, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target``:
    ℓ = −(y log x + (1 − y) log(1 − x)), each log clamped at −100 as PyTorch.

    ``weight`` rescales each element's loss (it broadcasts to the input's shape); the mean
    is over the elements. Prefer ``binary_cross_entropy_with_logits`` on logits.

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> round(F.binary_cross_entropy(tm.tensor([0.5, 0.9]), tm.tensor([1.0, 1.0])).item(), 4)
    0.3993
    """
    fn = "binary_cross_entropy"
    x, y = _pair(fn, input, target)
    reduction = _reduction(fn, reduction, size_average, reduce)
    w = None
    if weight is not None:
        wt = as_tensor_arg(fn, "weight", weight)
        check_float(fn, "weight", wt)
        try:
            if np.broadcast_shapes(wt.shape, x.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{fn}: weight of shape {wt.shape} does not broadcast to the "
                             f"input's shape {x.shape}") from None
        w = wt.data.astype(x.dtype, copy=False)
    if x.data.size and not (np.all(x.data >= 0) and np.all(x.data <= 1)):
        raise ValueError(f"{fn}: every element of input must be in [0, 1] (probabilities), "
                         f"got values from {x.data.min()} to {x.data.max()}")
    return _reduce(BinaryCrossEntropy.apply(x, y, w), reduction)


class KLDiv(Function):
    """Pointwise KL term ℓ = t (log t − x), 0 where t = 0 (xlogy); ``log_target``: t is
    log-probabilities and ℓ = e^t (t − x).

    dℓ/dx = −t (−e^t);  dℓ/dt = log t + 1 − x  (e^t (t − x + 1)); at t = 0 the target
    gradient is nan, as PyTorch's (its xlogy derivative there is 0/0).
    """

    @staticmethod
    def forward(ctx, x, t, log_target):
        from scipy import special
        if log_target:
            et = np.exp(t)
            loss = et * (t - x)
        else:
            et = None
            loss = special.xlogy(t, t) - t * x
        ctx.save_for_backward(x, t, et)
        ctx.log_target = log_target
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, t, et = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        if ctx.log_target:
            gx = -g * et if need_x else None
            gt = g * et * (t - x + 1) if need_t else None
        else:
            gx = -g * t if need_x else None
            gt = None
            if need_t:
                with np.errstate(divide="ignore", invalid="ignore"):
                    dxlogy = np.where(t == 0, 0, np.log(np.where(t == 0, 1, t))) + t / t
                gt = g * (dxlogy - x)
        return gx, gt, None


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """KL divergence Σ t (log t − x) with ``input`` x log-probabilities and ``target`` t
    probabilities (log-probabilities if ``log_target``).

    ``reduction``: "batchmean" divides the sum by the batch size ``input.shape[0]`` (the
    true KL divergence per sample); "mean" divides by the number of elements, as PyTorch.

    Shape: ``input`` and ``target`` (N, *) -> () (or (N, *) with "none").

    >>> p = tm.tensor([[0.5, 0.5]])
    >>> F.kl_div(p.log(), p, reduction="batchmean").item()
    0.0
    """
    fn = "kl_div"
    x, y = _pair(fn, input, target)
    reduction = _reduction(fn, reduction, size_average, reduce,
                           allowed=("mean", "batchmean", "sum", "none"))
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"{fn}: log_target must be a bool, got {type(log_target).__name__}")
    loss = KLDiv.apply(x, y, bool(log_target))
    if reduction == "batchmean":
        batch = x.shape[0] if x.ndim else 1
        return loss.sum() / batch if batch else loss.sum() * float("nan")
    return _reduce(loss, reduction)


_COS_EPS = 1e-12  # added to each squared norm, as PyTorch


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """ℓ = 1 − cos(x1, x2) where target = 1, max(0, cos(x1, x2) − margin) where target = −1.

    cos = Σ x1 x2 / √((Σ x1² + ε)(Σ x2² + ε)) along the last dim, ε = 1e-12 (as PyTorch).

    Shape: ``input1``/``input2`` (N, D) with ``target`` (N,), or (D,) with a 0-d target ->
    () with "mean"/"sum", (N,) with "none".

    >>> x = tm.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> F.cosine_embedding_loss(x, x, tm.tensor([1, -1]), reduction="none").tolist()
    [0.0, 1.0]
    """
    fn = "cosine_embedding_loss"
    a = as_tensor_arg(fn, "input1", input1)
    b = as_tensor_arg(fn, "input2", input2)
    check_float(fn, "input1", a)
    check_float(fn, "input2", b)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"{fn}: input1 and input2 must have one shape, (N, D) or (D,), got "
                         f"{a.shape} and {b.shape}")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.shape != a.shape[:-1]:
        raise ValueError(f"{fn}: target must have shape {a.shape[:-1]} for inputs of shape "
                         f"{a.shape}, got {t.shape}")
    if t.size and not np.all((t == 1) | (t == -1)):
        raise ValueError(f"{fn}: target values must be 1 or -1, got {np.unique(t)[:5]}")
    if isinstance(margin, bool) or not isinstance(margin, (numbers.Real, np.floating)):
        raise TypeError(f"{fn}: margin must be a float, got {type(margin).__name__}")
    reduction = _reduction(fn, reduction, size_average, reduce)
    dot = (a * b).sum(-1)
    denom = (((a * a).sum(-1) + _COS_EPS) * ((b * b).sum(-1) + _COS_EPS)).sqrt()
    cos = dot / denom
    pos = Tensor._wrap((t == 1).astype(a.dtype))
    neg = Tensor._wrap((t == -1).astype(a.dtype))
    loss = (1.0 - cos) * pos + (cos - float(margin)).clamp(min=0.0) * neg
    return _reduce(loss, reduction)
