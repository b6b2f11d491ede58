"""``linear``: y = x Wᵀ + b, one op with its three gradients."""

from __future__ import annotations

from .._validation import as_tensor_arg, check_float, check_ndim, check_same_dtype
from ..autograd import Function


class Linear(Function):
    """y = x Wᵀ + b over the last dim; x (..., in), W (out, in), b (out,) -> y (..., out).

    dx = dy W,  dW = dyᵀ x (summed over all leading dims),  db = Σ dy.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1])  # (M, in)
        y = x2 @ weight.T  # (M, out): BLAS reads the transposed view directly
        if bias is not None:
            y += bias
        ctx.save_for_backward(x2, weight)
        ctx.x_shape = x.shape
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, g):
        x2, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = g.reshape(-1, weight.shape[0])  # (M, out)
        gx = (g2 @ weight).reshape(ctx.x_shape) if need_x else None
        gw = g2.T @ x2 if need_w else None
        gb = g2.sum(axis=0) if need_b else None
        return gx, gw, gb


def linear(input, weight, bias=None):  # noqa: A002
    """Apply y = x Wᵀ + b (PyTorch's layout: ``weight`` is (out_features, in_features)).

    Shape: ``input`` (*, in_features), ``weight`` (out_features, in_features), ``bias``
    (out_features,) or None -> (*, out_features).

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.linear(tm.ones(2, 3), tm.ones(4, 3)).shape
    (2, 4)
    """
    x = as_tensor_arg("linear", "input", input)
    w = as_tensor_arg("linear", "weight", weight)
    check_float("linear", "input", x)
    check_ndim("linear", "weight", w, 2)
    if x.ndim == 0:
        raise ValueError("linear: input must be at least 1-D, got a 0-d tensor")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but "
                         f"weight expects {w.shape[1]} (weight shape {w.shape})")
    if bias is not None:
        bias = as_tensor_arg("linear", "bias", bias)
        if bias.shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {bias.shape}")
    check_same_dtype("linear", input=x, weight=w, bias=bias)
    if x.ndim == 1:
        return Linear.apply(x.reshape(1, -1), w, bias).reshape(w.shape[0])
    return Linear.apply(x, w, bias)


