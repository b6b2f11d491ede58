"""Fusion modules: per-modality feature vectors + a presence mask -> one fused vector.

Every fusion method has the same interface, so they are interchangeable::

    fusion = ConcatFusion({"image": 128, "text": 64})
    fused = fusion([h_image, h_text], mask)       # or fusion({"image": ..., "text": ...}, mask)
    fused.shape == (B, fusion.out_features)

- ``features``: a list (in the order of ``in_features``) or a dict by modality name of
  (B, D_m) Tensors. An entry may be ``None`` when that modality is missing from every
  sample of the batch (the classifier then skips its encoder).
- ``mask``: (B, M) bool (ndarray or Tensor), True where the modality is present; ``None``
  means all present.

Missing modalities never leak: the fused vector of a sample does not depend on the features
of a modality it lacks. How each method fills the gap is part of its contract (see each
class); where a value must stand in for a missing vector it is a *learned* "missing"
embedding per modality, not zeros, so the model can tell "absent" from "all features 0".

This file holds the base class and the simple methods (concat, sum, gated, late);
``fusion_tensor.py`` holds tensor and low-rank tensor fusion, ``fusion_attention.py`` the
cross-modal Transformer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import functional as F
from .. import nn
from ..ops.shape import cat, stack, where
from ..tensor import Tensor

NEG_INF = -1e9  # additive mask for softmax logits of missing modalities (exp underflows to 0)


def _names_and_sizes(fn: str, in_features) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if isinstance(in_features, Mapping):
        names, sizes = tuple(str(k) for k in in_features), tuple(in_features.values())
    elif isinstance(in_features, Sequence) and not isinstance(in_features, str):
        sizes = tuple(in_features)
        names = tuple(f"m{i}" for i in range(len(sizes)))
    else:
        raise TypeError(f"{fn}: in_features must be a dict of modality -> size or a list of "
                        f"sizes, got {type(in_features).__name__}")
    if len(sizes) < 1:
        raise ValueError(f"{fn}: in_features must name at least one modality")
    for name, size in zip(names, sizes):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{fn}: in_features[{name!r}] must be a positive int, got {size!r}")
    return names, tuple(int(s) for s in sizes)


def as_mask(fn: str, mask, batch: int, n_modalities: int) -> np.ndarray:
    """A (B, M) bool ndarray from ``mask`` (None -> all present)."""
    if mask is None:
        return np.ones((batch, n_modalities), dtype=bool)
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.shape != (batch, n_modalities):
        raise ValueError(f"{fn}: mask must have shape (B, M) = {(batch, n_modalities)}, "
                         f"got {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
            raise TypeError(f"{fn}: mask must be bool (or 0/1), got dtype {arr.dtype}")
        arr = arr.astype(bool)
    return arr


class Fusion(nn.Module):
    """Base class: holds the modality names and sizes and checks the inputs.

    Subclasses implement ``fuse(features, mask)`` with ``features`` a list of (B, D_m)
    Tensors or None and ``mask`` a (B, M) bool ndarray, and set ``out_features``.
    ``produces_logits`` is True for methods whose output already is class scores
    (late fusion); the classifier's head must then be the identity.

    >>> class MaxFusion(Fusion):
    ...     def __init__(self, in_features):
    ...         super().__init__(in_features)
    ...         self.out_features = self.in_features[0]
    ...     def fuse(self, features, mask):
    ...         return tm.stack(features, dim=1).amax(dim=1)
    >>> fusion = MaxFusion([3, 3])
    >>> fusion([tm.ones(2, 3), tm.zeros(2, 3)]).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    produces_logits = False

    def __init__(self, in_features: Mapping[str, int] | Sequence[int]):
        super().__init__()
        self.modalities, self.in_features = _names_and_sizes(type(self).__name__, in_features)
        self.out_features = 0

    def forward(self, features, mask=None) -> Tensor:
        feats = self._as_list(features)
        batch = next((f.shape[0] for f in feats if f is not None), None)
        if batch is None:
            if mask is None:
                raise ValueError(f"{type(self).__name__}: every feature is None; pass a mask "
                                 "to give the batch size")
            batch = np.shape(mask.data if isinstance(mask, Tensor) else mask)[0]
        m = as_mask(type(self).__name__, mask, batch, len(self.in_features))
        for j, f in enumerate(feats):
            if f is None and m[:, j].any():
                raise ValueError(f"{type(self).__name__}: features of {self.modalities[j]!r} "
                                 "are None but the mask marks it present in some samples")
        return self.fuse(feats, m)

    def fuse(self, features: list[Tensor | None], mask: np.ndarray) -> Tensor:
        raise NotImplementedError

    def _ordered(self, features, what: str = "Tensors", entries: str = "feature tensors") -> list:
        """``features`` (a list in modality order, or a dict by name) as a list in modality order."""
        fn = type(self).__name__
        if isinstance(features, Mapping):
            unknown = set(features) - set(self.modalities)
            if unknown:
                raise ValueError(f"{fn}: unknown modalities {sorted(unknown)}; expected "
                                 f"{self.modalities}")
            feats = [features.get(name) for name in self.modalities]
        elif isinstance(features, (list, tuple)):
            feats = list(features)
        else:
            raise TypeError(f"{fn}: features must be a list or dict of {what}, "
                            f"got {type(features).__name__}")
        if len(feats) != len(self.in_features):
            raise ValueError(f"{fn}: expected {len(self.in_features)} {entries} "
                             f"({self.modalities}), got {len(feats)}")
        return feats

    def _as_list(self, features) -> list[Tensor | None]:
        fn = type(self).__name__
        feats = self._ordered(features)
        batch = None
        for name, size, f in zip(self.modalities, self.in_features, feats):
            if f is None:
                continue
            if not isinstance(f, Tensor):
                raise TypeError(f"{fn}: features of {name!r} must be a Tensor, "
                                f"got {type(f).__name__}")
            if f.ndim != 2 or f.shape[1] != size:
                raise ValueError(f"{fn}: features of {name!r} must have shape (B, {size}), "
                                 f"got {f.shape}")
            if batch is not None and f.shape[0] != batch:
                raise ValueError(f"{fn}: features disagree on the batch size "
                                 f"({batch} and {f.shape[0]} for {name!r})")
            batch = f.shape[0]
        return feats

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{n}={s}" for n, s in zip(self.modalities, self.in_features))
        return f"{sizes} -> {self.out_features}"


class MissingEmbedding(nn.Module):
    """One learned vector per modality that stands in for that modality when it is missing.

    ``fill(j, x, present)`` takes x (B, D_j) or None and a (B,) bool mask, and returns (B, D_j):
    x where present, the learned vector of modality j elsewhere.

    >>> missing = MissingEmbedding([4, 3])
    >>> x = tm.zeros(2, 3)
    >>> out = missing.fill(1, x, np.array([True, False]))
    >>> out.shape, out.tolist()[0], bool((out.data[1] == missing.vector(1).data).all())
    ((2, 3), [0.0, 0.0, 0.0], True)
    """

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.sizes = tuple(sizes)
        for j, d in enumerate(self.sizes):
            p = nn.Parameter(np.empty(d, np.float32))
            nn.init.normal_(p, 0.0, 0.1)
            self.register_parameter(f"missing_{j}", p)

    def vector(self, j: int) -> nn.Parameter:
        return getattr(self, f"missing_{j}")

    def fill(self, j: int, x: Tensor | None, present: np.ndarray) -> Tensor:
        """x where the modality is present, the learned vector elsewhere: (B, D_j)."""
        emb = self.vector(j)
        if x is None:
            return emb.reshape(1, -1).expand(present.shape[0], self.sizes[j])
        if present.all():
            return x
        return where(present[:, None], x, emb)


# ----------------------------------------------------------------------------- methods
class ConcatFusion(Fusion):
    """The seed's fusion: concatenate the feature vectors, h = [h_1; h_2; ...; h_M].

    Missing modality: its slot holds a learned "missing" vector of the same size.
    out_features = Σ_m D_m.

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = ConcatFusion({"image": 4, "text": 3})
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 7), 7)
    """

    def __init__(self, in_features):
        super().__init__(in_features)
        self.missing = MissingEmbedding(self.in_features)
        self.out_features = sum(self.in_features)

    def fuse(self, features, mask):
        parts = [self.missing.fill(j, f, mask[:, j]) for j, f in enumerate(features)]
        return parts[0] if len(parts) == 1 else cat(parts, dim=1)


class SumFusion(Fusion):
    """The seed's prose ("added"): project each modality to one size and add.

    h = Σ_{m present} W_m h_m + b_m, divided by the number of present modalities (a masked
    mean, so the scale does not depend on how many are present). Missing modality: left
    out of the sum. No modality present: a learned "empty" vector. out_features = dim.

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = SumFusion({"image": 4, "text": 3}, dim=5)
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 5), 5)
    """

    def __init__(self, in_features, dim: int = 128):
        super().__init__(in_features)
        self.proj = nn.ModuleList([nn.Linear(d, dim) for d in self.in_features])
        self.empty = nn.Parameter(np.zeros(dim, np.float32))
        nn.init.normal_(self.empty, 0.0, 0.1)
        self.out_features = dim

    def fuse(self, features, mask):
        total = None
        for j, f in enumerate(features):
            if f is None:
                continue
            h = self.proj[j](f)
            if not mask[:, j].all():
                h = h * mask[:, j:j + 1].astype(h.dtype)
            total = h if total is None else total + h
        count = mask.sum(axis=1, keepdims=True).astype(np.float32)  # (B, 1)
        mean = total / np.maximum(count, 1.0)
        return mean if mask.any(axis=1).all() else where(count > 0, mean, self.empty)


class GatedFusion(Fusion):
    """Gated multimodal unit (Arevalo et al., 2017), for any number of modalities.

    h_m = tanh(W_m x_m),  a = W_z [x_1; ...; x_M] reshaped to (B, M, dim),
    g = softmax over m of a (per feature), h = Σ_m g_m ⊙ h_m.
    With two modalities this is the GMU's z h_1 + (1 - z) h_2 with z = σ(a_1 - a_2).

    Missing modality: its gate logit is -inf (its weight is exactly 0, the others renormalise)
    and the gate network reads its learned "missing" vector instead of x_m. No modality
    present: the gates are uniform over the missing vectors' projections. out_features = dim.

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = GatedFusion({"image": 4, "text": 3}, dim=5)
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 5), 5)
    """

    def __init__(self, in_features, dim: int = 128):
        super().__init__(in_features)
        self.dim = dim
        self.proj = nn.ModuleList([nn.Linear(d, dim) for d in self.in_features])
        self.gate = nn.Linear(sum(self.in_features), len(self.in_features) * dim)
        self.missing = MissingEmbedding(self.in_features)
        self.out_features = dim

    def fuse(self, features, mask):
        filled = [self.missing.fill(j, f, mask[:, j]) for j, f in enumerate(features)]
        batch, n_mod = mask.shape
        h = stack([self.proj[j](x).tanh() for j, x in enumerate(filled)], dim=1)  # (B, M, dim)
        gate_in = filled[0] if n_mod == 1 else cat(filled, dim=1)
        logits = self.gate(gate_in).reshape(batch, n_mod, self.dim)               # (B, M, dim)
        if not mask.all():
            bias = np.where(mask, 0.0, NEG_INF).astype(logits.dtype)[:, :, None]
            logits = logits + bias
        g = F.softmax(logits, dim=1)
        return (g * h).sum(dim=1)                                                # (B, dim)


class LateFusion(Fusion):
    """Late fusion: each modality predicts the class alone; the predictions are combined.

    Per modality a small MLP gives logits s_m; the fused output is the product of experts
    log p(y | present) = Σ_{m present} log_softmax(s_m) (+ const), which is Bayes-optimal
    when the modalities are conditionally independent given the label. Missing modality:
    left out, which is the same as a uniform prediction (it carries no information). No
    modality present: all-zero logits, the uniform prediction. Output: (B, num_classes)
    class scores, so the classifier's head must be the identity (``produces_logits``).

    >>> _ = tm.manual_seed(0)
    >>> x = [tm.randn(2, 4), tm.randn(2, 3)]                  # (B, D_m) per modality
    >>> mask = np.array([[True, True], [True, False]])       # sample 1 lacks "text"
    >>> fusion = LateFusion({"image": 4, "text": 3}, num_classes=3, hidden=8)
    >>> fusion(x, mask).shape, fusion.out_features
    ((2, 3), 3)
    >>> fusion.produces_logits
    True
    """

    produces_logits = True

    def __init__(self, in_features, num_classes: int, hidden: int = 64):
        super().__init__(in_features)
        self.num_classes = num_classes
        self.heads = nn.ModuleList([
            nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
            for d in self.in_features])
        self.out_features = num_classes

    def modality_logits(self, features) -> list[Tensor | None]:
        """Each modality's own class scores (None where the features are None)."""
        return [None if f is None else self.heads[j](f) for j, f in enumerate(features)]

    def fuse(self, features, mask):
        total = None
        for j, s in enumerate(self.modality_logits(features)):
            if s is None:
                continue
            logp = F.log_softmax(s, dim=1)
            if not mask[:, j].all():
                logp = logp * mask[:, j:j + 1].astype(logp.dtype)
            total = logp if total is None else total + logp
        if total is None:  # nothing present in the whole batch: the uniform prediction
            return Tensor._wrap(np.zeros((mask.shape[0], self.num_classes), np.float32))
        return total
