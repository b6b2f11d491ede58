"""Hypothesis strategies for property-testing tinymm ops: shapes, arrays, tensors, layer args.

Every strategy draws *small*, *bounded*, *finite* data by default, because a gradient
check costs two forward passes per input element and JIT kernels are slow to call on
huge inputs. Floating tensors are float64 by default (finite differences need it).

    from hypothesis import given
    from tinymm.testing import strategies as tst

    @given(tst.tensors(shape=tst.shapes(max_dims=3)))
    def test_tanh_is_odd(x):
        assert np.allclose((-x).tanh().data, -x.tanh().data)

``tensors()`` returns, for some draws, non-contiguous views (transposed, strided or
reversed), so ops are exercised on the memory layouts users really pass them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..tensor import Tensor

__all__ = [
    "shapes", "broadcastable_shapes", "arrays", "tensors", "conv_args", "pool_args",
    "sequences", "ConvArgs", "PoolArgs", "SequenceBatch", "conv_output_size",
    "LAYOUTS",
]

# How ``tensors()`` may lay out the drawn values in memory. All hold the same values.
LAYOUTS = ("contiguous", "transposed", "strided", "reversed")


# ----------------------------------------------------------------------------- checks
def _check_int(fn: str, name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_range(fn: str, lo_name: str, lo: int, hi_name: str, hi: int, minimum: int = 0):
    lo = _check_int(fn, lo_name, lo, minimum)
    hi = _check_int(fn, hi_name, hi, minimum)
    if lo > hi:
        raise ValueError(f"{fn}: {lo_name} ({lo}) must be <= {hi_name} ({hi})")
    return lo, hi


# ----------------------------------------------------------------------------- shapes
def shapes(min_dims: int = 1, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with ``min_dims..max_dims`` dims, each of size ``min_side..max_side``."""
    min_dims, max_dims = _check_range("shapes", "min_dims", min_dims, "max_dims", max_dims)
    min_side, max_side = _check_range("shapes", "min_side", min_side, "max_side", max_side)
    side = st.integers(min_side, max_side)
    return st.lists(side, min_size=min_dims, max_size=max_dims).map(tuple)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that broadcast together (NumPy's rules).

    A result shape R is drawn first; each shape is a trailing part of R (``min_dims`` or
    more dims) in which some sides are replaced by 1, so sides are 1 or in
    ``min_side..max_side``.
    """
    num_shapes = _check_int("broadcastable_shapes", "num_shapes", num_shapes, 1)
    min_dims, max_dims = _check_range("broadcastable_shapes", "min_dims", min_dims,
                                      "max_dims", max_dims)
    _check_range("broadcastable_shapes", "min_side", min_side, "max_side", max_side)

    @st.composite
    def draw_shapes(draw):
        result = draw(shapes(min_dims, max_dims, min_side, max_side))
        out = []
        for _ in range(num_shapes):
            ndim = draw(st.integers(min_dims, len(result)))
            trailing = result[len(result) - ndim:]
            ones = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
            out.append(tuple(1 if one else n for one, n in zip(ones, trailing)))
        return tuple(out)

    return draw_shapes()


# ----------------------------------------------------------------------------- arrays
def _float_elements(dtype: np.dtype, lo: float, hi: float) -> st.SearchStrategy[float]:
    # hypothesis wants bounds exactly representable in the dtype: round them inwards
    t = dtype.type
    lo_t, hi_t = t(lo), t(hi)
    if float(lo_t) < lo:
        lo_t = np.nextafter(lo_t, t(np.inf))
    if float(hi_t) > hi:
        hi_t = np.nextafter(hi_t, t(-np.inf))
    return st.floats(float(lo_t), float(hi_t), allow_nan=False, allow_infinity=False,
                     allow_subnormal=False, width=8 * dtype.itemsize)


def _push_away(away_from: Sequence[float], margin: float):
    """Map a value closer than ``margin`` to a point of ``away_from`` out to that distance."""

    def push(v: float) -> float:
        for a in away_from:
            if abs(v - a) < margin:
                v = a + margin if v >= a else a - margin
        return v

    return push


@st.composite
def _distinct_values(draw, n: int, dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """``n`` distinct values in [lo, hi], at least (hi - lo) / (2n) apart.

    A random permutation of n grid cells, each value jittered inside its own cell: no
    two values come within half a cell, so finite differences never swap their order.
    """
    if n == 0:
        return np.zeros(0, dtype)
    order = np.asarray(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(hnp.arrays(np.float64, n, elements=st.floats(-0.25, 0.25)))
    cell = (hi - lo) / n
    return (lo + cell * (order + 0.5 + jitter)).astype(dtype)


def arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
           dtype: object = np.float64,
           elements: st.SearchStrategy | None = None, *,
           min_value: float = -2.0, max_value: float = 2.0, distinct: bool = False,
           away_from: Sequence[float] = (), margin: float = 0.05
           ) -> st.SearchStrategy[np.ndarray]:
    """C-contiguous ndarrays of ``shape`` and ``dtype``.

    Floating elements are finite and in ``[min_value, max_value]`` unless ``elements`` is
    given. ``distinct=True`` makes every value unique and well separated (for max,
    max-pool and sort-like ops, whose gradients are ill-defined at ties).
    ``away_from=(0.0,)`` keeps elements at least ``margin`` from kinks (relu, abs, clamp
    bounds), where finite differences are meaningless (a value pushed off a point near a
    bound may leave ``[min_value, max_value]`` by up to ``margin``).
    """
    fn = "arrays"
    dt = np.dtype(dtype)
    if min_value > max_value:
        raise ValueError(f"{fn}: min_value ({min_value}) must be <= max_value ({max_value})")
    if distinct and not min_value < max_value:
        raise ValueError(f"{fn}: distinct=True needs min_value < max_value, got "
                         f"{min_value} and {max_value}")
    if distinct and elements is not None:
        raise ValueError(f"{fn}: give either elements or distinct=True, not both")
    if distinct and away_from:
        raise ValueError(f"{fn}: distinct=True cannot be combined with away_from")
    if margin < 0:
        raise ValueError(f"{fn}: margin must be >= 0, got {margin}")
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    if distinct:
        if dt.kind == "f":
            return shape_st.flatmap(lambda s: _distinct_values(
                math.prod(s), dt, float(min_value), float(max_value)).map(
                lambda v: v.reshape(s)))
        if dt.kind in "iu":
            ints = st.integers(int(min_value), int(max_value))
            return hnp.arrays(dt, shape_st, elements=ints, unique=True)
        raise TypeError(f"{fn}: distinct=True needs a numeric dtype, got {dt}")

    if elements is None:
        if dt.kind == "f":
            elements = _float_elements(dt, float(min_value), float(max_value))
        elif dt.kind in "iu":
            elements = st.integers(int(math.ceil(min_value)), int(math.floor(max_value)))
        elif dt.kind == "b":
            elements = st.booleans()
        else:
            raise TypeError(f"{fn}: dtype must be floating, integer or bool, got {dt}")
    if away_from:
        elements = elements.map(_push_away(tuple(away_from), margin))
    return hnp.arrays(dt, shape_st, elements=elements)


def _with_layout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``arr`` in another memory layout (a view into a larger buffer)."""
    if arr.ndim == 0:  # a 0-d array has one layout (np.asfortranarray would make it 1-D)
        return arr
    if layout == "transposed":  # Fortran order: C-strides reversed
        return np.asfortranarray(arr)
    if layout == "strided":  # every second element of a buffer twice as long in the last dim
        buf = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        buf[..., ::2] = arr
        return buf[..., ::2]
    if layout == "reversed":  # negative strides along dim 0
        return np.flip(np.flip(arr, 0).copy(), 0)
    return arr


def tensors(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
            dtype: object = np.float64, requires_grad: bool = True,
            contiguous: bool | None = None, elements: st.SearchStrategy | None = None, *,
            min_value: float = -2.0, max_value: float = 2.0, distinct: bool = False,
            away_from: Sequence[float] = (), margin: float = 0.05
            ) -> st.SearchStrategy[Tensor]:
    """Leaf Tensors (``requires_grad`` for floating dtypes) with values from :func:`arrays`.

    ``shape`` defaults to ``shapes()``. ``contiguous=None`` draws the layout: C-contiguous
    or a transposed / strided / reversed view (non-contiguous whenever the shape allows,
    i.e. unless every side is 1). ``contiguous=True`` forces C-contiguous data,
    ``contiguous=False`` forces a view.
    """
    if contiguous not in (None, True, False):
        raise TypeError(f"tensors: contiguous must be None, True or False, got {contiguous!r}")
    shape = shapes() if shape is None else shape
    dt = np.dtype(dtype)
    values = arrays(shape, dt, elements, min_value=min_value, max_value=max_value,
                    distinct=distinct, away_from=away_from, margin=margin)
    if contiguous is True:
        layouts = st.just("contiguous")
    elif contiguous is False:
        layouts = st.sampled_from(LAYOUTS[1:])
    else:
        layouts = st.sampled_from(LAYOUTS)
    grad = bool(requires_grad) and dt.kind == "f"

    def build(pair) -> Tensor:
        arr, layout = pair
        view = _with_layout(arr, layout)
        if contiguous is False and view.flags.c_contiguous:
            view = _with_layout(arr, "strided")  # e.g. a transposed (1, n) is still C-ordered
        return Tensor(view, requires_grad=grad)

    return st.tuples(values, layouts).map(build)


# ----------------------------------------------------------------------------- layer args
def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """PyTorch's output length: ⌊(L + 2p − d(k − 1) − 1) / s⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvArgs:
    """A valid convolution: ``conv{d}d(x, w, stride=..., padding=..., dilation=...)``."""

    input_shape: tuple[int, ...]  # (N, C_in, *spatial)
    weight_shape: tuple[int, ...]  # (C_out, C_in, *kernel)
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return self.weight_shape[2:]

    @property
    def bias_shape(self) -> tuple[int]:
        return (self.weight_shape[0],)

    @property
    def output_shape(self) -> tuple[int, ...]:
        spatial = tuple(conv_output_size(*a) for a in zip(
            self.input_shape[2:], self.kernel_size, self.stride, self.padding, self.dilation))
        return (self.input_shape[0], self.weight_shape[0]) + spatial


@dataclass(frozen=True)
class PoolArgs:
    """A valid pooling: ``max_pool{d}d(x, kernel_size, stride, padding)`` (padding <= k // 2)."""

    input_shape: tuple[int, ...]  # (N, C, *spatial)
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def output_shape(self) -> tuple[int, ...]:
        spatial = tuple(conv_output_size(*a) for a in zip(
            self.input_shape[2:], self.kernel_size, self.stride, self.padding, self.dilation))
        return self.input_shape[:2] + spatial


@st.composite
def _window_dims(draw, dims, max_size, max_kernel, max_stride, max_padding, max_dilation,
                 pool):
    """Per spatial dim (size, kernel, stride, padding, dilation) with output size >= 1."""
    rows = []
    for _ in range(dims):
        k = draw(st.integers(1, max_kernel))
        s = draw(st.integers(1, max_stride))
        d = draw(st.integers(1, max_dilation))
        p = draw(st.integers(0, min(max_padding, k // 2) if pool else max_padding))
        smallest = max(1, d * (k - 1) + 1 - 2 * p)  # output size >= 1  <=>  L + 2p >= d(k-1)+1
        size = draw(st.integers(smallest, max(smallest, max_size)))
        rows.append((size, k, s, p, d))
    return tuple(zip(*rows))


def conv_args(dims: int = 2, max_batch: int = 2, max_in_channels: int = 3,
              max_out_channels: int = 3, max_size: int = 6, max_kernel: int = 3,
              max_stride: int = 2, max_padding: int = 2, max_dilation: int = 2
              ) -> st.SearchStrategy[ConvArgs]:
    """Valid ``conv1d``/``conv2d`` argument sets: every output side is >= 1 (PyTorch's rule).

    A spatial side may exceed ``max_size`` when a dilated kernel needs it.
    """
    fn = "conv_args"
    dims = _check_int(fn, "dims", dims, 1)
    for name, v in (("max_batch", max_batch), ("max_in_channels", max_in_channels),
                    ("max_out_channels", max_out_channels), ("max_size", max_size),
                    ("max_kernel", max_kernel), ("max_stride", max_stride),
                    ("max_dilation", max_dilation)):
        _check_int(fn, name, v, 1)
    _check_int(fn, "max_padding", max_padding, 0)

    @st.composite
    def draw_conv(draw):
        n = draw(st.integers(1, max_batch))
        c_in = draw(st.integers(1, max_in_channels))
        c_out = draw(st.integers(1, max_out_channels))
        sizes, ks, ss, ps, ds = draw(_window_dims(dims, max_size, max_kernel, max_stride,
                                                  max_padding, max_dilation, pool=False))
        return ConvArgs((n, c_in) + sizes, (c_out, c_in) + ks, ss, ps, ds)

    return draw_conv()


def pool_args(dims: int = 2, max_batch: int = 2, max_channels: int = 3, max_size: int = 6,
              max_kernel: int = 3, max_stride: int = 2, max_padding: int = 1,
              max_dilation: int = 1) -> st.SearchStrategy[PoolArgs]:
    """Valid pooling argument sets: padding <= kernel // 2 (PyTorch's rule), output >= 1.

    ``dilation`` is 1 unless ``max_dilation`` > 1 (only max-pool accepts it in PyTorch).
    """
    fn = "pool_args"
    dims = _check_int(fn, "dims", dims, 1)
    for name, v in (("max_batch", max_batch), ("max_channels", max_channels),
                    ("max_size", max_size), ("max_kernel", max_kernel),
                    ("max_stride", max_stride), ("max_dilation", max_dilation)):
        _check_int(fn, name, v, 1)
    _check_int(fn, "max_padding", max_padding, 0)

    @st.composite
    def draw_pool(draw):
        n = draw(st.integers(1, max_batch))
        c = draw(st.integers(1, max_channels))
        sizes, ks, ss, ps, ds = draw(_window_dims(dims, max_size, max_kernel, max_stride,
                                                  max_padding, max_dilation, pool=True))
        return PoolArgs((n, c) + sizes, ks, ss, ps, ds)

    return draw_pool()


# ----------------------------------------------------------------------------- sequences
@dataclass(frozen=True)
class SequenceBatch:
    """A recurrent input: (T, N, I), or (N, T, I) when ``batch_first``."""

    input: Tensor
    batch_first: bool

    @property
    def seq_len(self) -> int:
        return self.input.shape[1 if self.batch_first else 0]

    @property
    def batch(self) -> int:
        return self.input.shape[0 if self.batch_first else 1]

    @property
    def input_size(self) -> int:
        return self.input.shape[2]


def sequences(min_len: int = 1, max_len: int = 5, max_batch: int = 3,
              input_size: int | None = None, max_input_size: int = 4,
              batch_first: bool | None = None, dtype: object = np.float64,
              requires_grad: bool = True, contiguous: bool | None = None
              ) -> st.SearchStrategy[SequenceBatch]:
    """Recurrent inputs (T, N, I) (or (N, T, I) when ``batch_first``; None draws either).

    ``input_size`` fixes I (a layer's ``input_size``); otherwise it is drawn up to
    ``max_input_size``.
    """
    fn = "sequences"
    min_len, max_len = _check_range(fn, "min_len", min_len, "max_len", max_len, 1)
    _check_int(fn, "max_batch", max_batch, 1)
    if input_size is not None:
        _check_int(fn, "input_size", input_size, 1)
    _check_int(fn, "max_input_size", max_input_size, 1)
    if batch_first not in (None, True, False):
        raise TypeError(f"{fn}: batch_first must be None, True or False, got {batch_first!r}")

    @st.composite
    def draw_seq(draw):
        t = draw(st.integers(min_len, max_len))
        n = draw(st.integers(1, max_batch))
        i = input_size if input_size is not None else draw(st.integers(1, max_input_size))
        bf = draw(st.booleans()) if batch_first is None else batch_first
        shape = (n, t, i) if bf else (t, n, i)
        x = draw(tensors(shape, dtype, requires_grad, contiguous))
        return SequenceBatch(x, bf)

    return draw_seq()
