"""``pad``: PyTorch's ``F.pad`` (constant, reflect, replicate, circular), one autograd op.

``pad`` lists (before, after) pairs starting from the LAST dimension, as PyTorch:
``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two, and so on.
``constant`` fills with ``value`` and accepts negative amounts (which crop), on any dims.
The other modes take each new element from the input:

- ``reflect``:   index ``-k`` reads ``k``, ``n-1+k`` reads ``n-1-k``   (edge not repeated)
- ``replicate``: index ``-k`` reads ``0``, ``n-1+k`` reads ``n-1``
- ``circular``:  index ``i`` reads ``i mod n``

so the padded tensor is ``x`` gathered with one index array per padded dim, and its
gradient scatters back (adding where an element was read several times). As in PyTorch they
pad the last 1, 2 or 3 dims of a batched or unbatched input (2-D to 5-D).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_tensor_arg, check_alloc
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["pad"]

MODES = ("constant", "reflect", "replicate", "circular")


def source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each of the ``before + n + after`` output positions, the input index it reads."""
    i = np.arange(-before, n + after)
    if mode == "reflect":
        period = 2 * (n - 1)
        j = np.mod(i, period) if period else np.zeros_like(i)
        return np.where(j < n, j, period - j)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return np.mod(i, n)  # circular


class ConstantPad(Function):
    """Crop (negative amounts), then surround with ``value`` (positive amounts)."""

    @staticmethod
    def forward(ctx, x, pairs, value):
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pairs))
        widths = [(max(b, 0), max(a, 0)) for b, a in pairs]
        ctx.crop, ctx.shape = crop, x.shape
        ctx.inner = tuple(slice(b, b + (s.stop - s.start)) for (b, _), s in zip(widths, crop))
        return np.pad(x[crop], widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        out[ctx.crop] = g[ctx.inner]
        return out, None, None


class IndexPad(Function):
    """Gather along each padded axis with ``source_index``; backward scatter-adds."""

    @staticmethod
    def forward(ctx, x, indices):
        ctx.indices, ctx.shape = indices, x.shape
        for axis, idx in indices:
            x = np.take(x, idx, axis=axis)
        return x

    @staticmethod
    def backward(ctx, g):
        for axis, idx in reversed(ctx.indices):
            shape = list(g.shape)
            shape[axis] = ctx.shape[axis]
            out = np.zeros(shape, g.dtype)
            np.add.at(out, (slice(None),) * axis + (idx,), g)
            g = out
        return g, None


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant",  # noqa: A002
        value: float | None = None) -> Tensor:
    """Pad ``input`` by ``pad = (last_before, last_after, prev_before, prev_after, ...)``;
    ``mode`` "constant" (with ``value``, default 0), "reflect", "replicate" or "circular".

    Shape: (*, D) -> (*, D + last_before + last_after), and likewise for earlier dims.

    >>> import tinymm as tm, tinymm.functional as F
    >>> F.pad(tm.ones(1, 2, 3), (1, 2)).shape
    (1, 2, 6)
    >>> F.pad(tm.arange(3.0).reshape(1, 1, 3), (2, 0), mode="reflect").tolist()
    [[[2.0, 1.0, 0.0, 1.0, 2.0]]]
    """
    fn = "pad"
    x = as_tensor_arg(fn, "input", input)
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (numbers.Integral, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"{fn}: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"{fn}: pad must hold an even number of ints, at most 2 per "
                         f"dimension of the {x.ndim}-D input, got {tuple(pad)}")
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be one of {MODES}, got {mode!r}")
    k = len(pad) // 2
    # pairs for every dim, first dim first
    pairs = [(0, 0)] * (x.ndim - k) + [(int(pad[2 * i]), int(pad[2 * i + 1]))
                                       for i in reversed(range(k))]
    check_alloc(fn, "the padded output", [n + b + a for n, (b, a) in zip(x.shape, pairs)],
                x.dtype)
    if mode == "constant":
        if value is not None and (isinstance(value, bool) or not isinstance(value,
                                                                            numbers.Real)):
            raise TypeError(f"{fn}: value must be a number, got {value!r}")
        for n, (b, a) in zip(x.shape, pairs):
            if n + b + a < 0 or (n + min(b, 0) + min(a, 0)) < 0:
                raise ValueError(f"{fn}: pad {tuple(pad)} crops more than the input's size "
                                 f"along a dim of {n}")
        return ConstantPad.apply(x, pairs, 0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"{fn}: value={value!r} is only used with mode='constant'")
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise ValueError(f"{fn}: mode={mode!r} pads the last 1, 2 or 3 dims of a batched or "
                         f"unbatched input ({k + 1}-D or {k + 2}-D for {len(pad)} pad values), "
                         f"got a {x.ndim}-D input")
    indices = []
    for axis in range(x.ndim - k, x.ndim):
        n, (b, a) = x.shape[axis], pairs[axis]
        if b < 0 or a < 0:
            raise ValueError(f"{fn}: mode={mode!r} needs pad amounts >= 0, got {tuple(pad)}")
        limit = n - 1 if mode == "reflect" else (n if mode == "circular" else None)
        if n == 0 or (limit is not None and max(b, a) > limit):
            raise ValueError(f"{fn}: mode={mode!r} pads at most {limit} on each side of a dim "
                             f"of size {n}, got ({b}, {a}) (pad {tuple(pad)})")
        if b or a:
            indices.append((axis, source_index(n, b, a, mode)))
    return IndexPad.apply(x, indices) if indices else x
