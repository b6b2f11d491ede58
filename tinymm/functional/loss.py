"""Class losses (cross-entropy fused with log-softmax, NLL), MSE, BCE with logits, one_hot."""

from __future__ import annotations

import numpy as np

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
from .activation import log_softmax as _log_softmax

# scipy.special is imported in the functions that use it: importing it takes ~0.13 s,
# a third of `import tinymm`'s time.

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(fn: str, reduction: object, size_average: object = None, reduce: object = None,
               allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    """The reduction mode; PyTorch's deprecated ``size_average``/``reduce`` flags, when
    given, decide it as in PyTorch (reduce=False: "none"; size_average=False: "sum")."""
    if size_average is not None or reduce is not None:
        for name, v in (("size_average", size_average), ("reduce", reduce)):
            if v is not None and not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{fn}: {name} must be a bool or None, got {type(v).__name__}")
        size_average = True if size_average is None else bool(size_average)
        reduce = True if reduce is None else bool(reduce)
        return ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in allowed:
        raise ValueError(f"{fn}: reduction must be one of {allowed}, got {reduction!r}")
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


class NLLRows(Function):
    """ℓ_i = −w[t_i] · logp[i, t_i] over rows of (M, C) log-probabilities (0 where t_i is
    ignored); dℓ_i/dlogp[i, t_i] = −w[t_i]."""

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index):
        keep = target != ignore_index  # (M,)
        safe = np.where(keep, target, 0)  # (M,) a valid index for ignored rows
        w = np.where(keep, 1.0 if weight is None else weight[safe], 0).astype(logp.dtype)
        ctx.save_for_backward(safe, w)
        ctx.shape = logp.shape
        picked = logp[np.arange(logp.shape[0]), safe]  # (M,)
        return np.where(keep, -w * picked, 0).astype(logp.dtype)

    @staticmethod
    def backward(ctx, g):
        safe, w = ctx.saved_tensors
        grad = np.zeros(ctx.shape, g.dtype)  # (M, C)
        grad[np.arange(grad.shape[0]), safe] = -w * g
        return grad, None, None, None


def _class_rows(x: Tensor, c: int) -> Tensor:
    """(C,) -> (1, C); (N, C) stays; (N, C, d1, ...) -> (N·d1·..., C): one row per prediction."""
    rows = x.reshape(1, c) if x.ndim == 1 else x
    if rows.ndim > 2:
        rows = rows.reshape(x.shape[0], c, -1).transpose(1, 2).reshape(-1, c)
    return rows


def _class_targets(fn: str, x: Tensor, target, ignore_index: int) -> np.ndarray:
    """Check integer class targets against input (N, C, d...): shape (N, d...), values in
    [0, C) or ``ignore_index``; returns them flat as int64."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    expected = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != expected:
        raise ValueError(f"{fn}: target must have shape {expected} for input of shape "
                         f"{x.shape}, got {t.shape}")
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if np.any(bad):
        raise IndexOutOfRange(f"{fn}: target holds class {t[bad].reshape(-1)[0]}, outside [0, {c}) "
                         f"for {c} classes")
    return np.ascontiguousarray(t.reshape(-1), dtype=np.int64)


def _class_weight(fn: str, weight, c: int, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    w = as_tensor_arg(fn, "weight", weight)
    check_float(fn, "weight", w)
    if w.shape != (c,):
        raise ValueError(f"{fn}: weight must have shape ({c},), one per class, got {w.shape}")
    return w.data.astype(dtype, copy=False)


def _weighted_mean(fn_loss: Tensor, t_rows: np.ndarray, w: np.ndarray | None,
                   ignore_index: int) -> Tensor:
    """Σ loss / Σ w[t_i] over the targets not equal to ``ignore_index`` (w = 1 without a
    weight); 0/0 = nan when every target is ignored, as in PyTorch."""
    keep = t_rows != ignore_index
    total = float(keep.sum()) if w is None else float(w[t_rows[keep]].astype(np.float64).sum())
    return fn_loss.sum() / total if total else fn_loss.sum() * float("nan")


def _input_classes(fn: str, input) -> tuple[Tensor, int]:  # noqa: A002
    x = as_tensor_arg(fn, "input", input)
    check_float(fn, "input", x)
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must be at least 1-D (C,), got a 0-d tensor")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    if c == 0:
        raise ValueError(f"{fn}: input must have at least one class (C >= 1), got shape {x.shape}")
    return x, c


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,  # noqa: A002
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C), (C,) or (N, C, d1, ...)
    at integer class ``target`` (N,), () or (N, d1, ...): ℓ_i = −w[t_i] · input[i, t_i].

    ``reduction="mean"`` divides the sum by Σ w[t_i] over the targets not equal to
    ``ignore_index`` (their count without ``weight``).

    Shape: ``input`` (N, C), ``target`` (N,) -> () with "mean"/"sum", (N,) with "none".

    >>> round(F.nll_loss(tm.tensor([[-0.5, -1.0]]), [1]).item(), 3)
    1.0
    """
    fn = "nll_loss"
    x, c = _input_classes(fn, input)
    reduction = _reduction(fn, reduction, size_average, reduce)
    ignore_index = check_int(fn, "ignore_index", ignore_index)
    t_rows = _class_targets(fn, x, target, ignore_index)
    w = _class_weight(fn, weight, c, x.dtype)
    loss = NLLRows.apply(_class_rows(x, c), t_rows, w, ignore_index)
    if reduction == "none":
        return loss.reshape(*(() if x.ndim == 1 else (x.shape[0],) + x.shape[2:]))
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss, t_rows, w, ignore_index)


def cross_entropy(input, target, weight=None, size_average=None,  # noqa: A002
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class targets, as ``torch.nn.functional``.

    ``input`` is (N, C), (C,) or (N, C, d1, ...). ``target`` is either integer class indices
    of shape (N,), () or (N, d1, ...), or class probabilities of the input's shape (a
    floating dtype). With log-probabilities p = log_softmax(input) along the class dim, ε =
    ``label_smoothing`` and per-class ``weight`` w (ones if None):

        class indices:  ℓ_i = −(1 − ε) w[t_i] p[i, t_i] − (ε / C) Σ_c w_c p[i, c]
        probabilities:  ℓ_i = −Σ_c w_c y'[i, c] p[i, c],   y' = (1 − ε) y + ε / C

    ``reduction="mean"`` divides the sum by Σ w[t_i] over targets not equal to
    ``ignore_index`` for class indices, and by the number of predictions for probabilities.

    Shape: ``input`` (N, C) and ``target`` (N,) -> () with ``reduction`` "mean" or "sum",
    (N,) with "none".

    >>> logits = tm.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    >>> round(F.cross_entropy(logits, tm.tensor([0, 2])).item(), 4)
    0.2395
    >>> F.cross_entropy(logits, tm.tensor([0, 1]), reduction="none").shape
    (2,)
    """
    fn = "cross_entropy"
    x, c = _input_classes(fn, input)
    reduction = _reduction(fn, reduction, size_average, reduce)
    eps = check_probability(fn, "label_smoothing", label_smoothing)
    ignore_index = check_int(fn, "ignore_index", ignore_index)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f":
        return _cross_entropy_probabilities(x, target, c, weight, ignore_index, reduction, eps)
    t_rows = _class_targets(fn, x, target, ignore_index)
    w = _class_weight(fn, weight, c, x.dtype)
    rows = _class_rows(x, c)
    if w is None:  # the fused kernel
        loss = CrossEntropy.apply(rows.contiguous(), t_rows, eps, ignore_index)
    else:
        logp = _log_softmax(rows, 1)
        loss = NLLRows.apply(logp, t_rows, w, ignore_index)
        if eps:
            keep = Tensor._wrap((t_rows != ignore_index).astype(x.dtype))
            smooth = -(logp * Tensor._wrap(w)).sum(1) * keep  # (M,) −Σ_c w_c p_c
            loss = loss * (1.0 - eps) + smooth * (eps / c)
    if reduction == "none":
        return loss.reshape(*(() if x.ndim == 1 else (x.shape[0],) + x.shape[2:]))
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss, t_rows, w, ignore_index)


def _cross_entropy_probabilities(x: Tensor, target, c: int, weight, ignore_index: int,
                                 reduction: str, eps: float) -> Tensor:
    fn = "cross_entropy"
    y = target if isinstance(target, Tensor) else Tensor._wrap(np.asarray(target))
    if y.shape != x.shape:
        raise ValueError(f"{fn}: probability targets (a floating dtype) must have the input's "
                         f"shape {x.shape}, got {y.shape} (class-index targets must be integers)")
    if y.dtype != x.dtype:
        raise TypeError(f"{fn}: probability target has dtype {y.dtype} but input has {x.dtype}")
    if ignore_index != -100:
        raise ValueError(f"{fn}: ignore_index is not supported for probability targets, got "
                         f"ignore_index={ignore_index}")
    w = _class_weight(fn, weight, c, x.dtype)
    logp = _log_softmax(_class_rows(x, c), 1)  # (M, C)
    y_rows = _class_rows(y, c)
    if eps:
        y_rows = y_rows * (1.0 - eps) + eps / c
    prod = logp * y_rows
    if w is not None:
        prod = prod * Tensor._wrap(w)
    loss = -prod.sum(1)  # (M,)
    if reduction == "none":
        return loss.reshape(*(() if x.ndim == 1 else (x.shape[0],) + x.shape[2:]))
    if reduction == "sum":
        return loss.sum()
    m = loss.shape[0]
    return loss.sum() / m if m else loss.sum() * float("nan")


def _broadcast_weight(fn: str, name: str, weight, x: Tensor, same_shape: bool = False):
    """An optional weight Tensor that broadcasts to (or, with ``same_shape``, equals) the
    input's shape, as an array in the input's dtype."""
    if weight is None:
        return None
    w = as_tensor_arg(fn, name, weight)
    check_float(fn, name, w)
    if same_shape and w.shape != x.shape:
        raise ValueError(f"{fn}: {name} must have the input's shape {x.shape}, got {w.shape}")
    try:
        fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{fn}: {name} of shape {w.shape} does not broadcast to the input's "
                         f"shape {x.shape}")
    return w.data.astype(x.dtype, copy=False)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
             weight=None):
    """Mean squared error (x - y)²; shapes must match (as PyTorch, which only warns).

    With ``weight`` (the input's shape) each squared error is weighted and the mean divides
    by Σ weight, as PyTorch.

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> F.mse_loss(tm.tensor([1.0, 3.0]), tm.tensor([0.0, 0.0])).item()
    5.0
    """
    x = as_tensor_arg("mse_loss", "input", input)
    y = as_tensor_arg("mse_loss", "target", target)
    check_float("mse_loss", "input", x)
    check_float("mse_loss", "target", y)
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    if x.shape != y.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {y.shape} differ")
    w = _broadcast_weight("mse_loss", "weight", weight, x, same_shape=True)
    diff = x - y
    loss = diff * diff
    if w is None:
        return _reduce(loss, reduction)
    loss = loss * Tensor._wrap(w)
    return loss.sum() / float(w.sum()) if reduction == "mean" else _reduce(loss, reduction)


class BCEWithLogits(Function):
    """ℓ = w ((1 − t) x + l · softplus(−x)),  l = 1 + (p − 1) t  (p = ``pos_weight``, 1 if
    None), with softplus(−x) = max(−x, 0) + log(1 + e^−|x|) (stable for any x).

    dℓ/dx = w ((1 − t) − l (1 − σ(x)))  (= w (σ(x) − t) without pos_weight),
    dℓ/dt = w (−x + (p − 1) softplus(−x)).
    """

    @staticmethod
    def forward(ctx, x, t, w, pw):
        sp = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))  # softplus(−x) = −log σ(x)
        lw = 1 if pw is None else 1 + (pw - 1) * t
        loss = (1 - t) * x + lw * sp
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, t, w, pw, sp)
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        from scipy import special
        x, t, w, pw, sp = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        gw = g if w is None else g * w
        gx = gt = None
        if need_x:
            lw = 1 if pw is None else 1 + (pw - 1) * t
            gx = gw * ((1 - t) - lw * special.expit(-x))
        if need_t:
            gt = gw * (-x if pw is None else -x + (pw - 1) * sp)
        return gx, gt, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction: str = "mean", pos_weight=None):
    """Binary cross-entropy on logits, computed stably for any logit size:
    ℓ = max(x, 0) − x y + log(1 + e^{−|x|}).

    ``weight`` rescales each element's loss and ``pos_weight`` the positive term (both
    broadcast to the input's shape, e.g. ``pos_weight`` of shape (C,) per class).

    Shape: ``input`` and ``target`` (*) -> () with "mean"/"sum", (*) with "none".

    >>> round(F.binary_cross_entropy_with_logits(tm.tensor([0.0, 100.0]), tm.tensor([1.0, 1.0])).item(), 4)
    0.3466
    """
    fn = "binary_cross_entropy_with_logits"
    x = as_tensor_arg(fn, "input", input)
    y = as_tensor_arg(fn, "target", target)
    check_float(fn, "input", x)
    check_float(fn, "target", y)
    reduction = _reduction(fn, reduction, size_average, reduce)
    if x.shape != y.shape:
        raise ValueError(f"{fn}: target shape {y.shape} must equal input shape {x.shape}")
    w = _broadcast_weight(fn, "weight", weight, x)
    pw = _broadcast_weight(fn, "pos_weight", pos_weight, x)
    return _reduce(BCEWithLogits.apply(x, y, w, pw), reduction)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (-1: max + 1).

    Shape: (*) integer -> (*, num_classes) int64.

    >>> F.one_hot(tm.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
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
