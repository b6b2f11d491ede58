"""The built-in data sets by name: list them, read their descriptions and ceilings, build them.

>>> from tinymm.data import list_datasets, get_dataset
>>> "shapes_captions" in list_datasets()
True
>>> train, val = get_dataset("shapes_captions", split=("train", "val"), size=(200, 50))
>>> train.modalities, train.num_classes, len(val)
(('image', 'text'), 12, 50)
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from . import _synth
from ._synth import SPLITS
from .dataset import MultimodalDataset

_MODULES = {
    "shapes_captions": "tinymm.data.shapes_captions",
    "sentiment_prosody": "tinymm.data.sentiment_prosody",
    "spoken_digits": "tinymm.data.spoken_digits",
    "video_events": "tinymm.data.video_events",
    "digits_captions": "tinymm.data.digits_captions",   # optional: needs scikit-learn
}


def _module(fn: str, name) -> ModuleType:
    if not isinstance(name, str):
        raise TypeError(f"{fn}: name must be a str, got {type(name).__name__}")
    if name not in _MODULES:
        raise ValueError(f"{fn}: unknown dataset {name!r}; built-in datasets are "
                         f"{sorted(_MODULES)}")
    return importlib.import_module(_MODULES[name])


def _available(module: ModuleType) -> bool:
    return getattr(module, "available", lambda: True)()


def list_datasets(include_unavailable: bool = False) -> list[str]:
    """Names of the built-in data sets, sorted; those whose optional dependency is missing
    (digits_captions without scikit-learn) only with ``include_unavailable=True``.

    >>> list_datasets()[:2]
    ['sentiment_prosody', 'shapes_captions']
    >>> set(list_datasets()) <= set(list_datasets(include_unavailable=True))
    True
    """
    return sorted(name for name in _MODULES
                  if include_unavailable or _available(_module("list_datasets", name)))


def dataset_info(name: str, **options) -> dict:
    """What a data set is, without building it: modalities, classes, default split sizes,
    ceilings for ``options`` (full, additive = late fusion's, and their kinds: "exact" or
    "upper bound") and whether it can be built here.

    >>> info = dataset_info("shapes_captions")
    >>> info["modalities"], info["num_classes"], info["default_sizes"]["train"]
    (('image', 'text'), 12, 3000)
    >>> round(info["ceilings"]["image+text"], 4), info["available"]
    (0.9159, True)
    """
    module = _module("dataset_info", name)
    return {
        "name": name,
        "summary": module.__doc__.strip().splitlines()[0],
        "modalities": module.MODALITIES,
        "num_classes": module.NUM_CLASSES,
        "class_names": module.CLASS_NAMES,
        "default_sizes": dict(module.DEFAULT_SIZES),
        "options": dict(module.DEFAULTS, **options),
        "ceilings": module.ceilings(**options),
        "additive_ceilings": module.additive_ceilings(**options),
        "ceiling_kinds": _synth.ceiling_kinds(module.MODALITIES, module.EXACT_MODALITIES),
        "available": _available(module),
    }


def describe_dataset(name: str, **options) -> str:
    """The data set's documentation and its ceilings table for ``options``.

    >>> text = describe_dataset("shapes_captions")
    >>> text.splitlines()[0]
    'shapes_captions: image + text recognition of coloured shapes from grey photos and captions.'
    """
    return _module("describe_dataset", name).describe(**options)


def get_dataset(name: str, split: str | Sequence[str] = "train", seed: int = 0,
                size: int | Sequence[int | None] | None = None, **options):
    """Build a built-in data set.

    name: one of ``list_datasets()``. split: "train", "val" or "test" (each generated from its
    own stream, so splits never share draws), or a sequence of them to get a tuple of
    datasets. seed: int; the same (name, split, seed, size, options) gives the same arrays.
    size: samples per split (default: the data set's DEFAULT_SIZES, ~3000 train); one int, or
    one per split. options: data-set specific knobs (noise levels, erasure probabilities,
    ``audio_format``...), see ``describe_dataset(name)``.
    Returns a ``MultimodalDataset`` (or a tuple of them).

    >>> ds = get_dataset("shapes_captions", size=16)
    >>> len(ds), ds.modalities, ds.shapes
    (16, ('image', 'text'), {'image': (1, 16, 16), 'text': (8,)})
    """
    fn = "get_dataset"
    module = _module(fn, name)
    if isinstance(split, str):
        return _build(fn, module, split, seed, size, options)
    if not isinstance(split, Sequence) or not split:
        raise TypeError(f"{fn}: split must be a str or a non-empty sequence of str, "
                        f"got {split!r}")
    sizes = size if isinstance(size, Sequence) else [size] * len(split)
    if len(sizes) != len(split):
        raise ValueError(f"{fn}: got {len(split)} splits but {len(sizes)} sizes")
    return tuple(_build(fn, module, s, seed, z, options) for s, z in zip(split, sizes))


def _build(fn: str, module: ModuleType, split, seed, size, options) -> MultimodalDataset:
    if split not in SPLITS:
        raise ValueError(f"{fn}: split must be one of {SPLITS}, got {split!r}")
    return module.build(size=size, seed=seed, split=split, **options)
