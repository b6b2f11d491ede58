"""tinymm.data: the multimodal dataset protocol, a DataLoader and built-in synthetic data sets.

A sample is a dict of modality arrays plus a label and a modality mask::

    {"image": (1, 16, 16) float32, "text": (8,) int64, "label": 3, "mask": (2,) bool}

>>> import tinymm.data as data
>>> data.list_datasets()[:2]
['sentiment_prosody', 'shapes_captions']
>>> ds = data.get_dataset("shapes_captions", size=64)
>>> batch = next(iter(data.DataLoader(ds, batch_size=32, shuffle=True, seed=0)))
>>> batch["image"].shape, batch["label"].dtype, batch["mask"].shape
((32, 1, 16, 16), dtype('int64'), (32, 2))
>>> round(ds.ceilings["image+text"], 4)
0.9159
"""

from ._synth import CeilingTable, subset_key
from .dataset import (
    ArrayDataset,
    Dataset,
    DictDataset,
    MultimodalDataset,
    Subset,
    random_split,
)
from .loader import DataLoader, default_collate
from .registry import dataset_info, describe_dataset, get_dataset, list_datasets
from .robustness import add_noise, mask_modalities

__all__ = [
    "ArrayDataset",
    "CeilingTable",
    "DataLoader",
    "Dataset",
    "DictDataset",
    "MultimodalDataset",
    "Subset",
    "add_noise",
    "dataset_info",
    "default_collate",
    "describe_dataset",
    "get_dataset",
    "list_datasets",
    "mask_modalities",
    "random_split",
    "subset_key",
]
