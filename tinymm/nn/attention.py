"""``MultiheadAttention`` with PyTorch's names and layouts (the Transformer blocks: transformer.py).

Multi-head attention splits E = num_heads · head_dim and runs the seed's
``Attention(Q,K,V) = softmax(Q Kᵀ / √d_k) V`` (d_k = head_dim) once per head::

    MultiHead(Q, K, V) = concat(head_1, ..., head_h) W_out + b_out,
    head_i = Attention(Q W_q,i + b_q,i,  K W_k,i + b_k,i,  V W_v,i + b_v,i)

with W_q, W_k, W_v stacked in ``in_proj_weight`` (3E, E) as PyTorch stores them.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    as_tensor_arg,
    check_alloc,
    check_float,
    check_positive_int,
    check_probability,
    check_same_dtype,
)
from ..functional.attention import HeadsProjection, additive_mask, attend
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

_MHA = "MultiheadAttention"


def _mask_data(name: str, mask, dtype: np.dtype) -> np.ndarray:
    """An MHA mask (bool: True = ignore, as PyTorch's MHA; float: added) as additive floats."""
    arr = mask.data if isinstance(mask, Tensor) else mask
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{_MHA}: {name} must be a Tensor, an ndarray or None, "
                        f"got {type(mask).__name__}")
    if arr.dtype == np.bool_:
        return additive_mask(arr, dtype, keep_value=False)
    if arr.dtype.kind != "f":
        raise TypeError(f"{_MHA}: {name} must be bool or floating, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head (self- or cross-) attention, ``embed_dim`` split over ``num_heads`` heads.

    Parameters as PyTorch: ``in_proj_weight`` (3E, E) ~ xavier_uniform, ``in_proj_bias`` (3E,)
    = 0, ``out_proj`` a Linear(E, E) with bias 0. Inputs are (L, N, E) — (N, L, E) with
    ``batch_first`` — or unbatched (L, E). ``forward`` returns ``(attn_output, attn_weights)``,
    the weights averaged over heads (N, L, S) unless ``average_attn_weights=False``
    (N, H, L, S), or None when ``need_weights=False``.

    Masks: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N·H, L, S); boolean
    True means *ignore* (PyTorch's MHA convention, the opposite of SDPA's), a float mask is
    added to the scores. A query whose keys are all masked gets zeros (PyTorch returns NaN
    when ``need_weights=True`` and zeros otherwise). Dropout (training only) hits the
    attention weights, which are then returned after dropout, as PyTorch.

    >>> import tinymm as tm
    >>> mha = MultiheadAttention(16, 4)
    >>> x = tm.randn(5, 2, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((5, 2, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype=None):
        super().__init__()
        self.embed_dim = check_positive_int(_MHA, "embed_dim", embed_dim)
        self.num_heads = check_positive_int(_MHA, "num_heads", num_heads)
        if embed_dim % num_heads != 0:
            raise ValueError(f"{_MHA}: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        self.kdim = self.vdim = self.embed_dim
        self.head_dim = embed_dim // num_heads
        self.dropout = check_probability(_MHA, "dropout", dropout)
        self.batch_first = bool(batch_first)
        dt = np.dtype(dtype or np.float32)
        check_alloc(_MHA, "in_proj_weight", (3 * embed_dim, embed_dim), dt)
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dt))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _check_inputs(self, query, key, value) -> bool:
        """Validate shapes; returns True for unbatched (2-D) inputs."""
        q = as_tensor_arg(_MHA, "query", query)
        k = as_tensor_arg(_MHA, "key", key)
        v = as_tensor_arg(_MHA, "value", value)
        for name, t in (("query", q), ("key", k), ("value", v)):
            check_float(_MHA, name, t)
        check_same_dtype(_MHA, query=q, key=k, value=v, in_proj_weight=self.in_proj_weight)
        if q.ndim not in (2, 3):
            raise ValueError(f"{_MHA}: query must be 2-D (unbatched) or 3-D, got shape {q.shape}")
        if k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(f"{_MHA}: key and value must have query's {q.ndim} dims, got "
                             f"key {k.shape} and value {v.shape} for query {q.shape}")
        for name, t in (("query", q), ("key", k), ("value", v)):
            if t.shape[-1] != self.embed_dim:
                raise ValueError(f"{_MHA}: {name} must have embed_dim={self.embed_dim} "
                                 f"features, got shape {t.shape}")
        if k.shape != v.shape:
            raise ValueError(f"{_MHA}: key shape {k.shape} does not match value shape {v.shape}")
        if 0 in q.shape or 0 in k.shape:  # the attention kernels need one (query, key) pair
            raise ValueError(f"{_MHA}: query and key must not be empty, got query {q.shape} "
                             f"and key {k.shape}")
        if q.ndim == 3:
            bdim = 0 if self.batch_first else 1
            if k.shape[bdim] != q.shape[bdim]:
                raise ValueError(f"{_MHA}: query has batch size {q.shape[bdim]} but key has "
                                 f"{k.shape[bdim]} (query {q.shape}, key {k.shape})")
        return q.ndim == 2

    def _merged_mask(self, key_padding_mask, attn_mask, N: int, L: int, S: int,
                     dtype: np.dtype) -> np.ndarray | None:
        """key_padding_mask and attn_mask as one additive mask broadcastable to (N, H, L, S)."""
        H = self.num_heads
        mask = None
        if attn_mask is not None:
            am = _mask_data("attn_mask", attn_mask, dtype)
            if am.shape == (L, S):
                mask = am.reshape(1, 1, L, S)
            elif am.shape == (N * H, L, S):
                mask = am.reshape(N, H, L, S)
            else:
                raise ValueError(f"{_MHA}: attn_mask must have shape (L, S) = {(L, S)} or "
                                 f"(N*num_heads, L, S) = {(N * H, L, S)}, got {am.shape}")
        if key_padding_mask is not None:
            km = _mask_data("key_padding_mask", key_padding_mask, dtype)
            if km.shape != (N, S):
                raise ValueError(f"{_MHA}: key_padding_mask must have shape (N, S) = {(N, S)} "
                                 f"((S,) for unbatched input), got {km.shape}")
            km = km.reshape(N, 1, 1, S)
            mask = km if mask is None else mask + km
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        unbatched = self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise ValueError(f"{_MHA}: is_causal=True is only a hint and needs attn_mask "
                             "(the causal mask itself) to be given")
        same_qk, same_kv = query is key, key is value  # decides the packed projections
        if unbatched:  # (L, E) -> a batch of one, in the layout forward expects
            bdim = 0 if self.batch_first else 1
            query = query.unsqueeze(bdim)
            key = query if same_qk else key.unsqueeze(bdim)
            value = key if same_kv else value.unsqueeze(bdim)
            if key_padding_mask is not None:
                kpm = key_padding_mask.data if isinstance(key_padding_mask, Tensor) \
                    else np.asarray(key_padding_mask)
                key_padding_mask = kpm.reshape(1, -1)
        if self.batch_first:  # (N, L, E); heads (N, H, L, d) go back via (N, L, H, d)
            N, L, S = query.shape[0], query.shape[1], key.shape[1]
            merge = (0, 2, 1, 3)
        else:  # (L, N, E); heads (N, H, L, d) go back via (L, N, H, d)
            L, N, S = query.shape[0], query.shape[1], key.shape[0]
            merge = (2, 0, 1, 3)
        E, H, d = self.embed_dim, self.num_heads, self.head_dim
        mask = self._merged_mask(key_padding_mask, attn_mask, N, L, S, query.dtype)

        # Row blocks 0, 1, 2 of in_proj_weight are PyTorch's W_q, W_k, W_v. Inputs that are
        # the same tensor share one packed GEMM (self-attention: all three).
        w, b, bf = self.in_proj_weight, self.in_proj_bias, self.batch_first
        if same_qk and same_kv:
            heads = HeadsProjection.apply(query, w, b, 0, 3, H, bf)
        elif same_kv:
            heads = HeadsProjection.apply(query, w, b, 0, 1, H, bf) + \
                HeadsProjection.apply(key, w, b, 1, 2, H, bf)
        else:
            heads = sum((HeadsProjection.apply(x, w, b, i, 1, H, bf)
                         for i, x in enumerate((query, key, value))), ())
        dropout_p = self.dropout if self.training else 0.0
        mode = None if not need_weights else ("head_mean" if average_attn_weights else "all")
        result = attend(heads[0], heads[1], heads[2], mask, False, 1.0 / math.sqrt(d),
                        dropout_p, mode)
        out, weights = result if need_weights else (result, None)  # weights (N, [H,] L, S)
        out = out.permute(*merge).reshape(*query.shape[:2], E)  # (L, N, E) or (N, L, E)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            weights = None if weights is None else weights.squeeze(0)
        return out, weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


def __getattr__(name: str):
    """``TransformerEncoderLayer`` moved to nn/transformer.py; this import path still works."""
    if name == "TransformerEncoderLayer":
        from .transformer import TransformerEncoderLayer

        return TransformerEncoderLayer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
