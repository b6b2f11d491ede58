"""``MultimodalClassifier``: per-modality encoders -> a fusion module -> a head -> logits."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import nn
from ..random import generator
from ..tensor import Tensor
from .fusion import Fusion, as_mask


def _as_input(name: str, x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f":  # float64 stays float64 (a .double() model), others -> float32
        keep = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float32
        return Tensor._wrap(np.ascontiguousarray(arr, dtype=keep))
    if arr.dtype.kind in "iu":
        return Tensor._wrap(np.ascontiguousarray(arr, dtype=np.int64))
    raise TypeError(f"MultimodalClassifier: input {name!r} must be a float or integer array, "
                    f"got dtype {arr.dtype}")


def _blank_missing(x: Tensor, present: np.ndarray) -> Tensor:
    """Zero the rows of absent samples before encoding.

    Their encodings are replaced by the fusion anyway; blanking keeps NaN or garbage in a
    missing modality's array from reaching the encoder's weight gradients (0 * NaN = NaN).
    """
    if present.all():
        return x
    data = np.where(present.reshape((-1,) + (1,) * (x.ndim - 1)), x.data, 0)
    return Tensor._wrap(data.astype(x.dtype, copy=False))


def modality_dropout_mask(mask: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Drop each present modality with probability ``p``, keeping at least one per sample.

    mask (B, M) bool -> (B, M) bool. A sample whose draws would drop every present
    modality keeps one of them, chosen uniformly.

    >>> mask = np.array([[True, True], [True, False], [True, True]])
    >>> keep = modality_dropout_mask(mask, 0.9, np.random.default_rng(0))
    >>> keep.shape, bool(keep.any(axis=1).all()), bool((keep <= mask).all())
    ((3, 2), True, True)
    """
    keep = mask & (rng.random(mask.shape) >= p)
    empty = ~keep.any(axis=1) & mask.any(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty)
        scores = rng.random((rows.size, mask.shape[1])) * mask[rows]  # only present ones win
        keep[rows, scores.argmax(axis=1)] = True
    return keep


class MultimodalClassifier(nn.Module):
    """logits = head(fusion([encoder_m(x_m) for m in modalities], mask)).

    ``encoders``: dict modality -> encoder Module (each with ``out_features``); its order is
    the order of the mask's columns. ``fusion``: a Fusion built for those sizes. ``head``:
    maps the fused vector to class scores (``None`` -> identity, required when the fusion
    already produces logits, as late fusion does).

    ``forward(inputs, mask=None)``: ``inputs`` a dict (e.g. a DataLoader batch) holding one
    array or Tensor per modality (extra keys such as "label" are ignored; a modality left
    out of the dict counts as missing in every sample); ``mask`` (B, M) bool, default
    ``inputs["mask"]`` if present, else all present. A modality marked absent
    cannot change the output (the fusion method decides what stands in for it, see
    ``tinymm.models.fusion``); a modality absent from the whole batch is not even encoded.

    ``modality_dropout``: in training mode, each present modality is dropped with this
    probability (at least one kept per sample), which teaches the model to work from any
    subset and so makes the modality ablation meaningful.

    Sequence fusions (``fusion.uses_sequences``, e.g. ``MulTFusion``) get each encoder's
    ``sequence(x)`` — a (B, T, seq_features) Tensor and its (B, T) valid mask — instead of the
    pooled vector; ``encode`` still gives the pooled vectors, ``encode_sequences`` the pairs.

    ``mask_modalities``: the modalities that the columns of ``inputs["mask"]`` stand for, when
    the model uses only some of a data set's modalities (a unimodal baseline); default the
    model's own ``modalities``. The model's columns are picked out of such a mask by name.

    >>> from tinymm.models import ConcatFusion, ImageEncoder, TextEncoder, mlp_head
    >>> _ = tm.manual_seed(0)
    >>> encoders = {"image": ImageEncoder(1, channels=(4,), image_size=8),   # -> 36
    ...             "text": TextEncoder(vocab_size=20, embed_dim=8, hidden_size=6)}  # -> 6
    >>> model = MultimodalClassifier(encoders, ConcatFusion({"image": 36, "text": 6}),
    ...                              mlp_head(42, 8, num_classes=3))
    >>> batch = {"image": np.zeros((2, 1, 8, 8), np.float32),
    ...          "text": np.array([[3, 4, 0], [5, 0, 0]]),
    ...          "mask": np.array([[True, True], [True, False]])}   # sample 1: no text
    >>> model(batch).shape, model.modalities
    ((2, 3), ('image', 'text'))
    """

    def __init__(self, encoders: Mapping[str, nn.Module], fusion: Fusion,
                 head: nn.Module | None = None, modality_dropout: float = 0.0,
                 mask_modalities=None):
        super().__init__()
        if not isinstance(encoders, Mapping) or not encoders:
            raise TypeError("MultimodalClassifier: encoders must be a non-empty dict of "
                            "modality -> Module")
        if not isinstance(fusion, Fusion):
            raise TypeError(f"MultimodalClassifier: fusion must be a Fusion module, got "
                            f"{type(fusion).__name__}")
        if len(fusion.in_features) != len(encoders):
            raise ValueError(f"MultimodalClassifier: fusion expects {len(fusion.in_features)} "
                             f"modalities, got {len(encoders)} encoders")
        sequences = bool(getattr(fusion, "uses_sequences", False))
        for (name, enc), size in zip(encoders.items(), fusion.in_features):
            if sequences and not callable(getattr(enc, "sequence", None)):
                raise TypeError(f"MultimodalClassifier: {type(fusion).__name__} reads sequences "
                                f"but encoder {name!r} ({type(enc).__name__}) has no sequence()")
            out = getattr(enc, "seq_features" if sequences else "out_features", None)
            if out is not None and out != size:
                raise ValueError(f"MultimodalClassifier: encoder {name!r} gives {out} features "
                                 f"but the fusion expects {size}")
        if fusion.produces_logits and head is not None and not isinstance(head, nn.Identity):
            raise ValueError(f"MultimodalClassifier: {type(fusion).__name__} already produces "
                             "class scores; pass head=None")
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"MultimodalClassifier: modality_dropout must be in [0, 1), "
                             f"got {modality_dropout}")
        self.modalities = tuple(encoders)
        self.mask_modalities = self.modalities if mask_modalities is None \
            else tuple(str(m) for m in mask_modalities)
        absent = [m for m in self.modalities if m not in self.mask_modalities]
        if absent:
            raise ValueError(f"MultimodalClassifier: mask_modalities {self.mask_modalities} "
                             f"lack the model's modalities {absent}")
        self.encoders = nn.ModuleDict(dict(encoders))
        self.fusion = fusion
        self.head = head if head is not None else nn.Identity()
        self.modality_dropout = float(modality_dropout)

    def presence(self, inputs: Mapping, mask=None) -> np.ndarray:
        """The (B, M) presence mask this forward pass would use (before modality dropout).

        ``mask`` (default ``inputs["mask"]``, else all present), with the columns of
        modalities that ``inputs`` does not hold at all switched off.
        """
        given = [m for m in self.modalities if m in inputs]
        if not given:
            raise KeyError(f"MultimodalClassifier: inputs hold none of the modalities "
                           f"{self.modalities}; got keys {sorted(inputs)}")
        batch = int(np.shape(inputs[given[0]])[0])
        if mask is None:
            mask = inputs.get("mask")
        if mask is not None and self.mask_modalities != self.modalities:
            arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
            if arr.ndim == 2 and arr.shape[1] == len(self.mask_modalities) != len(self.modalities):
                mask = arr[:, [self.mask_modalities.index(m) for m in self.modalities]]
        m = as_mask("MultimodalClassifier", mask, batch, len(self.modalities))
        if len(given) < len(self.modalities):
            m = m & np.array([name in inputs for name in self.modalities])
        return m

    def encode(self, inputs: Mapping, mask: np.ndarray) -> list[Tensor | None]:
        """Per-modality features (None for a modality absent from the whole batch)."""
        feats: list[Tensor | None] = []
        for j, name in enumerate(self.modalities):
            present = mask[:, j]
            if not present.any():
                feats.append(None)
                continue
            x = _blank_missing(_as_input(name, inputs[name]), present)
            feats.append(self.encoders[name](x))
        return feats

    def encode_sequences(self, inputs: Mapping,
                         mask: np.ndarray) -> list[tuple[Tensor, np.ndarray] | None]:
        """Per-modality (sequence (B, T, D), valid (B, T)) pairs, None as in ``encode``."""
        out: list[tuple[Tensor, np.ndarray] | None] = []
        for j, name in enumerate(self.modalities):
            present = mask[:, j]
            if not present.any():
                out.append(None)
                continue
            x = _blank_missing(_as_input(name, inputs[name]), present)
            out.append(self.encoders[name].sequence(x))
        return out

    def forward(self, inputs: Mapping, mask=None) -> Tensor:
        if not isinstance(inputs, Mapping):
            raise TypeError(f"MultimodalClassifier: inputs must be a dict of modality arrays, "
                            f"got {type(inputs).__name__}")
        m = self.presence(inputs, mask)
        if self.training and self.modality_dropout > 0:
            m = modality_dropout_mask(m, self.modality_dropout, generator())
        return self.head(self.fusion(self.fusion_inputs(inputs, m), m))

    def fusion_inputs(self, inputs: Mapping, mask: np.ndarray) -> list:
        """What the fusion takes: ``encode_sequences`` for a sequence fusion (``mult``), else
        ``encode``. ``model.head(model.fusion(model.fusion_inputs(x, m), m))`` is the forward
        pass without modality dropout; masking other subsets reuses the same encodings."""
        if getattr(self.fusion, "uses_sequences", False):
            return self.encode_sequences(inputs, mask)
        return self.encode(inputs, mask)

    def extra_repr(self) -> str:
        extra = "" if self.mask_modalities == self.modalities \
            else f", mask_modalities={self.mask_modalities}"
        return f"modalities={self.modalities}, modality_dropout={self.modality_dropout}{extra}"
