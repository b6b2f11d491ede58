"""Sequence-level fusion: a MulT-style cross-modal Transformer between modality sequences.

Tsai et al., ACL 2019, "Multimodal Transformer for Unaligned Multimodal Language
Sequences": every modality's token / frame sequence attends to every other modality's
sequence (query = the target modality, key and value = the source), so the fusion sees
*which* word goes with *which* audio frame rather than one pooled vector per modality
(that pooled variant is ``PooledAttentionFusion``, fusion name "pooled_attention").

Input per modality: ``(seq, valid)`` with ``seq`` (B, T_m, D_m) and ``valid`` (B, T_m) bool
(False at padding), as ``encoder.sequence(x)`` returns; a bare (B, T_m, D_m) Tensor means all
valid and a (B, D_m) Tensor is a sequence of one. Sequence lengths may differ between
modalities (no alignment is needed). ``mask`` (B, M) marks the modalities present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .. import nn
from ..ops.shape import cat
from ..tensor import Tensor
from .fusion import Fusion, MissingEmbedding, as_mask

EMBEDDINGS = ("norm", "scale", "none")  # MulTFusion(embed=...): how features meet the positions


def sinusoidal_positions(length: int, dim: int, dtype) -> np.ndarray:
    """P (length, dim): P[t, 2i] = sin(t / 10000^(2i/dim)), P[t, 2i+1] = cos(same)."""
    t = np.arange(length, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, dim, 2, dtype=np.float64) / dim)
    p = np.zeros((length, dim), np.float64)
    p[:, 0::2] = np.sin(t * freq)
    p[:, 1::2] = np.cos(t * freq[: dim // 2])
    return p.astype(dtype)


def _masked_mean(x: Tensor, valid: np.ndarray) -> Tensor:
    """(B, T, D) -> (B, D): mean over the positions where ``valid`` (B, T) is True."""
    w = valid.astype(x.dtype)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    return (x * w[:, :, None]).sum(dim=1)


class CrossModalBlock(nn.Module):
    """One MulT cross-modal layer, source β -> target α (pre-LayerNorm residual form).

        Z ← Z + g ⊙ MHA(LN_q(Z), LN_kv(X_β), LN_kv(X_β); key_padding_mask = ¬k_β)
        Z ← Z + W_2 ReLU(W_1 LN_ff(Z) + b_1) + b_2

    Z (B, T_α, d) the target stream, X_β (B, T_β, d) the source, k_β (B, T_β) its valid keys.
    g (B, 1, 1) is 1 for a sample with at least one valid source key and 0 otherwise (a
    missing source): such a row attends to nothing and its stream passes through the
    feed-forward part only, exactly as if the source had no tokens. (Its keys are unmasked
    inside the attention so that no softmax ever runs over an all-masked row; the gate
    then removes the result.) Parameters: 4d² + 2d·f + 11d + f (f = dim_feedforward).

    >>> _ = tm.manual_seed(0)
    >>> block = CrossModalBlock(dim=8, num_heads=2, dim_feedforward=16)
    >>> z, source = tm.randn(2, 3, 8), tm.randn(2, 5, 8)
    >>> valid = np.array([[True] * 5, [False] * 5])    # sample 1: the source is missing
    >>> block(z, source, valid).shape
    (2, 3, 8)
    >>> sum(p.numel() for p in block.parameters()) == 4 * 8**2 + 2 * 8 * 16 + 11 * 8 + 16
    True
    """

    def __init__(self, dim: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim_feedforward), nn.ReLU(), nn.Dropout(dropout),
                                nn.Linear(dim_feedforward, dim))

    def forward(self, z: Tensor, source: Tensor, key_valid: np.ndarray) -> Tensor:
        has_key = key_valid.any(axis=1)                                # (B,)
        if has_key.any():
            kv = self.norm_kv(source)
            ignore = ~key_valid
            ignore[~has_key] = False            # never an all-masked softmax row
            pad = Tensor._wrap(ignore) if ignore.any() else None
            a = self.attn(self.norm_q(z), kv, kv, key_padding_mask=pad, need_weights=False)[0]
            if not has_key.all():
                a = a * has_key.astype(a.dtype)[:, None, None]
            z = z + a
        return z + self.ff(self.norm_ff(z))


class SequenceFusion(Fusion):
    """Base class of fusions that read sequences: ``uses_sequences`` tells the classifier to
    call each encoder's ``sequence`` instead of its pooled forward. ``in_features`` are the
    per-position sizes D_m (the encoders' ``seq_features``).

    ``features``: per modality a (B, T_m, D_m) Tensor, a ``(Tensor, valid)`` pair with
    ``valid`` a (B, T_m) bool array, a (B, D_m) Tensor (one position) or None.

    >>> issubclass(MulTFusion, SequenceFusion), MulTFusion.uses_sequences
    (True, True)
    """

    uses_sequences = True

    def forward(self, features, mask=None) -> Tensor:
        fn = type(self).__name__
        feats = self._sequences(features)
        batch = next((s.shape[0] for s, _ in filter(None, feats)), None)
        if batch is None:
            if mask is None:
                raise ValueError(f"{fn}: every feature is None; pass a mask to give the batch size")
            batch = np.shape(mask.data if isinstance(mask, Tensor) else mask)[0]
        m = as_mask(fn, mask, batch, len(self.in_features))
        for j, f in enumerate(feats):
            if f is None and m[:, j].any():
                raise ValueError(f"{fn}: features of {self.modalities[j]!r} are None but the "
                                 "mask marks it present in some samples")
            if f is not None and f[0].shape[0] != batch:
                raise ValueError(f"{fn}: features disagree on the batch size ({batch} and "
                                 f"{f[0].shape[0]} for {self.modalities[j]!r})")
        return self.fuse(feats, m)

    def _sequences(self, features) -> list[tuple[Tensor, np.ndarray] | None]:
        fn = type(self).__name__
        feats = self._ordered(features, "Tensors or (Tensor, valid) pairs", "feature entries")
        out: list[tuple[Tensor, np.ndarray] | None] = []
        for name, size, f in zip(self.modalities, self.in_features, feats):
            if f is None:
                out.append(None)
                continue
            seq, valid = f if isinstance(f, tuple) else (f, None)
            if not isinstance(seq, Tensor):
                raise TypeError(f"{fn}: features of {name!r} must be a Tensor, "
                                f"got {type(seq).__name__}")
            if seq.ndim == 2:
                seq = seq.reshape(seq.shape[0], 1, seq.shape[1])
            if seq.ndim != 3 or seq.shape[2] != size or seq.shape[1] < 1:
                raise ValueError(f"{fn}: features of {name!r} must have shape (B, T, {size}) "
                                 f"or (B, {size}), got {seq.shape}")
            if valid is None:
                valid = np.ones(seq.shape[:2], bool)
            valid = np.asarray(valid.data if isinstance(valid, Tensor) else valid)
            if valid.shape != seq.shape[:2] or valid.dtype != np.bool_:
                raise ValueError(f"{fn}: the valid mask of {name!r} must be bool of shape "
                                 f"{seq.shape[:2]}, got {valid.dtype} {valid.shape}")
            out.append((seq, valid))
        return out


class MulTFusion(SequenceFusion):
    """Cross-modal Transformer fusion (MulT, Tsai et al. 2019) for M >= 1 modalities.

    With d = ``dim``, L = ``num_layers`` cross-modal layers, S = ``self_layers``:

    1. Projection and positions: X_m = E_m(s_m W_m + b_m) + P_{T_m}   (B, T_m, d),
       P the sinusoidal positions (``sinusoidal_positions``, entries in [-1, 1]) and E_m
       chosen by ``embed``: "norm" (default) a LayerNorm per modality, so every modality's
       tokens enter at unit scale next to the positions; "scale" multiplies by √d
       (as MulT and the original Transformer scale embeddings); "none" adds P as it is.
       Why: an encoder whose early features are small (~0.01) next to the positions is
       barely heard by the attention, gets almost no gradient and can stay silent for the
       whole run (a collapse onto the other modality); √d helps on average, the LayerNorm
       removes the dependence on the encoder's scale (``benchmarks/COLLAPSE.md``).
    2. For every ordered pair source β ≠ target α, L ``CrossModalBlock`` layers starting from
       Z⁰_{β→α} = X_α:  Z^i_{β→α} = Block^i_{β→α}(Z^{i-1}_{β→α}, X_β, k_β)   (B, T_α, d),
       with k_β = valid_β ∧ present_β (a missing modality has no keys).
    3. H_α = [Z^L_{β→α}]_{β≠α} concatenated on features (B, T_α, e), e = (M-1)·d
       (M = 1: H_α = X_α, e = d), then S pre-norm ``TransformerEncoderLayer``(e) with
       α's padding as key padding, then a LayerNorm.
    4. h_α = mean of H_α over α's valid positions (B, e); a missing α is replaced by a
       learned "missing" vector (``MissingEmbedding``), so it cannot leak. A sample whose
       sequence of a present modality has no valid position counts as missing that modality.
    5. Output: [h_1; ...; h_M]   (B, M·e), out_features = M·e.

    A missing modality therefore gives exactly the output of removing its tokens: no query
    of another modality attends to it (step 2's gate) and its own summary is the learned
    constant. Positions with ``valid`` False never change the output. Cost: attention is
    O(T_α T_β d) per pair and layer.

    Parameters (f = ``dim_feedforward`` or 2d, f_e = 2e)::

        Σ_m (D_m + 1)·d  (+ M·2d with embed="norm")       projections
        + M (M - 1) L (4d² + 2d·f + 11d + f)             cross-modal layers
        + M S (4e² + 2e·f_e + 9e + f_e) + M·2e           self layers, final LayerNorms
        + M·e                                            missing vectors

    (``parameter_count`` evaluates it.) num_heads must divide d and e.

    >>> _ = tm.manual_seed(0)
    >>> fusion = MulTFusion({"image": 4, "text": 3}, dim=8, num_heads=2)
    >>> image = (tm.randn(2, 5, 4), np.ones((2, 5), bool))            # 5 cells, all valid
    >>> text = (tm.randn(2, 3, 3), np.array([[True, True, False], [True, False, False]]))
    >>> mask = np.array([[True, True], [True, False]])                # sample 1: no text
    >>> fusion([image, text], mask).shape, fusion.out_features       # M·e = 2·8
    ((2, 16), 16)
    """

    def __init__(self, in_features, dim: int = 32, num_heads: int = 4, num_layers: int = 1,
                 self_layers: int = 1, dim_feedforward: int | None = None,
                 dropout: float = 0.0, embed: str = "norm"):
        super().__init__(in_features)
        from ..nn.transformer import TransformerEncoderLayer

        n = len(self.in_features)
        self.dim, self.num_layers, self.self_layers = dim, num_layers, self_layers
        if not isinstance(embed, str) or embed not in EMBEDDINGS:
            raise ValueError(f"MulTFusion: embed must be one of {', '.join(EMBEDDINGS)}, "
                             f"got {embed!r}")
        self.embed = embed
        self.embed_scale = math.sqrt(dim) if embed == "scale" else 1.0
        self.dim_feedforward = dim_feedforward or 2 * dim
        self.stream_dim = e = (n - 1) * dim if n > 1 else dim
        for name, v in (("dim", dim), ("num_heads", num_heads)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"MulTFusion: {name} must be a positive int, got {v!r}")
        for name, v in (("num_layers", num_layers), ("self_layers", self_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"MulTFusion: {name} must be an int >= 0, got {v!r}")
        if dim % num_heads:
            raise ValueError(f"MulTFusion: dim ({dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.proj = nn.ModuleList([nn.Linear(d, dim) for d in self.in_features])
        if embed == "norm":
            self.embed_norm = nn.ModuleList([nn.LayerNorm(dim) for _ in self.in_features])
        # cross[α][k] holds the layers of the k-th source of target α (sources in order, α skipped)
        self.cross = nn.ModuleList([
            nn.ModuleList([
                nn.ModuleList([CrossModalBlock(dim, num_heads, self.dim_feedforward, dropout)
                               for _ in range(num_layers)])
                for _ in range(n - 1)])
            for _ in range(n)])
        self.self_attn = nn.ModuleList([
            nn.ModuleList([TransformerEncoderLayer(e, num_heads, dim_feedforward=2 * e,
                                                   dropout=dropout, batch_first=True,
                                                   norm_first=True)
                           for _ in range(self_layers)])
            for _ in range(n)])
        self.norm = nn.ModuleList([nn.LayerNorm(e) for _ in range(n)])
        self.missing = MissingEmbedding([e] * n)
        self.out_features = n * e

    @staticmethod
    def parameter_count(in_features, dim: int = 32, num_layers: int = 1, self_layers: int = 1,
                        dim_feedforward: int | None = None, embed: str = "norm") -> int:
        """The number of parameters of ``MulTFusion(in_features, dim, ...)`` (the docstring's sum)."""
        sizes = list(in_features.values()) if isinstance(in_features, Mapping) else list(in_features)
        n, d, f = len(sizes), dim, dim_feedforward or 2 * dim
        e = (n - 1) * d if n > 1 else d
        fe = 2 * e
        return (sum((s + 1) * d for s in sizes) + (n * 2 * d if embed == "norm" else 0)
                + n * (n - 1) * num_layers * (4 * d * d + 2 * d * f + 11 * d + f)
                + n * self_layers * (4 * e * e + 2 * e * fe + 9 * e + fe) + n * 2 * e
                + n * e)

    def _project(self, j: int, seq: Tensor) -> Tensor:
        x = self.proj[j](seq)
        if self.embed == "norm":
            x = self.embed_norm[j](x)
        elif self.embed_scale != 1.0:
            x = x * self.embed_scale
        return x + sinusoidal_positions(seq.shape[1], self.dim, x.dtype)

    def fuse(self, features, mask):
        n = len(features)
        # a present modality without one valid position has no tokens: it counts as missing
        has_tokens = [np.ones(mask.shape[0], bool) if f is None else f[1].any(axis=1)
                      for f in features]
        mask = mask & np.stack(has_tokens, axis=1)
        xs = [None if f is None else self._project(j, f[0]) for j, f in enumerate(features)]
        keys = [None if f is None else f[1] & mask[:, j:j + 1] for j, f in enumerate(features)]
        pooled = []
        for a in range(n):
            if xs[a] is None:                         # missing from the whole batch
                pooled.append(None)
                continue
            streams = []
            for k, b in enumerate(i for i in range(n) if i != a):
                z = xs[a]
                for block in self.cross[a][k]:
                    if xs[b] is None:                 # no keys at all: feed-forward only
                        z = z + block.ff(block.norm_ff(z))
                    else:
                        z = block(z, xs[b], keys[b])
                streams.append(z)
            h = xs[a] if not streams else streams[0] if len(streams) == 1 else cat(streams, dim=2)
            valid = features[a][1].copy()
            valid[~valid.any(axis=1), 0] = True       # (a missing row: replaced below)
            pad = Tensor._wrap(~valid) if not valid.all() else None
            for layer in self.self_attn[a]:
                h = layer(h, src_key_padding_mask=pad)
            pooled.append(_masked_mean(self.norm[a](h), valid))
        parts = [self.missing.fill(j, h, mask[:, j]) for j, h in enumerate(pooled)]
        return parts[0] if n == 1 else cat(parts, dim=1)


__all__ = ["MulTFusion", "SequenceFusion", "CrossModalBlock", "sinusoidal_positions"]
