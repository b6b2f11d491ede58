"""Transformer blocks with PyTorch's names and layouts: encoder/decoder layers and their stacks.

The seed's attention block, ``Attention(Q,K,V) = softmax(Q Kᵀ / √d_k) V`` (in
:class:`~tinymm.nn.attention.MultiheadAttention`), with residuals, LayerNorm and a
feed-forward block, as in "Attention is all you need" and ``torch.nn.Transformer*``::

    encoder layer (post-norm):  x = norm1(x + SA(x));  x = norm2(x + FF(x))
    decoder layer (post-norm):  x = norm1(x + SA(x));  x = norm2(x + CA(x, memory));
                                x = norm3(x + FF(x))
    pre-norm (norm_first):      x = x + SA(norm1(x)), ... each block on the normed input

with SA(x) = dropout1(self_attn(x, x, x)), CA(x, m) = dropout2(multihead_attn(x, m, m)),
FF(x) = dropout_last(linear2(dropout(activation(linear1(x))))). Submodule names are PyTorch's,
so ``state_dict`` copies across in both directions. A stack (``TransformerEncoder``,
``TransformerDecoder``) holds ``num_layers`` deep copies of the given layer in ``layers`` and an
optional final ``norm``.

Masks follow ``MultiheadAttention``: boolean True = ignore, float masks are added; the
``*_is_causal`` flags are hints that need the causal mask itself. PyTorch's inference fast
path (nested tensors, ``enable_nested_tensor``) is not reproduced: padded positions get
ordinary outputs here, as on PyTorch's training path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from .. import functional as F
from .._validation import as_tensor_arg, check_positive_int
from .activation import Dropout
from .attention import MultiheadAttention
from .containers import ModuleList
from .linear import Linear
from .module import Module
from .norm import LayerNorm


def _activation(owner: str, value) -> Callable:
    if value == "relu":
        return F.relu
    if value == "gelu":
        return F.gelu
    if callable(value) and not isinstance(value, str):
        return value
    raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a callable, got {value!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual and a LayerNorm.

    Post-norm (default)::  x = norm1(x + SA(x));  x = norm2(x + FF(x))
    Pre-norm (``norm_first``): x = x + SA(norm1(x));  x = x + FF(norm2(x))
    with SA(x) = dropout1(self_attn(x, x, x)) and
    FF(x) = dropout2(linear2(dropout(activation(linear1(x))))).
    Submodule names as PyTorch (``self_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1``, ``norm2``, ``dropout1``, ``dropout2``), so state dicts copy across.
    src (S, N, E) — (N, S, E) with ``batch_first`` — or unbatched (S, E) -> the same shape.

    >>> import tinymm as tm
    >>> layer = TransformerEncoderLayer(16, 4, dim_feedforward=32)
    >>> layer(tm.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation("TransformerEncoderLayer", activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = as_tensor_arg("TransformerEncoderLayer", "src", src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention to ``memory``, then a feed-forward block.

    Post-norm (default)::  x = norm1(x + SA(x));  x = norm2(x + CA(x, mem));  x = norm3(x + FF(x))
    Pre-norm (``norm_first``): x = x + SA(norm1(x)); x = x + CA(norm2(x), mem); x = x + FF(norm3(x))
    with SA = dropout1 ∘ self_attn, CA(x, m) = dropout2(multihead_attn(x, m, m)) and
    FF(x) = dropout3(linear2(dropout(activation(linear1(x))))). Submodule names as PyTorch.
    tgt (T, N, E), memory (S, N, E) — batch first with ``batch_first`` — -> (T, N, E).

    >>> import tinymm as tm
    >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32)
    >>> layer(tm.randn(3, 2, 16), tm.randn(5, 2, 16)).shape
    (3, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation("TransformerDecoderLayer", activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        x = as_tensor_arg("TransformerDecoderLayer", "tgt", tgt)
        mem = as_tensor_arg("TransformerDecoderLayer", "memory", memory)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


def _clones(owner: str, layer, kind: type, num_layers) -> ModuleList:
    if not isinstance(layer, kind):
        raise TypeError(f"{owner}: expected a {kind.__name__} as the layer, got "
                        f"{type(layer).__name__}")
    n = check_positive_int(owner, "num_layers", num_layers)
    return ModuleList(copy.deepcopy(layer) for _ in range(n))


def _check_norm(owner: str, norm):
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"{owner}: norm must be a Module or None, got {type(norm).__name__}")
    return norm


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    The copies start with the layer's weights (``copy.deepcopy``, as PyTorch) and train
    independently. ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch
    compatibility; they only steer PyTorch's inference fast path.

    >>> import tinymm as tm
    >>> enc = TransformerEncoder(TransformerEncoderLayer(16, 4, 32), num_layers=2)
    >>> enc(tm.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, encoder_layer, num_layers: int, norm=None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, TransformerEncoderLayer,
                              num_layers)
        self.num_layers = len(self.layers)
        self.norm = _check_norm("TransformerEncoder", norm)
        if norm is None:
            self.register_module("norm", None)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool | None = None):
        x = as_tensor_arg("TransformerEncoder", "src", src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn to ``tgt`` (each attending to
    the same ``memory``), then ``norm`` if given.

    >>> import tinymm as tm
    >>> dec = TransformerDecoder(TransformerDecoderLayer(16, 4, 32), num_layers=2)
    >>> dec(tm.randn(3, 2, 16), tm.randn(5, 2, 16)).shape
    (3, 2, 16)
    """

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, TransformerDecoderLayer,
                              num_layers)
        self.num_layers = len(self.layers)
        self.norm = _check_norm("TransformerDecoder", norm)
        if norm is None:
            self.register_module("norm", None)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False):
        x = as_tensor_arg("TransformerDecoder", "tgt", tgt)
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)
