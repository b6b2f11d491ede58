"""Scaled dot-product attention, the seed's ``Attention(Q,K,V) = softmax(Q Kᵀ / √d_k) V``.

The whole core — scores, mask, softmax, dropout on the probabilities, the product with V —
is one autograd Function over the ``attention_forward`` / ``attention_backward`` kernels,
so the graph holds one node per attention call, not a dozen.
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._validation import as_tensor_arg, check_float, check_probability, check_same_dtype
from ..autograd import Function
from ..kernels.workspace import workspace
from ..random import generator
from ..tensor import Tensor

_SDPA = "scaled_dot_product_attention"


class ScaledDotProductAttention(Function):
    """O = (softmax(Q Kᵀ · scale + M) ⊙ D) V over the last two dims, batched over the rest.

    ``weights`` selects the outputs: None -> O; ``"all"`` -> ``(O, W)`` with W = P ⊙ D the
    attention weights (*batch, L, S); ``"head_mean"`` -> ``(O, mean of W over dim -3)``
    (MultiheadAttention's averaged weights, produced here so that no full-size W has to
    exist when nothing uses it). W is differentiable; the additive mask M gets no gradient.
    """

    @staticmethod
    def forward(ctx, query, key, value, mask, causal, scale, dropout_mask, weights):
        out, probs = kernels.get("attention_forward")(query, key, value, scale, mask, causal,
                                                      dropout_mask)
        ctx.save_for_backward(query, key, value, probs, dropout_mask)
        ctx.scale, ctx.weights = scale, weights
        if weights is None:
            return out
        w = probs if dropout_mask is None else probs * dropout_mask  # (*B, L, S)
        if weights == "head_mean":  # (N, H, L, S) -> (N, L, S); sum-then-scale beats .mean
            w = w.sum(axis=-3)
            w *= w.dtype.type(1.0 / probs.shape[-3])
        return out, w

    @staticmethod
    def backward(ctx, grad_output, grad_weights=None):
        query, key, value, probs, dropout_mask = ctx.saved_tensors
        if grad_weights is not None and not grad_weights.any():
            grad_weights = None  # the engine's zeros for weights that fed nothing
        elif grad_weights is not None and ctx.weights == "head_mean":
            # d mean_h(W) / dW_h = 1/H: spread the gradient back over the heads (a view)
            heads = probs.shape[-3]
            grad_weights = np.broadcast_to(np.expand_dims(grad_weights / heads, -3),
                                           probs.shape)
        grads = kernels.get("attention_backward")(grad_output, query, key, value, probs,
                                                  ctx.scale, dropout_mask, grad_weights)
        need = ctx.needs_input_grad
        gq, gk, gv = (g if n else None for g, n in zip(grads, need[:3]))
        return gq, gk, gv, None, None, None, None, None


class HeadsProjection(Function):
    """Projections for multi-head attention, packed into one GEMM and split into heads.

    Rows ``[first·E, (first+count)·E)`` of ``weight`` (3E, E) — blocks of W_q, W_k, W_v —
    project x (L, N, E) (or (N, L, E) with ``batch_first``) in one product::

        [Y_1 | ... | Y_count] = x W[rows]ᵀ + b[rows],  Y_i viewed as heads (N, H, L, d)

    Returns ``count`` contiguous (N, H, L, d) blocks of one buffer. Backward writes the
    heads' gradients into one (L·N, count·E) buffer and runs one GEMM each for dx and dW —
    what three separate linears would do in three, plus the additions of their dx.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, first, count, num_heads, batch_first):
        E = weight.shape[1]
        rows = slice(first * E, (first + count) * E)
        x2 = x.reshape(-1, E)  # (L·N, E)
        y = workspace("mha.projection", (x2.shape[0], count * E), x.dtype)
        np.matmul(x2, weight[rows].T, out=y)  # (L·N, count·E)
        if bias is not None:
            y += bias[rows]
        split = y.reshape(x.shape[0], x.shape[1], count, num_heads, E // num_heads)
        # (L, N, c, H, d) -> (c, N, H, L, d); batch_first: (N, L, c, H, d) -> (c, N, H, L, d)
        order = (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)
        # One copy into head-major order: the attention's batched matmuls then read
        # contiguous (L, d) blocks, which is faster than the strided views (0.3-0.6 ms each).
        # Always into a fresh array: the heads are returned and saved by the attention, and
        # for one token or one head the transposed view is already contiguous, so
        # np.ascontiguousarray would hand out the workspace itself (kernels/workspace.py).
        heads = np.empty((count,) + tuple(split.shape[i] for i in order[1:]), x.dtype)
        np.copyto(heads, split.transpose(order))  # (c, N, H, L, d)
        ctx.save_for_backward(x2, weight)
        ctx.rows, ctx.split_shape, ctx.order, ctx.x_shape = rows, split.shape, order, x.shape
        return tuple(heads[i] for i in range(count))

    @staticmethod
    def backward(ctx, *grad_heads):
        x2, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = workspace("mha.projection_grad", ctx.split_shape, x2.dtype)  # (L, N, c, H, d)
        g_heads = g.transpose(ctx.order)  # (c, N, H, L, d) view
        for i, gh in enumerate(grad_heads):
            g_heads[i] = gh
        g2 = g.reshape(x2.shape[0], -1)  # (L·N, c·E)
        gx = (g2 @ weight[ctx.rows]).reshape(ctx.x_shape) if need_x else None
        gw = gb = None
        if need_w:
            gw = np.zeros_like(weight)
            gw[ctx.rows] = g2.T @ x2
        if need_b:
            gb = np.zeros(weight.shape[0], weight.dtype)
            gb[ctx.rows] = g2.sum(axis=0)
        return gx, gw, gb, None, None, None, None


def additive_mask(mask: np.ndarray, dtype: np.dtype, keep_value: bool) -> np.ndarray:
    """A boolean mask as an additive float mask: 0 where ``mask == keep_value``, else -inf."""
    return np.where(mask == keep_value, 0.0, -np.inf).astype(dtype)


def attend(query: Tensor, key: Tensor, value: Tensor, mask: np.ndarray | None, causal: bool,
           scale: float, dropout_p: float, weights: str | None = None):
    """Run the attention Function on validated Tensors (``mask``: additive, query's dtype).

    ``weights``: None, ``"all"`` or ``"head_mean"``, see :class:`ScaledDotProductAttention`.

    Shared by :func:`scaled_dot_product_attention` and ``nn.MultiheadAttention``. Dropout
    on the probabilities draws its keep-mask from ``tinymm.random.generator()``.
    """
    dropout_mask = None
    if dropout_p > 0.0:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
        shape = batch + (query.shape[-2], key.shape[-2])
        keep = generator().random(shape) >= dropout_p
        factor = 0.0 if dropout_p >= 1.0 else 1.0 / (1.0 - dropout_p)  # p = 1 drops everything
        dropout_mask = keep.astype(query.dtype) * query.dtype.type(factor)
    return ScaledDotProductAttention.apply(query, key, value, mask, causal, float(scale),
                                           dropout_mask, weights)


def _mask_array(attn_mask, dtype: np.dtype, target: tuple) -> np.ndarray:
    """SDPA's attn_mask (bool: True = take part; float: added) as an additive array."""
    if isinstance(attn_mask, Tensor):
        arr = attn_mask.data
    elif isinstance(attn_mask, np.ndarray):
        arr = attn_mask
    else:
        raise TypeError(f"{_SDPA}: attn_mask must be a Tensor, an ndarray or None, "
                        f"got {type(attn_mask).__name__}")
    if arr.dtype != np.bool_ and arr.dtype != dtype:
        raise TypeError(f"{_SDPA}: attn_mask must be bool or have the query's dtype {dtype}, "
                        f"got {arr.dtype}")
    try:
        ok = np.broadcast_shapes(arr.shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{_SDPA}: attn_mask of shape {arr.shape} does not broadcast to the "
                         f"attention shape (*batch, L, S) = {target}")
    return additive_mask(arr, dtype, True) if arr.dtype == np.bool_ else arr


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ · scale + M) V, scale = 1/√E by default (the seed's 1/√d_k).

    The batch dims ``...`` broadcast. ``attn_mask`` broadcasts to ``(..., L, S)``: a bool
    mask says which keys take part (True = attend, as PyTorch's SDPA), a float mask is
    added to the scores. ``is_causal`` lets query i see keys j <= i (not with attn_mask).
    Dropout with ``dropout_p`` hits the attention probabilities (always, as PyTorch: pass
    0.0 in evaluation). A query whose keys are all masked gets output 0 (as PyTorch's SDPA).
    The mask gets no gradient. Extra batch dims from attn_mask are not broadcast into.

    Shape: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)`` -> ``(..., L, Ev)``.

    >>> import tinymm as tm
    >>> q = tm.randn(2, 4, 5, 8)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    q = as_tensor_arg(_SDPA, "query", query)
    k = as_tensor_arg(_SDPA, "key", key)
    v = as_tensor_arg(_SDPA, "value", value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        check_float(_SDPA, name, t)
        if t.ndim < 2:
            raise ValueError(f"{_SDPA}: query, key and value must be at least 2-D, but {name} "
                             f"has shape {t.shape}")
    check_same_dtype(_SDPA, query=q, key=k, value=v)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if 0 in t.shape:  # the kernels need at least one (query, key) pair
            raise ValueError(f"{_SDPA}: {name} must not be empty, got shape {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{_SDPA}: query has embedding size E={q.shape[-1]} (shape {q.shape}) "
                         f"but key has {k.shape[-1]} (shape {k.shape})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{_SDPA}: key has S={k.shape[-2]} positions (shape {k.shape}) but "
                         f"value has {v.shape[-2]} (shape {v.shape})")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{_SDPA}: the batch dims of query {q.shape}, key {k.shape} and value "
                         f"{v.shape} do not broadcast") from None
    dropout_p = check_probability(_SDPA, "dropout_p", dropout_p)
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{_SDPA}: is_causal must be a bool, got {type(is_causal).__name__}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{_SDPA}: attn_mask must be None when is_causal=True "
                         "(pass one or the other)")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] > 0 else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"{_SDPA}: scale must be a float or None, got {type(scale).__name__}")
    mask = None
    if attn_mask is not None:
        mask = _mask_array(attn_mask, q.dtype, batch + (q.shape[-2], k.shape[-2]))
    return attend(q, k, v, mask, bool(is_causal), float(scale), dropout_p)
