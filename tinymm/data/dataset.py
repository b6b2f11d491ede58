"""The dataset protocol: a sample is a dict of modality arrays plus a label (and a modality mask).

A *dataset* is anything with ``__len__`` and ``__getitem__(i) -> sample`` (PyTorch's map-style
protocol). A multimodal sample looks like::

    {"image": (1, 16, 16) float32, "text": (8,) int64, "label": 3, "mask": (2,) bool}

where ``mask[j]`` says whether modality ``dataset.modalities[j]`` is present. Array-backed
datasets also offer ``get_batch(indices) -> dict of stacked arrays``, which the DataLoader uses
to build a batch with one fancy-indexing operation per key instead of a Python loop.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from ._synth import CeilingTable

RESERVED_KEYS = ("label", "mask")


def _global_generator() -> np.random.Generator:
    # tinymm's global generator (reseeded by tm.manual_seed); imported late so that the data
    # layer imports even where the rest of the package is still being built
    from tinymm import random as tm_random

    return tm_random.generator()


def resolve_generator(fn: str, seed) -> np.random.Generator:
    """A numpy Generator from ``seed``: None -> tinymm's global generator, int -> a fresh one."""
    if seed is None:
        return _global_generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{fn}: seed must be an int, a numpy Generator or None, "
                        f"got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{fn}: seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def _check_index(fn: str, index, n: int) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{fn}: index must be an int, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{fn}: index {index} out of range for a dataset of length {n}")
    return int(index) % n


def _as_indices(fn: str, indices, n: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise TypeError(f"{fn}: indices must be a 1-D integer array, got dtype {idx.dtype} "
                        f"and shape {idx.shape}")
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{fn}: indices out of range for a dataset of length {n}")
    return idx.astype(np.int64, copy=False)


class Dataset:
    """Map-style dataset: ``__len__`` and ``__getitem__(i) -> sample``. Subclass and override.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return {"x": np.float32(i), "label": i * i}
    >>> ds = Squares()
    >>> len(ds), ds[3]["label"]
    (4, 9)
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int):
        raise NotImplementedError


class ArrayDataset(Dataset):
    """Tuple samples ``(a[i], b[i], ...)`` from equally long arrays (PyTorch's TensorDataset).

    >>> ds = ArrayDataset(np.zeros((4, 3)), np.arange(4))
    >>> len(ds), int(ds[1][1])
    (4, 1)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"ArrayDataset: arrays must share their first dimension, got "
                             f"shapes {[a.shape for a in self.arrays]}")

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple:
        i = _check_index("ArrayDataset", index, len(self))
        return tuple(a[i] for a in self.arrays)

    def get_batch(self, indices) -> tuple:
        idx = _as_indices("ArrayDataset.get_batch", indices, len(self))
        return tuple(a[idx] for a in self.arrays)


class DictDataset(Dataset):
    """Dict samples from a mapping of equally long arrays: ``{key: arrays[key][i]}``.

    ``arrays["label"]`` (optional) must be integer and is stored as int64; a sample's label is a
    Python int. ``arrays["mask"]`` (optional) is an (N, M) bool array, or a dict
    ``{modality: (N,) bool}``, over ``modalities`` (default: every key except "label" and
    "mask", in the mapping's order). Samples are views into the arrays; ``get_batch`` copies.

    >>> ds = DictDataset({"image": np.zeros((4, 2)), "label": np.arange(4)})
    >>> len(ds), ds.modalities, ds[1]["label"], ds[1]["image"].shape
    (4, ('image',), 1, (2,))
    >>> ds.get_batch([0, 2])["label"]
    array([0, 2])
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], modalities: Sequence[str] | None = None):
        fn = type(self).__name__
        if not isinstance(arrays, Mapping) or not arrays:
            raise TypeError(f"{fn}: arrays must be a non-empty mapping of name -> array, "
                            f"got {type(arrays).__name__}")
        data = {k: v for k, v in arrays.items() if k != "mask"}
        if modalities is None:
            modalities = [k for k in data if k not in RESERVED_KEYS]
        self.modalities = tuple(modalities)
        missing = [m for m in self.modalities if m not in data]
        if missing:
            raise ValueError(f"{fn}: modalities {missing} have no array (keys {list(arrays)})")
        self.arrays = {k: np.asarray(v) for k, v in data.items()}
        if "label" in self.arrays:
            label = self.arrays["label"]
            if label.dtype.kind not in "iu":
                raise TypeError(f"{fn}: label must be an integer array, got dtype {label.dtype}")
            self.arrays["label"] = label.astype(np.int64, copy=False)
        n = self._check_lengths(fn)
        if "mask" in arrays:
            self.arrays["mask"] = self._mask_array(fn, arrays["mask"], n)

    def _check_lengths(self, fn: str) -> int:
        shapes = {k: v.shape for k, v in self.arrays.items()}
        lengths = {s[0] if s else None for s in shapes.values()}
        if None in lengths or len(lengths) != 1:
            raise ValueError(f"{fn}: arrays must share their first dimension, got shapes {shapes}")
        return lengths.pop()

    def _mask_array(self, fn: str, mask, n: int) -> np.ndarray:
        if isinstance(mask, Mapping):
            if set(mask) != set(self.modalities):
                raise ValueError(f"{fn}: mask dict keys {sorted(mask)} must be the modalities "
                                 f"{self.modalities}")
            mask = np.stack([np.asarray(mask[m]) for m in self.modalities], axis=1)
        mask = np.asarray(mask)
        if mask.shape != (n, len(self.modalities)):
            raise ValueError(f"{fn}: mask must have shape (N, M) = {(n, len(self.modalities))}, "
                             f"got {mask.shape}")
        return mask.astype(bool, copy=False)

    def __len__(self) -> int:
        return next(iter(self.arrays.values())).shape[0]

    def __getitem__(self, index: int) -> dict:
        i = _check_index(type(self).__name__, index, len(self))
        sample = {k: v[i] for k, v in self.arrays.items()}
        if "label" in sample:
            sample["label"] = int(sample["label"])
        return sample

    def get_batch(self, indices) -> dict:
        """Stacked arrays of the samples at ``indices``: ``{key: array[indices]}``."""
        idx = _as_indices(f"{type(self).__name__}.get_batch", indices, len(self))
        return {k: v[idx] for k, v in self.arrays.items()}

    def select(self, indices) -> DictDataset:
        """A new dataset of the same kind holding copies of the samples at ``indices``."""
        idx = _as_indices(f"{type(self).__name__}.select", indices, len(self))
        new = self.with_arrays(self.get_batch(idx))
        self._select_extras(new, idx)
        return new

    def _select_extras(self, new: DictDataset, idx: np.ndarray) -> None:
        """Hook: slice any per-sample data kept outside ``arrays`` (none here)."""

    def with_arrays(self, arrays: Mapping[str, np.ndarray]) -> DictDataset:
        """A shallow copy of this dataset (same metadata) holding ``arrays`` instead."""
        new = copy.copy(self)
        new.arrays = dict(arrays)
        new._check_lengths(type(self).__name__)
        return new

    @property
    def labels(self) -> np.ndarray:
        return self.arrays["label"]


class MultimodalDataset(DictDataset):
    """A DictDataset that knows its task: classes, modality shapes, vocabulary and ceilings.

    Attributes: ``name``, ``modalities`` (ordered tuple; the order of the mask columns),
    ``num_classes``, ``class_names``, ``ceilings`` (CeilingTable: Bayes-optimal accuracy per
    modality subset, keyed by "+"-joined sorted names or any iterable of names), ``shapes`` and
    ``dtypes`` per modality, ``vocab`` and ``vocab_size`` (None without text), ``latents`` (the
    generating variables, for oracle predictors), ``info`` (constants such as sample rates).
    Every sample has a "mask" (all True unless given).

    Built-in data sets also carry ``additive_ceilings`` (CeilingTable: accuracy of the best
    late fusion, the product of per-modality Bayes posteriors; equal to ``ceilings`` when the
    modalities are conditionally independent given the label), ``ceiling_kinds`` ("exact" or
    "upper bound" per subset: exact for token channels, an upper bound where Gaussian noise
    and clutter are rendered) and ``oracle`` (``oracle(latents, subset) -> (N,) predictions``,
    the Bayes rule on the latents; ``oracle_accuracy(subset)`` applies it to this split).

    >>> ds = MultimodalDataset({"image": np.zeros((3, 2), np.float32), "label": np.array([0, 1, 1])},
    ...                        name="toy", modalities=["image"], num_classes=2,
    ...                        class_names=["no", "yes"], ceilings={"image": 0.5})
    >>> ds
    MultimodalDataset(name='toy', n=3, modalities=('image',), num_classes=2)
    >>> ds.shapes, ds[0]["mask"], ds.ceilings["image"], round(ds.chance, 3)
    ({'image': (2,)}, array([ True]), 0.5, 0.667)
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], *, name: str,
                 modalities: Sequence[str], num_classes: int, class_names: Sequence[str],
                 ceilings: Mapping[str, float] | None = None, vocab: Sequence[str] | None = None,
                 latents: Mapping[str, np.ndarray] | None = None, description: str = "",
                 info: Mapping | None = None, additive_ceilings: Mapping[str, float] | None = None,
                 ceiling_kinds: Mapping[str, str] | None = None, oracle=None):
        arrays = dict(arrays)
        n = np.asarray(arrays["label"]).shape[0]
        arrays.setdefault("mask", np.ones((n, len(modalities)), dtype=bool))
        super().__init__(arrays, modalities)
        self.name = name
        self.num_classes = int(num_classes)
        self.class_names = tuple(class_names)
        self.ceilings = CeilingTable(ceilings or {})
        self.vocab = tuple(vocab) if vocab is not None else None
        self.latents = {k: np.asarray(v) for k, v in (latents or {}).items()}
        self.description = description
        self.info = dict(info or {})
        self.additive_ceilings = CeilingTable(additive_ceilings or {})
        self.ceiling_kinds = CeilingTable(ceiling_kinds or {})
        self.oracle = oracle

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {m: self.arrays[m].shape[1:] for m in self.modalities}

    @property
    def dtypes(self) -> dict[str, np.dtype]:
        return {m: self.arrays[m].dtype for m in self.modalities}

    @property
    def vocab_size(self) -> int | None:
        return None if self.vocab is None else len(self.vocab)

    @property
    def additive_ceiling(self) -> float | None:
        """Additive (late-fusion) ceiling with every modality present (None if not stated)."""
        return self.additive_ceilings.get(self.modalities)

    def oracle_accuracy(self, subset) -> tuple[int, int] | None:
        """(correct, n): the Bayes rule on this split's latents, restricted to ``subset``,
        counted on this split (None without an oracle). Its rate is the split's realised
        ceiling; it differs from the ceiling by sampling error only."""
        return _oracle_counts(self, subset)

    @property
    def chance(self) -> float:
        """Accuracy of always predicting the most frequent class of this dataset."""
        return float(np.bincount(self.labels, minlength=self.num_classes).max() / len(self))

    def _select_extras(self, new: MultimodalDataset, idx: np.ndarray) -> None:
        new.latents = {k: v[idx] for k, v in self.latents.items()}

    def describe(self) -> str:
        """Human-readable summary: task, modalities (shape, dtype), classes and ceilings."""
        lines = [f"{self.name}: {len(self)} samples, {self.num_classes} classes"]
        if self.description:
            lines.append(self.description.strip())
        lines.append("modalities:")
        for m in self.modalities:
            lines.append(f"  {m}: {self.arrays[m].dtype} {self.arrays[m].shape[1:]}")
        if self.vocab is not None:
            lines.append(f"vocab_size: {self.vocab_size} (0 = <pad>, 1 = <unk>)")
        if self.ceilings:
            lines.append("accuracy ceiling per modality subset (Bayes-optimal; kind; additive):")
            width = max(len(k) for k in self.ceilings)
            for k, v in self.ceilings.items():
                kind = self.ceiling_kinds.get(k, "")
                add = self.additive_ceilings.get(k)
                lines.append(f"  {k:<{width}}  {v:.4f}  {kind:<11}"
                             + ("" if add is None else f"  additive {add:.4f}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n={len(self)}, "
                f"modalities={self.modalities}, num_classes={self.num_classes})")


_FORWARDED = ("name", "modalities", "num_classes", "class_names", "ceilings", "shapes", "dtypes",
              "vocab", "vocab_size", "description", "info", "describe", "additive_ceilings",
              "additive_ceiling", "ceiling_kinds", "oracle")


def _oracle_counts(dataset, subset) -> tuple[int, int] | None:
    """(correct, n) of ``dataset.oracle`` on the dataset's own latents (None without one)."""
    oracle = getattr(dataset, "oracle", None)
    latents = getattr(dataset, "latents", None)
    if oracle is None or not latents:
        return None
    pred = oracle(latents, subset)
    labels = np.asarray(dataset.labels)
    return int((pred == labels).sum()), int(labels.shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order), without copying.

    Task metadata (modalities, num_classes, ceilings, ...) is read through from the dataset;
    ``latents`` and ``labels`` are sliced.

    >>> sub = Subset(DictDataset({"x": np.arange(10.0), "label": np.arange(10)}), [3, 1])
    >>> len(sub), sub[0]["label"], sub.labels
    (2, 3, array([3, 1]))
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _as_indices("Subset", indices, len(dataset))

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[_check_index("Subset", index, len(self))])]

    def __getattr__(self, name: str):
        # only reached for names not found normally; never recurse before __init__ has run
        if name in ("dataset", "indices") or name.startswith("__"):
            raise AttributeError(name)
        if name in _FORWARDED:
            return getattr(self.dataset, name)
        if name == "get_batch" and hasattr(self.dataset, "get_batch"):
            return self._get_batch
        if name in ("latents", "labels") and hasattr(self.dataset, name):
            value = getattr(self.dataset, name)
            return ({k: v[self.indices] for k, v in value.items()} if name == "latents"
                    else value[self.indices])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def oracle_accuracy(self, subset) -> tuple[int, int] | None:
        """As ``MultimodalDataset.oracle_accuracy``, on this subset's samples."""
        return _oracle_counts(self, subset)

    def _get_batch(self, indices):
        idx = _as_indices("Subset.get_batch", indices, len(self))
        return self.dataset.get_batch(self.indices[idx])

    def materialize(self) -> DictDataset:
        """A standalone dataset holding copies of this subset's samples (DictDataset bases)."""
        base = self.dataset.materialize() if isinstance(self.dataset, Subset) else self.dataset
        if not isinstance(base, DictDataset):
            raise TypeError(f"Subset.materialize: needs a DictDataset underneath, got "
                            f"{type(base).__name__}")
        return base.select(self.indices)  # inner subsets materialize in their own order


def _split_lengths(lengths, n: int) -> list[int]:
    fn = "random_split"
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise TypeError(f"{fn}: lengths must be a non-empty sequence of ints or fractions, "
                        f"got {lengths!r}")
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"{fn}: lengths must be ints or floats, got {list(lengths)}")
    if any(x < 0 for x in lengths):
        raise ValueError(f"{fn}: lengths must be >= 0, got {list(lengths)}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(f"{fn}: lengths sum to {sum(lengths)} but the dataset has {n} "
                             f"samples")
        return [int(x) for x in lengths]
    # fractions, as in PyTorch: floor each share, then hand out the remainder round-robin
    if abs(sum(lengths) - 1.0) > 1e-6 or any(x > 1 for x in lengths):
        raise ValueError(f"{fn}: fractional lengths must lie in [0, 1] and sum to 1, got "
                         f"{list(lengths)} (sum {sum(lengths):g})")
    sizes = [int(np.floor(n * x)) for x in lengths]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths: Sequence[int | float], seed=None) -> list[Subset]:
    """Split ``dataset`` into disjoint random Subsets of the given lengths.

    lengths: ints summing to ``len(dataset)``, or fractions summing to 1 (floored, with the
    remainder given one by one to the first subsets, as in PyTorch). seed: int, numpy
    Generator, or None for tinymm's global generator (``tm.manual_seed`` makes it repeatable).

    >>> train, val = random_split(ArrayDataset(np.arange(10)), [0.8, 0.2], seed=0)
    >>> len(train), len(val)
    (8, 2)
    """
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"random_split: dataset must have __len__ and __getitem__, got "
                        f"{type(dataset).__name__}")
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    perm = resolve_generator("random_split", seed).permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
