"""Scaled dot-product attention kernels: NumPy reference twins (see kernels/__init__.py).

The seed's equation, with an additive mask M and an optional dropout keep-mask D::

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V
    P = softmax(Q Kᵀ · scale + M)           (attention probabilities, saved for backward)
    O = (P ⊙ D) V                           (D = 0 or 1/(1-p); D = 1 without dropout)

Shapes: query ``(*batch, L, E)``, key ``(*batch, S, E)``, value ``(*batch, S, Ev)``; the batch
dims broadcast as in ``np.matmul``; P and D are ``(*batch, L, S)``, O is ``(*batch, L, Ev)``.
``mask`` is an additive float mask broadcastable to ``(*batch, L, S)`` (``-inf`` = masked out);
``causal=True`` keeps only keys ``j <= i`` (top-left aligned, as PyTorch's ``is_causal``).

Fully masked rows (every score ``-inf``) give P = 0, hence O = 0 and zero gradients, as
PyTorch's ``scaled_dot_product_attention`` does (its "safe softmax") — not NaN.

query/key/value/grad_output are used only through ``np.matmul``, so any strides are accepted;
the arrays these kernels create are C-contiguous.
"""

from __future__ import annotations

import numpy as np

__all__ = ["attention_forward", "attention_backward"]


def _causal_keep(L: int, S: int) -> np.ndarray:
    """(L, S) boolean: True where key j may be attended by query i (j <= i)."""
    return np.tril(np.ones((L, S), dtype=bool))


def attention_forward(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    scale: float,
    mask: np.ndarray | None = None,
    causal: bool = False,
    dropout_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """O = (softmax(Q Kᵀ · scale + M) ⊙ D) V; returns ``(O, P)`` with P before dropout."""
    scale = float(scale)  # a Python float keeps float32 arrays float32 (NEP 50)
    L, S = query.shape[-2], key.shape[-2]
    # (*B, L, E) @ (*B, E, S) -> (*B, L, S)
    scores = np.matmul(query, np.swapaxes(key, -1, -2)) * scale
    if mask is not None:
        scores = scores + mask  # (*B, L, S) + broadcast mask
    if causal:
        scores = np.where(_causal_keep(L, S), scores, -np.inf)  # (*B, L, S)
    row_max = scores.max(axis=-1, keepdims=True, initial=-np.inf)  # (*B, L, 1); S = 0 ok
    # A fully masked row has max -inf; shift it by 0 so exp gives 0 instead of NaN.
    row_max = np.where(np.isneginf(row_max), 0, row_max).astype(scores.dtype)
    e = np.exp(scores - row_max)  # (*B, L, S)
    denom = e.sum(axis=-1, keepdims=True)  # (*B, L, 1)
    probs = np.zeros_like(e)
    np.divide(e, denom, out=probs, where=denom > 0)  # (*B, L, S); fully masked rows stay 0
    weights = probs if dropout_mask is None else probs * dropout_mask  # (*B, L, S)
    out = np.matmul(weights, value)  # (*B, L, S) @ (*B, S, Ev) -> (*B, L, Ev)
    return out, probs


def attention_backward(
    grad_output: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    probs: np.ndarray,
    scale: float,
    dropout_mask: np.ndarray | None = None,
    grad_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dQ, dK, dV)`` of attention, given dO and the saved probabilities P.

    With W = P ⊙ D (the weights multiplied into V) and dW its gradient (from dO, plus
    ``grad_weights`` when W itself is an output that received a gradient)::

        dV = Wᵀ dO,  dW = dO Vᵀ (+ grad_weights),  dP = dW ⊙ D,
        dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K · scale,  dK = dSᵀ Q · scale.

    Gradients have the broadcast batch shape; the caller reduces broadcast dims.
    """
    scale = float(scale)  # a Python float keeps float32 arrays float32 (NEP 50)
    weights = probs if dropout_mask is None else probs * dropout_mask  # (*B, L, S)
    grad_value = np.matmul(np.swapaxes(weights, -1, -2), grad_output)  # (*B, S, L) @ (*B, L, Ev)
    grad_weights_total = np.matmul(grad_output, np.swapaxes(value, -1, -2))  # (*B, L, S)
    if grad_weights is not None:
        grad_weights_total = grad_weights_total + grad_weights
    grad_probs = (
        grad_weights_total if dropout_mask is None else grad_weights_total * dropout_mask
    )  # (*B, L, S)
    row_dot = (grad_probs * probs).sum(axis=-1, keepdims=True)  # (*B, L, 1)
    grad_scores = probs * (grad_probs - row_dot) * scale  # (*B, L, S), scale folded in
    grad_query = np.matmul(grad_scores, key)  # (*B, L, S) @ (*B, S, E) -> (*B, L, E)
    grad_key = np.matmul(np.swapaxes(grad_scores, -1, -2), query)  # (*B, S, L) @ (*B, L, E)
    return grad_query, grad_key, grad_value
