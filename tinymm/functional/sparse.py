"""``embedding``: look rows of a table up by integer index (gather; scatter-add backward)."""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validation import IndexOutOfRange, as_tensor_arg, check_float, check_int, check_ndim
from ..autograd import Function
from ..tensor import Tensor

_EMB = "embedding"


class Embedding(Function):
    """y[..., :] = W[idx[...]]; dW[v] = Σ_{idx = v} dy (dW[padding_idx] = 0).

    ``indices`` arrives flattened (N,) int64; the output is (N, D), reshaped by the caller.
    """

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.save_for_backward(indices)
        ctx.num_embeddings, ctx.padding_idx = weight.shape[0], padding_idx
        return kernels.get("embedding_forward")(indices, weight)

    @staticmethod
    def backward(ctx, grad_output):
        (indices,) = ctx.saved_tensors
        grad_weight = kernels.get("embedding_backward")(
            np.ascontiguousarray(grad_output), indices, ctx.num_embeddings, ctx.padding_idx
        )
        return grad_weight, None, None


def _padding_index(padding_idx, num_embeddings: int) -> int:
    """PyTorch's rule: padding_idx in [-num_embeddings, num_embeddings); negative counts back."""
    if padding_idx is None:
        return -1
    p = check_int(_EMB, "padding_idx", padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError(f"{_EMB}: padding_idx must be within [-{num_embeddings}, "
                         f"{num_embeddings}) for num_embeddings={num_embeddings}, got {p}")
    return p % num_embeddings


def embedding(input, weight, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` (num_embeddings, D) picked by the integer ``input`` (any shape):
    y[..., :] = weight[input[...], :].

    Repeated indices add up their gradients; the row ``padding_idx`` (if given) receives no
    gradient. ``input`` may be an integer Tensor or ndarray; every index must lie in
    ``[0, num_embeddings)``.

    Shape: ``input`` (*) -> (*, D).

    >>> import tinymm as tm
    >>> embedding(tm.tensor([[1, 2], [0, 1]]), tm.randn(3, 4)).shape
    (2, 2, 4)
    """
    w = as_tensor_arg(_EMB, "weight", weight)
    check_float(_EMB, "weight", w)
    check_ndim(_EMB, "weight", w, 2)
    if isinstance(input, Tensor):
        idx = input.data
    elif isinstance(input, np.ndarray):
        idx = input
    else:
        raise TypeError(f"{_EMB}: input must be an integer Tensor or ndarray, "
                        f"got {type(input).__name__}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{_EMB}: input must hold integer indices, got dtype {idx.dtype}")
    V = w.shape[0]
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= V:
            bad = lo if lo < 0 else hi
            raise IndexOutOfRange(f"{_EMB}: index {int(bad)} is out of range for num_embeddings={V} "
                             f"(indices must be in [0, {V}))")
    pad = _padding_index(padding_idx, V)
    flat = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)  # (N,)
    out = Embedding.apply(w, flat, pad)  # (N, D)
    return out.reshape(*idx.shape, w.shape[1])
