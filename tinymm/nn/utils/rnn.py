"""Variable-length sequences as PyTorch packs them: ``PackedSequence`` and its helpers.

A batch of ``N`` sequences of lengths ``L_0 >= L_1 >= ...`` (after sorting) is stored
time-major without padding: ``data (sum(L), *)`` holds step 0 of every sequence, then step 1
of every sequence still running, and so on; ``batch_sizes[t]`` counts the sequences longer
than ``t``. ``sorted_indices[j]`` is the original batch index of the ``j``-th longest sequence
and ``unsorted_indices`` is its inverse (both None when the input was already sorted and
``enforce_sorted=True``). ``nn.RNN``/``LSTM``/``GRU`` accept a ``PackedSequence`` and return
one, with ``h_n`` taken at each sequence's own last step.

    >>> import tinymm as tm
    >>> x = tm.randn(4, 3, 2)                               # (T, N, features), padded
    >>> packed = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    >>> packed.data.shape, packed.batch_sizes.tolist()
    ((7, 2), [3, 2, 1, 1])
    >>> padded, lengths = pad_packed_sequence(packed)
    >>> padded.shape, lengths.tolist()
    ((4, 3, 2), [2, 4, 1])
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ..._validation import as_tensor_arg
from ...autograd import Function
from ...ops.shape import cat
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence"]


class PackedSequence(NamedTuple):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``, as ``torch``'s.

    ``data (sum(lengths), *)`` float Tensor; ``batch_sizes (T,)`` int64 Tensor;
    ``sorted_indices``/``unsorted_indices`` ``(N,)`` int64 Tensors or None.
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    @property
    def is_cuda(self) -> bool:
        return False

    def _replace_data(self, data: Tensor) -> PackedSequence:
        return PackedSequence(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)


# ---------------------------------------------------------------------------------------
# the two row moves (a gather and its scatter twin), each one autograd node


class _GatherRows(Function):
    """``out = x[rows]`` with unique ``rows``; backward scatters ``g`` back (zeros elsewhere)."""

    @staticmethod
    def forward(ctx, x, rows):
        ctx.rows, ctx.shape = rows, x.shape
        return x[rows]

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        out[ctx.rows] = g
        return out, None


class _ScatterRows(Function):
    """``out = full((n_rows, *), padding_value); out[rows] = x``; backward gathers ``g[rows]``."""

    @staticmethod
    def forward(ctx, x, rows, n_rows, padding_value):
        ctx.rows = rows
        out = np.full((n_rows, *x.shape[1:]), padding_value, dtype=x.dtype)
        out[rows] = x
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.rows], None, None, None


def _packed_rows(lengths_sorted: np.ndarray, order: np.ndarray, steps: int,
                 batch_first: bool) -> np.ndarray:
    """For each packed row (time-major over the sorted batch), its row in the padded layout
    flattened to ``(T*N, *)`` (or ``(N*T, *)`` when ``batch_first``)."""
    n = len(order)
    t, j = np.nonzero(lengths_sorted[None, :] > np.arange(steps)[:, None])  # t-major, j ascending
    b = order[j]
    return b * steps + t if batch_first else t * n + b


def _lengths_array(fn: str, lengths, n: int, steps: int) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    arr = np.asarray(lengths)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(f"{fn}: lengths must be a 1-D sequence of ints, got {lengths!r}")
    if arr.shape[0] != n:
        raise ValueError(f"{fn}: lengths has {arr.shape[0]} entries but the batch has {n} "
                         "sequences")
    if n == 0:
        raise ValueError(f"{fn}: expected at least one sequence, got an empty batch")
    if arr.min() <= 0:
        raise ValueError(f"{fn}: every length must be > 0, got lengths {arr.tolist()}")
    if arr.max() > steps:
        raise ValueError(f"{fn}: lengths must be <= the padded length {steps}, "
                         f"got lengths {arr.tolist()}")
    return arr.astype(np.int64)


def _int_tensor(a: np.ndarray) -> Tensor:
    return Tensor(np.ascontiguousarray(a, dtype=np.int64))


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``) of sequences.

    ``lengths`` (``N`` ints, each in ``[1, T]``) must be decreasing when ``enforce_sorted``;
    otherwise the batch is sorted by decreasing length (stable) and the permutation kept.
    Differentiable with respect to ``input``.
    """
    fn = "pack_padded_sequence"
    as_tensor_arg(fn, "input", input)
    if input.ndim < 2:
        raise ValueError(f"{fn}: input must be at least 2-D (T, N, *), got shape {input.shape}")
    steps, n = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lens = _lengths_array(fn, lengths, n, steps)
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError(f"{fn}: lengths must be sorted in decreasing order when "
                             f"enforce_sorted=True, got {lens.tolist()}; pass "
                             "enforce_sorted=False to sort them")
        order, sorted_idx, unsorted_idx = np.arange(n), None, None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx, unsorted_idx = _int_tensor(order), _int_tensor(np.argsort(order))
    lens_sorted = lens[order]
    max_len = int(lens_sorted[0])
    batch_sizes = (lens_sorted[None, :] > np.arange(max_len)[:, None]).sum(axis=1)
    rows = _packed_rows(lens_sorted, order, max_len, batch_first=False)
    x = input.transpose(0, 1) if batch_first else input  # (T, N, *)
    flat = x.reshape(steps * n, *input.shape[2:])
    # the packed rows only refer to t < max_len, so the flat (T*N) layout is indexed directly
    data = _GatherRows.apply(flat, rows)
    return PackedSequence(data, _int_tensor(batch_sizes), sorted_idx, unsorted_idx)


def check_packed(fn: str, sequence) -> tuple[np.ndarray, np.ndarray]:
    """(batch_sizes, order) of a PackedSequence, checked."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: sequence must be a PackedSequence, got {type(sequence).__name__}")
    bs = np.asarray(sequence.batch_sizes.data, dtype=np.int64)
    if bs.ndim != 1 or bs.size == 0 or bs.min() <= 0 or np.any(np.diff(bs) > 0):
        raise ValueError(f"{fn}: batch_sizes must be a non-empty decreasing sequence of "
                         f"positive ints, got {bs.tolist()}")
    if sequence.data.shape[0] != bs.sum():
        raise ValueError(f"{fn}: data has {sequence.data.shape[0]} rows but batch_sizes sum "
                         f"to {int(bs.sum())}")
    n = int(bs[0])
    order = (np.arange(n) if sequence.sorted_indices is None
             else np.asarray(sequence.sorted_indices.data, dtype=np.int64))
    return bs, order


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: ``(padded (T, N, *), lengths (N,) int64)``.

    The batch comes back in its original order; steps past a sequence's length hold
    ``padding_value``; ``T = total_length`` if given (it must be >= the longest length),
    else the longest length. Differentiable with respect to ``sequence.data``.
    """
    fn = "pad_packed_sequence"
    bs, order = check_packed(fn, sequence)
    if isinstance(padding_value, bool) or not isinstance(padding_value, numbers.Real):
        raise TypeError(f"{fn}: padding_value must be a number, got {padding_value!r}")
    max_len, n = len(bs), int(bs[0])
    steps = max_len
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"{fn}: total_length must be an int, got {total_length!r}")
        if total_length < max_len:
            raise ValueError(f"{fn}: total_length={total_length} is smaller than the longest "
                             f"sequence ({max_len})")
        steps = int(total_length)
    lens_sorted = (bs[None, :] > np.arange(n)[:, None]).sum(axis=1)  # (N,) sorted lengths
    rows = _packed_rows(lens_sorted, order, steps, batch_first)
    data = sequence.data
    out = _ScatterRows.apply(data, rows, steps * n, padding_value)
    shape = (n, steps) if batch_first else (steps, n)
    lengths = np.empty(n, dtype=np.int64)
    lengths[order] = lens_sorted
    return out.reshape(*shape, *data.shape[1:]), _int_tensor(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack a list of ``(L_i, *)`` Tensors into ``(T, N, *)`` (``(N, T, *)`` with
    ``batch_first``), ``T = max L_i``, filling with ``padding_value`` on ``padding_side``.
    Differentiable with respect to every sequence.
    """
    fn = "pad_sequence"
    if isinstance(sequences, Tensor) or not isinstance(sequences, (list, tuple)):
        raise TypeError(f"{fn}: sequences must be a list or tuple of Tensors, "
                        f"got {type(sequences).__name__}")
    if not sequences:
        raise ValueError(f"{fn}: expected at least one sequence, got none")
    for i, s in enumerate(sequences):
        as_tensor_arg(fn, f"sequences[{i}]", s)
        if s.ndim < 1 or s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(f"{fn}: sequences[{i}] has shape {s.shape}, which does not match "
                             f"sequences[0]'s trailing shape {sequences[0].shape[1:]}")
        if s.dtype != sequences[0].dtype:
            raise TypeError(f"{fn}: sequences[{i}] has dtype {s.dtype}, expected "
                            f"{sequences[0].dtype}")
    if padding_side not in ("right", "left"):
        raise ValueError(f"{fn}: padding_side must be 'right' or 'left', got {padding_side!r}")
    if isinstance(padding_value, bool) or not isinstance(padding_value, numbers.Real):
        raise TypeError(f"{fn}: padding_value must be a number, got {padding_value!r}")
    n = len(sequences)
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps = int(lens.max())
    b = np.repeat(np.arange(n), lens)  # the rows of cat(sequences), sample-major
    t = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    if padding_side == "left":
        t = t + np.repeat(steps - lens, lens)
    rows = b * steps + t if batch_first else t * n + b
    out = _ScatterRows.apply(cat(list(sequences)), rows, steps * n, padding_value)
    shape = (n, steps) if batch_first else (steps, n)
    return out.reshape(*shape, *sequences[0].shape[1:])


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` Tensors: ``pack_padded_sequence(pad_sequence(sequences),
    lengths, enforce_sorted=enforce_sorted)``."""
    lengths = [s.shape[0] for s in sequences] if isinstance(sequences, (list, tuple)) else None
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
