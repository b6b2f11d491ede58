"""One seeded source of randomness for everything in tinymm (init, dropout, shuffling),
plus ``Generator`` objects for private streams (``generator=`` as in PyTorch)."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed tinymm's generator; every later init, dropout mask and shuffle follows from it.

    It returns the new NumPy generator.

    >>> _ = tm.manual_seed(0)
    >>> a = tm.randn(3).tolist()
    >>> _ = tm.manual_seed(0)
    >>> tm.randn(3).tolist() == a
    True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator in force (replaced, not mutated, by :func:`manual_seed`)."""
    return _generator


class Generator:
    """``torch.Generator``: a private random stream to pass as ``generator=`` to ``randn``,
    ``rand``, ``randint``, ``randperm`` and the ``*_like`` factories.

    Seeding works as in PyTorch (``g = tm.Generator().manual_seed(0)``: equal seeds give
    equal streams), but the numbers are NumPy's PCG64 stream, **not** PyTorch's: the same
    seed gives different values in tinymm and in torch.

    >>> g = tm.Generator().manual_seed(1)
    >>> a = tm.randn(3, generator=g)
    >>> g.manual_seed(1)  # doctest: +ELLIPSIS
    <...Generator...>
    >>> tm.equal(tm.randn(3, generator=g), a)
    True
    """

    def __init__(self, device: str = "cpu"):
        if device != "cpu":
            raise ValueError(f"Generator: only device='cpu' exists in tinymm, got {device!r}")
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator (as PyTorch)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        if seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be >= 0, got {seed}")
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._seed

    def get_state(self) -> dict:
        """The stream's position (NumPy's bit-generator state, a dict)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"<tinymm.Generator seed={self._seed}>"


def resolve(fn: str, gen: Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator=`` (None: tinymm's global one)."""
    if gen is None:
        return _generator
    if not isinstance(gen, Generator):
        raise TypeError(f"{fn}: generator must be a tm.Generator or None, got {type(gen).__name__}")
    return gen._rng
