"""Named tuples returned by ops with several outputs, named as ``torch.return_types``.

``values, indices = t.min(dim)`` and ``t.sort().indices`` both work, as in PyTorch.
"""

from __future__ import annotations

from collections import namedtuple

min = namedtuple("min", ["values", "indices"])  # noqa: A001  (torch.return_types.min)
max = namedtuple("max", ["values", "indices"])  # noqa: A001
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])

__all__ = ["min", "max", "sort", "topk"]
