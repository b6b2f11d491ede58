"""Shared by the model and training tests (importable because pytest puts tests/ on sys.path,
``pythonpath`` in pyproject.toml): a tiny two-bit multimodal data set with known ceilings,
and a fixture that runs a test module's small models on one thread per pool."""

import numpy as np
import pytest

from tinymm.data import MultimodalDataset
from tinymm.train.threads import num_threads


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Small models train fastest with one thread per pool (see tinymm.train.threads).

    Import it into a test module to apply it there (it is autouse within that module)."""
    with num_threads(1):
        yield


def bits_dataset(n: int, seed: int = 0, dim: int = 6, noise: float = 0.4) -> MultimodalDataset:
    """4 classes = 2 bits; vector modality "a" shows only the first bit, "b" only the second.

    Ceilings: a 0.5, b 0.5, a+b 1.0 (the clusters are well separated at this noise).
    """
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n) % 4)
    bits = np.stack([label // 2, label % 2], axis=1)
    arrays = {}
    for j, name in enumerate(("a", "b")):
        centres = np.random.default_rng(100 + j).standard_normal((2, dim)) * 1.5
        arrays[name] = (centres[bits[:, j]] + noise * rng.standard_normal((n, dim))).astype(
            np.float32)
    arrays["label"] = label
    return MultimodalDataset(arrays, name="bits", modalities=("a", "b"), num_classes=4,
                             class_names=["00", "01", "10", "11"],
                             ceilings={"a": 0.5, "b": 0.5, "a+b": 1.0})
