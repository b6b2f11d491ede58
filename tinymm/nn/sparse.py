"""``Embedding``: a learnable lookup table from integer ids to vectors."""

from __future__ import annotations

import numpy as np

from .._validation import check_alloc, check_positive_int
from ..functional.sparse import _padding_index, embedding
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """``weight`` (num_embeddings, embedding_dim) ~ N(0, 1); ``forward(ids)`` picks its rows.

    With ``padding_idx`` that row starts at zero and never receives a gradient (stored
    non-negative, as PyTorch: ``padding_idx=-1`` means the last row).

    >>> import tinymm as tm
    >>> Embedding(10, 4, padding_idx=0)(tm.tensor([[0, 3, 9]])).shape
    (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype=None):
        super().__init__()
        self.num_embeddings = check_positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("Embedding", "embedding_dim", embedding_dim)
        try:
            pad = _padding_index(padding_idx, self.num_embeddings)
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("embedding:", "Embedding:", 1)) from None
        self.padding_idx = None if padding_idx is None else pad
        dt = np.dtype(dtype or np.float32)
        check_alloc("Embedding", "weight", (self.num_embeddings, self.embedding_dim), dt)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):  # noqa: A002
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
