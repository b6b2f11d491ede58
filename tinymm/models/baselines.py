"""Baselines as the field reports them: unimodal models trained alone, and early fusion.

    from tinymm.models import BASELINES, build_baseline, build_unimodal, build_early
    image_only = build_unimodal(dataset, "image")          # trained by the same Trainer
    early = build_early(dataset)

Both are ``MultimodalClassifier``s, so ``Trainer``, ``ablation``, checkpoints and the
batches of the data set (with their full-width "mask") work unchanged.

- **unimodal** (one model per modality): that modality's encoder (the one ``build_model``
  would pick) and the MLP head, nothing else. It reads no other modality (their arrays are
  never touched); it is *trained* alone, unlike the ablation rows of a fused model, which
  are the fused model evaluated with inputs masked. A sample missing the modality gets the
  learned "missing" vector, i.e. a constant prediction.
- **early** fusion: the modalities are joined at the *input* level, before any learned
  per-modality encoder: every float modality is flattened as it is (pixels, spectrogram
  bins, video frames: (B, Π shape)), every token modality is looked up in an embedding
  table and flattened position by position ((B, L·embed_dim); a token id has no numeric
  value to concatenate, and a per-token lookup is what a one-hot input times the first
  shared layer amounts to, with the table shared over positions). These raw vectors are
  concatenated and one shared MLP, Linear -> ReLU -> Linear -> ReLU -> Linear, maps them to
  the classes: the first non-linearity already sees every modality. A missing modality's
  input slot holds a learned "missing" input vector (``ConcatFusion``'s rule).

``BASELINES`` names them for sweeps: ``build_baseline(dataset, "early")`` and
``build_baseline(dataset, "unimodal", modality="text")`` (one run per modality).
``model_names(dataset)`` lists one string per model of a sweep (the fusions, "early",
"unimodal:<modality>") and ``build_named(dataset, name)`` builds any of them.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import nn
from ..tensor import Tensor
from .classifier import MultimodalClassifier
from .factory import DEFAULTS, build_model
from .fusion import ConcatFusion

BASELINES = ("unimodal", "early")


def build_unimodal(dataset, modality: str, text_encoder: str = "lstm", *,
                   modality_dropout: float = 0.0, **encoder_options) -> MultimodalClassifier:
    """A model of ``modality``'s encoder and the MLP head only (no other modality is read).

    The encoder and head are ``build_model``'s (sizes from ``DEFAULTS``, overridable by
    keyword); ``model.modalities == (modality,)``, ``model.mask_modalities`` the data set's.

    >>> from tinymm.data import get_dataset
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_unimodal(ds, "text")
    >>> batch = ds.get_batch(np.arange(4))          # holds "image" too: it is never read
    >>> model.modalities, model(batch).shape
    (('text',), (4, 12))
    """
    if modality not in tuple(dataset.modalities):
        raise ValueError(f"build_unimodal: modality must be one of {tuple(dataset.modalities)}, "
                         f"got {modality!r}")
    return build_model(dataset, "concat", text_encoder, modalities=(modality,),
                       modality_dropout=modality_dropout, **encoder_options)


class FlatInput(nn.Module):
    """A float modality (B, *shape) -> (B, Π shape), no parameters: the raw input, flattened."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.out_features = int(np.prod(self.shape))

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"FlatInput: expected inputs of shape (B, {self.shape}), "
                             f"got {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class TokenInput(nn.Module):
    """Token ids (B, L) -> embedding per position, flattened (B, L·embed_dim).

    Padding ids map to the zero vector (``padding_idx``), so a pad carries no input.
    """

    def __init__(self, vocab_size: int, length: int, embed_dim: int = 8,
                 padding_idx: int | None = 0):
        super().__init__()
        from ..nn.sparse import Embedding

        self.length = int(length)
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.out_features = self.length * embed_dim

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.ndim != 2 or tokens.shape[1] != self.length:
            raise ValueError(f"TokenInput: expected token ids of shape (B, {self.length}), "
                             f"got {tuple(tokens.shape)}")
        return self.embedding(tokens).reshape(tokens.shape[0], -1)


def build_early(dataset, *, hidden: int = 128, embed_dim: int = 8, dropout: float = 0.0,
                modality_dropout: float = 0.3) -> MultimodalClassifier:
    """Early fusion: raw inputs (tokens embedded) concatenated, then one shared MLP.

    Float modality (B, *shape) -> flattened; token modality (B, L) -> (B, L·embed_dim);
    concat (B, Σ) -> Linear(hidden) -> ReLU -> Linear(hidden) -> ReLU [-> Dropout]
    -> Linear(num_classes). See the module docstring for what "early" means here.

    >>> from tinymm.data import get_dataset
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> model = build_early(ds, hidden=16)
    >>> model(ds.get_batch(np.arange(4))).shape, model.fusion.in_features   # 1·16·16, 8·8
    ((4, 12), (256, 64))
    """
    for name, v in (("hidden", hidden), ("embed_dim", embed_dim)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"build_early: {name} must be a positive int, got {v!r}")
    dtypes = getattr(dataset, "dtypes", None) or {m: np.float32 for m in dataset.modalities}
    inputs: dict[str, nn.Module] = {}
    for m in dataset.modalities:
        shape, kind = tuple(dataset.shapes[m]), np.dtype(dtypes[m]).kind
        if kind in "iu" and len(shape) == 1:
            if dataset.vocab_size is None:
                raise ValueError(f"build_early: modality {m!r} holds token ids but the dataset "
                                 "has no vocab_size")
            inputs[m] = TokenInput(dataset.vocab_size, shape[0], embed_dim)
        elif kind == "f":
            inputs[m] = FlatInput(shape)
        else:
            raise ValueError(f"build_early: no input layer for modality {m!r} of shape {shape} "
                             f"and dtype {np.dtype(dtypes[m])}")
    fusion = ConcatFusion({m: e.out_features for m, e in inputs.items()})
    layers: list[nn.Module] = [nn.Linear(fusion.out_features, hidden), nn.ReLU(),
                               nn.Linear(hidden, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, dataset.num_classes))
    return MultimodalClassifier(inputs, fusion, nn.Sequential(*layers),
                                modality_dropout=modality_dropout)


def build_baseline(dataset, name: str, *, modality: str | None = None,
                   **options) -> MultimodalClassifier:
    """``BASELINES`` by name: "early" (``build_early``) or "unimodal" (``build_unimodal``,
    which needs ``modality``). ``options`` go to that builder.

    >>> from tinymm.data import get_dataset
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> build_baseline(ds, "unimodal", modality="image").modalities
    ('image',)
    >>> build_baseline(ds, "early").modalities
    ('image', 'text')
    """
    if name == "early":
        if modality is not None:
            raise ValueError("build_baseline: 'early' uses every modality; do not pass modality")
        return build_early(dataset, **options)
    if name == "unimodal":
        if modality is None:
            raise ValueError(f"build_baseline: 'unimodal' needs modality=, one of "
                             f"{tuple(dataset.modalities)}")
        return build_unimodal(dataset, modality, **options)
    raise ValueError(f"build_baseline: name must be one of {BASELINES}, got {name!r}")


def model_names(dataset) -> tuple[str, ...]:
    """One name per model a sweep over ``dataset`` runs: every fusion in ``FUSIONS``, then
    "early" and "unimodal:<modality>" for each of its modalities (see ``build_named``).

    >>> from tinymm.data import get_dataset
    >>> model_names(get_dataset("shapes_captions", size=16))[-3:]
    ('early', 'unimodal:image', 'unimodal:text')
    """
    from .factory import FUSIONS

    return (*FUSIONS, "early", *(f"unimodal:{m}" for m in dataset.modalities))


def build_named(dataset, name: str, text_encoder: str = "lstm", *,
                modality_dropout: float = 0.3, **options) -> MultimodalClassifier:
    """The model called ``name`` in ``model_names``: a fusion name (or alias) builds
    ``build_model(dataset, name, text_encoder, ...)``; "early" ``build_early``;
    "unimodal:<modality>" ``build_unimodal`` (trained without modality dropout: it has one
    modality to drop). ``options`` go to that builder, except that early fusion, which has no
    encoders, ignores the encoder options it does not take (``image_activation``, ...), so one
    set of options serves every name of a sweep.

    >>> from tinymm.data import get_dataset
    >>> _ = tm.manual_seed(0)
    >>> ds = get_dataset("shapes_captions", size=16)
    >>> build_named(ds, "unimodal:image").modalities, type(build_named(ds, "gated").fusion).__name__
    (('image',), 'GatedFusion')
    """
    if not isinstance(name, str):
        raise TypeError(f"build_named: name must be a str, got {type(name).__name__}")
    if name == "early":
        takes = inspect.signature(build_early).parameters
        options = {k: v for k, v in options.items() if k in takes or k not in DEFAULTS}
        return build_early(dataset, modality_dropout=modality_dropout, **options)
    if name.startswith("unimodal:"):
        return build_unimodal(dataset, name.split(":", 1)[1], text_encoder, **options)
    from .factory import FUSION_CHOICES

    if name not in FUSION_CHOICES:
        raise ValueError(f"build_named: name must be one of {model_names(dataset)}, "
                         f"got {name!r}")
    return build_model(dataset, name, text_encoder, modality_dropout=modality_dropout, **options)


__all__ = ["BASELINES", "build_baseline", "build_unimodal", "build_early", "FlatInput",
           "TokenInput", "model_names", "build_named"]
