"""Array builders shared by the registry modules (no specs here)."""

from __future__ import annotations

import numpy as np


def randn(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype,
          scale: float = 1.0) -> np.ndarray:
    """Standard normal values times ``scale`` in ``dtype``."""
    return (rng.standard_normal(shape) * scale).astype(dtype)


def distinct(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Values with no ties (a shuffled grid, ~N(0,1) scale): max/argmax have one answer."""
    n = int(np.prod(shape))
    grid = (np.arange(n) - n / 2) / max(n / 4, 1.0)
    return rng.permutation(grid).reshape(shape).astype(dtype)


def indices(rng: np.random.Generator, shape: tuple[int, ...], high: int) -> np.ndarray:
    """int64 indices in [0, high)."""
    return rng.integers(0, high, shape, dtype=np.int64)


def out_of_range(a: np.ndarray, value: int) -> np.ndarray:
    """A copy of the index array ``a`` with its first element set to ``value``."""
    b = a.copy()
    b.reshape(-1)[0] = value
    return b
