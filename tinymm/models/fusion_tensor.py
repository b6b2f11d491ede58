"""Tensor fusion (outer product) and its low-rank factorisation.

Both append a constant 1 to each modality's vector, z_m = [h_m; 1], so the product keeps
every unimodal and every lower-order interaction term next to the full M-way one.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..ops.shape import cat
from ..tensor import Tensor
from .fusion import Fusion, MissingEmbedding


def _append_one(h: Tensor) -> Tensor:
    """(B, D) -> (B, D + 1): z = [h; 1]."""
    ones = Tensor._wrap(np.ones((h.shape[0], 1), dtype=h.dtype))
    return cat([h, ones], dim=1)


class TensorFusion(Fusion):
    """Tensor fusion (Zadeh et al., 2017): the outer product of the z_m, flattened.

    h_m = W_m x_m (a projection to ``dim``, keeping the product small),
    z_m = [h_m; 1],  Z = z_1 ⊗ z_2 ⊗ ... ⊗ z_M  ->  (B, Π_m (dim + 1)).

    Missing modality: h_m is a learned "missing" vector (so the interaction terms of the
    missing modality become learned constants rather than zeros). out_features = (dim+1)^M.

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = TensorFusion({"image": 4, "text": 3}, dim=2)
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 9), 9)
    """

    def __init__(self, in_features, dim: int = 16):
        super().__init__(in_features)
        self.dim = dim
        self.proj = nn.ModuleList([nn.Linear(d, dim) for d in self.in_features])
        self.missing = MissingEmbedding([dim] * len(self.in_features))
        self.out_features = (dim + 1) ** len(self.in_features)

    def balanced_init(self) -> None:
        """Start near additive fusion, so no modality's noise silences another's signal.

        Each projection's weight is scaled by 1/√dim: with h_m of variance v, the dim^M
        product terms of Z carry about (dim v)^M of the head's input variance against
        M dim v for the unimodal terms h_m ⊗ 1; v ≈ v_0 / dim makes the unimodal (additive)
        terms dominate at the start, while every modality still changes the output.
        (``tinymm.train.balance``; issue 17.)
        """
        for proj in self.proj:
            proj.weight.data *= np.float32(1.0 / math.sqrt(self.dim))
            proj.bias.data[...] = 0.0

    def fuse(self, features, mask):
        batch = mask.shape[0]
        z = None
        for j, f in enumerate(features):
            h = None if f is None else self.proj[j](f)
            zj = _append_one(self.missing.fill(j, h, mask[:, j]))  # (B, dim + 1)
            if z is None:
                z = zj
            else:  # (B, P, 1) * (B, 1, dim + 1) -> (B, P * (dim + 1))
                z = (z.reshape(batch, -1, 1) * zj.reshape(batch, 1, -1)).reshape(batch, -1)
        return z


class LowRankFusion(Fusion):
    """Low-rank multimodal fusion (Liu et al., 2018): tensor fusion's linear layer, factorised.

    The weight of a linear layer on Z = ⊗ z_m is written as a sum of ``rank`` outer products
    of per-modality factors W_m^(i) of shape (D_m + 1, dim), which gives without forming Z:

        f_m^(i) = z_m W_m^(i),   h = Σ_i λ_i Π_m f_m^(i) + b          (B, dim)

    The factors of modality m are one Parameter ``factor_m`` (D_m + 1, rank * dim). The row
    that multiplies the appended 1 starts at 1, so f_m = 1 + (small terms) and the product
    starts close to additive fusion (with a zero-mean start, each factor's gradient is
    scaled by the near-zero product of the others and three-modality models barely train).
    Being multiplicative, it is the most fragile method here: one modality's early noise
    scales every other's signal, and training can silence a ReLU encoder for good (seen on
    shapes_captions for some seeds; see benchmarks/FUSION.md).
    Missing modality: x_m is a learned "missing" vector. out_features = dim.

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = LowRankFusion({"image": 4, "text": 3}, dim=5, rank=2)
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 5), 5)
    """

    def __init__(self, in_features, dim: int = 64, rank: int = 4):
        super().__init__(in_features)
        self.dim, self.rank = dim, rank
        self.missing = MissingEmbedding(self.in_features)
        for j, d in enumerate(self.in_features):
            w = nn.Parameter(np.empty((d + 1, rank * dim), np.float32))
            nn.init.normal_(w, 0.0, 1.0 / math.sqrt(d + 1))
            w.data[d] = 1.0  # f_m = 1 + (small terms): see the class docstring
            self.register_parameter(f"factor_{j}", w)
        self.rank_weight = nn.Parameter(np.empty((1, rank), np.float32))
        nn.init.uniform_(self.rank_weight, -1.0 / math.sqrt(rank), 1.0 / math.sqrt(rank))
        self.bias = nn.Parameter(np.zeros(dim, np.float32))
        self.out_features = dim

    def balanced_init(self) -> None:
        """Rank weights λ_i = 1/rank (instead of uniform in ±1/√rank), so the rank
        components, each ≈ 1 + Σ_m (terms of modality m) at the start, add up instead of
        cancelling: every modality starts with the same additive path to the output.
        (``tinymm.train.balance``; issue 17.)"""
        self.rank_weight.data[...] = 1.0 / self.rank
        self.bias.data[...] = 0.0

    def fuse(self, features, mask):
        batch = mask.shape[0]
        prod = None
        for j, f in enumerate(features):
            z = _append_one(self.missing.fill(j, f, mask[:, j]))           # (B, D_m + 1)
            fm = (z @ getattr(self, f"factor_{j}")).reshape(batch, self.rank, self.dim)
            prod = fm if prod is None else prod * fm                       # (B, rank, dim)
        return (self.rank_weight @ prod).reshape(batch, self.dim) + self.bias
