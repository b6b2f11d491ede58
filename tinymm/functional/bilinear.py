"""``bilinear``: ``y[..., o] = Σ_{i,j} x1[..., i] · W[o, i, j] · x2[..., j] + b[o]``, one op.

Gradients, for M rows (all leading dims flattened)::

    ∂L/∂x1[m, i] = Σ_{o,j} g[m, o] W[o, i, j] x2[m, j]
    ∂L/∂x2[m, j] = Σ_{o,i} g[m, o] x1[m, i] W[o, i, j]
    ∂L/∂W[o, i, j] = Σ_m g[m, o] x1[m, i] x2[m, j],   ∂L/∂b[o] = Σ_m g[m, o]
"""

from __future__ import annotations

import numpy as np

from .._validation import as_tensor_arg, check_float, check_same_dtype
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["bilinear"]


class BilinearFn(Function):
    @staticmethod
    def forward(ctx, x1, x2, weight, bias):
        a = x1.reshape(-1, x1.shape[-1])  # (M, I)
        b = x2.reshape(-1, x2.shape[-1])  # (M, J)
        O, I, J = weight.shape
        u = (a @ weight.transpose(1, 0, 2).reshape(I, O * J)).reshape(-1, O, J)  # (M, O, J)
        y = np.einsum("moj,mj->mo", u, b)  # (M, O)
        if bias is not None:
            y += bias
        ctx.save_for_backward(a, b, weight)
        ctx.shapes = (x1.shape, x2.shape)
        return y.reshape(*x1.shape[:-1], O)

    @staticmethod
    def backward(ctx, g):
        a, b, weight = ctx.saved_tensors
        O, I, J = weight.shape
        g2 = g.reshape(-1, O)  # (M, O)
        need1, need2, need_w, need_b = ctx.needs_input_grad
        g1 = gx2 = gw = gb = None
        if need1:  # (M, O) @ (O, I·J) -> (M, I, J), contracted with x2 over J
            g1 = np.einsum("mij,mj->mi", (g2 @ weight.reshape(O, I * J)).reshape(-1, I, J),
                           b).reshape(ctx.shapes[0])
        if need2:  # (M, O·I) @ (O·I, J) -> (M, J)
            gx2 = ((g2[:, :, None] * a[:, None, :]).reshape(-1, O * I)
                   @ weight.reshape(O * I, J)).reshape(ctx.shapes[1])
        if need_w:  # (O, M) @ (M, I·J) -> (O, I, J)
            gw = (g2.T @ (a[:, :, None] * b[:, None, :]).reshape(-1, I * J)).reshape(O, I, J)
        if need_b:
            gb = g2.sum(axis=0)
        return g1, gx2, gw, gb


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = Σ_i Σ_j x1[..., i] W[o, i, j] x2[..., j] + b[o].

    Shape: ``x1 (..., I)``, ``x2 (..., J)`` (same leading dims), ``weight (O, I, J)``, ``bias
    (O,)`` or None -> ``(..., O)``.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.bilinear(tm.ones(5, 3), tm.ones(5, 4), tm.ones(2, 3, 4)).shape
    (5, 2)
    """
    fn = "bilinear"
    x1 = as_tensor_arg(fn, "input1", input1)
    x2 = as_tensor_arg(fn, "input2", input2)
    w = as_tensor_arg(fn, "weight", weight)
    for name, t in (("input1", x1), ("input2", x2), ("weight", w)):
        check_float(fn, name, t)
    if w.ndim != 3:
        raise ValueError(f"{fn}: weight must be 3-D (out, in1, in2), got shape {w.shape}")
    if x1.ndim < 1 or x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(f"{fn}: input1 {x1.shape} and input2 {x2.shape} must have the same "
                         "leading dims")
    if (x1.shape[-1], x2.shape[-1]) != w.shape[1:]:
        raise ValueError(f"{fn}: inputs have {x1.shape[-1]} and {x2.shape[-1]} features but "
                         f"weight has shape {w.shape} (out, in1, in2)")
    if bias is not None:
        bias = as_tensor_arg(fn, "bias", bias)
        if bias.shape != (w.shape[0],):
            raise ValueError(f"{fn}: bias must have shape ({w.shape[0]},), got {bias.shape}")
    check_same_dtype(fn, input1=x1, input2=x2, weight=w, bias=bias)
    return BilinearFn.apply(x1.contiguous(), x2.contiguous(), w.contiguous(), bias)
