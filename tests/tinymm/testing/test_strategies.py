"""The kit's strategies draw what they promise: ranges, layouts, distinct values, layer args."""

import math

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import find as _find
from hypothesis import strategies as st

from tinymm import Tensor
from tinymm.testing import strategies as tst


def find(strategy, condition):
    """The first drawn example satisfying ``condition`` (no shrinking: we only need one)."""
    return _find(strategy, condition,
                 settings=settings(phases=[Phase.generate], database=None, max_examples=500))


# ----------------------------------------------------------------------------- shapes
@given(st.data(), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 4))
def test_shapes_stay_in_range(data, min_dims, extra_dims, min_side, extra_side):
    max_dims, max_side = min_dims + extra_dims, min_side + extra_side
    shape = data.draw(tst.shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple)
    assert min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(st.data(), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2), st.integers(2, 4))
def test_broadcastable_shapes_broadcast(data, num, min_dims, extra_dims, max_side):
    max_dims = min_dims + extra_dims
    shapes = data.draw(tst.broadcastable_shapes(num, min_dims, max_dims, 2, max_side))
    assert len(shapes) == num
    result = np.broadcast_shapes(*shapes)  # raises if they do not broadcast
    assert len(result) <= max_dims
    for s in shapes:
        assert min_dims <= len(s) <= max_dims
        assert all(n == 1 or 2 <= n <= max_side for n in s)


def test_broadcastable_shapes_really_broadcast_sometimes():
    pair = find(tst.broadcastable_shapes(2, 1, 3),
                lambda p: p[0] != p[1] and all(len(s) > 0 for s in p))
    result = np.broadcast_shapes(*pair)
    assert pair[0] != pair[1] and (result != pair[0] or result != pair[1])


# ----------------------------------------------------------------------------- arrays
@given(tst.arrays(tst.shapes(0, 3), np.float64, min_value=-1.5, max_value=0.5))
def test_arrays_bounded_and_finite(a):
    assert a.dtype == np.float64
    assert np.all(np.isfinite(a))
    assert np.all((a >= -1.5) & (a <= 0.5))


@given(tst.arrays((2, 3), np.float32))
def test_arrays_keep_float32(a):
    assert a.dtype == np.float32 and a.shape == (2, 3)


@given(tst.arrays((4,), np.float32, min_value=0.1, max_value=0.7))
def test_float32_bounds_need_not_be_representable(a):
    assert np.all((a >= 0.1) & (a <= 0.7))


@given(tst.arrays(tst.shapes(1, 3, max_side=5), np.int64, min_value=-3, max_value=7))
def test_integer_arrays_in_range(a):
    assert a.dtype == np.int64 and np.all((a >= -3) & (a <= 7))


@given(tst.arrays(tst.shapes(1, 3, max_side=5), np.float64, distinct=True))
def test_distinct_values_are_distinct_and_separated(a):
    flat = np.sort(a.reshape(-1))
    assert len(np.unique(flat)) == flat.size
    if flat.size > 1:  # half a grid cell of (max - min) / n apart, far more than a FD step
        assert np.min(np.diff(flat)) >= 4.0 / (2 * flat.size) - 1e-12
    assert np.all((a >= -2) & (a <= 2))


@given(tst.arrays(tst.shapes(1, 2, max_side=4), np.int64, distinct=True, min_value=0,
                  max_value=50))
def test_distinct_integers(a):
    assert len(np.unique(a)) == a.size


@given(tst.arrays(tst.shapes(1, 3), np.float64, away_from=(0.0, 1.0), margin=0.1))
def test_away_from_keeps_values_off_kinks(a):
    assert np.all(np.abs(a) >= 0.1 - 1e-12)
    assert np.all(np.abs(a - 1.0) >= 0.1 - 1e-12)


def test_arrays_reject_bad_arguments():
    with pytest.raises(ValueError, match="arrays: min_value"):
        tst.arrays((2,), min_value=1.0, max_value=0.0).example()
    with pytest.raises(ValueError, match="arrays: distinct"):
        tst.arrays((2,), distinct=True, away_from=(0.0,))
    with pytest.raises(ValueError, match="arrays: distinct=True needs min_value < max_value"):
        tst.arrays((2,), distinct=True, min_value=1.0, max_value=1.0)
    with pytest.raises(TypeError, match="arrays: dtype"):
        tst.arrays((2,), np.complex128).example()


# ----------------------------------------------------------------------------- tensors
@given(tst.tensors(tst.shapes(0, 4)))
def test_tensors_are_float64_leaves_requiring_grad(x):
    assert isinstance(x, Tensor)
    assert x.dtype == np.float64 and x.requires_grad and x.is_leaf and x.grad is None
    assert np.all(np.isfinite(x.data))


@given(st.data(), tst.shapes(0, 3), st.sampled_from([None, True, False]))
def test_tensors_have_the_requested_shape_in_every_layout(data, shape, contiguous):
    x = data.draw(tst.tensors(shape, contiguous=contiguous))
    assert x.shape == shape


@given(tst.tensors(tst.shapes(1, 3), contiguous=True))
def test_contiguous_true_gives_c_contiguous_data(x):
    assert x.data.flags.c_contiguous


@given(tst.tensors(tst.shapes(1, 3, min_side=2), contiguous=False))
def test_contiguous_false_gives_views(x):
    assert not x.data.flags.c_contiguous


def test_default_layout_draws_both_views_and_contiguous_arrays():
    shape = (3, 4)
    view = find(tst.tensors(shape), lambda t: not t.data.flags.c_contiguous)
    plain = find(tst.tensors(shape), lambda t: t.data.flags.c_contiguous)
    assert view.shape == plain.shape == shape
    for layout in ("transposed", "strided", "reversed"):  # each layout is reachable
        find(tst.tensors(shape), lambda t, layout=layout: _layout(t.data) == layout)


def _layout(a):
    if a.flags.c_contiguous:
        return "contiguous"
    if any(s < 0 for s in a.strides):
        return "reversed"
    return "transposed" if a.flags.f_contiguous else "strided"


@given(st.data(), st.sampled_from(["transposed", "strided", "reversed"]))
def test_views_hold_the_same_values(data, layout):
    a = data.draw(tst.arrays((3, 2, 4)))
    v = tst._with_layout(a, layout)
    np.testing.assert_array_equal(v, a)
    assert not v.flags.c_contiguous


@given(tst.tensors((2, 3), dtype=np.int64, min_value=0, max_value=4))
def test_integer_tensors_do_not_require_grad(t):
    assert t.dtype == np.int64 and not t.requires_grad


@given(tst.tensors((5,), distinct=True, contiguous=False))
def test_distinct_tensor_views(x):
    assert len(np.unique(x.data)) == 5 and not x.data.flags.c_contiguous


def test_tensors_reject_bad_contiguous():
    with pytest.raises(TypeError, match="tensors: contiguous"):
        tst.tensors((2,), contiguous="yes")


# ----------------------------------------------------------------------------- layer args
@given(tst.conv_args(dims=2))
def test_conv_args_valid(a):
    n, c_in = a.input_shape[:2]
    assert a.weight_shape[1] == c_in and len(a.input_shape) == 4
    for size, k, s, p, d in zip(a.input_shape[2:], a.kernel_size, a.stride, a.padding,
                                a.dilation):
        assert k >= 1 and s >= 1 and p >= 0 and d >= 1
        assert (size + 2 * p - d * (k - 1) - 1) // s + 1 >= 1
    assert all(o >= 1 for o in a.output_shape)
    assert a.bias_shape == (a.weight_shape[0],)


@given(tst.pool_args(dims=2))
def test_pool_args_valid(a):
    for size, k, s, p in zip(a.input_shape[2:], a.kernel_size, a.stride, a.padding):
        assert 0 <= p <= k // 2 and s >= 1
        assert (size + 2 * p - k) // s + 1 >= 1
    assert a.dilation == (1, 1)
    assert all(o >= 1 for o in a.output_shape)


@given(st.data(), st.sampled_from([1, 2]))
def test_conv_args_accepted_by_torch(data, dims):
    torch = pytest.importorskip("torch")
    a = data.draw(tst.conv_args(dims=dims))
    conv = torch.nn.functional.conv1d if dims == 1 else torch.nn.functional.conv2d
    y = conv(torch.zeros(a.input_shape), torch.zeros(a.weight_shape), stride=a.stride,
             padding=a.padding, dilation=a.dilation)
    assert tuple(y.shape) == a.output_shape


@given(st.data(), st.sampled_from([1, 2]))
def test_pool_args_accepted_by_torch(data, dims):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    a = data.draw(tst.pool_args(dims=dims, max_dilation=2))
    x = torch.zeros(a.input_shape)
    mp = F.max_pool1d if dims == 1 else F.max_pool2d
    y = mp(x, a.kernel_size, a.stride, a.padding, a.dilation)
    assert tuple(y.shape) == a.output_shape
    if a.dilation == (1,) * dims:  # avg-pool has no dilation
        ap = F.avg_pool1d if dims == 1 else F.avg_pool2d
        assert tuple(ap(x, a.kernel_size, a.stride, a.padding).shape) == a.output_shape


def test_conv_output_size_formula():
    assert tst.conv_output_size(5, 3) == 3
    assert tst.conv_output_size(5, 3, stride=2, padding=1) == 3
    assert tst.conv_output_size(7, 3, dilation=2) == 3
    assert tst.conv_output_size(1, 3, padding=1) == 1


def test_layer_args_reject_bad_arguments():
    with pytest.raises(ValueError, match="conv_args: max_kernel"):
        tst.conv_args(max_kernel=0)
    with pytest.raises(TypeError, match="pool_args: dims"):
        tst.pool_args(dims=1.5)
    with pytest.raises(ValueError, match="shapes: min_dims"):
        tst.shapes(min_dims=3, max_dims=1)
    with pytest.raises(ValueError, match="sequences: min_len"):
        tst.sequences(min_len=0)


# ----------------------------------------------------------------------------- sequences
@given(tst.sequences(max_len=4, max_batch=3, input_size=5))
def test_sequences_shapes(s):
    t, n, i = s.seq_len, s.batch, s.input_size
    assert i == 5 and 1 <= t <= 4 and 1 <= n <= 3
    expected = (n, t, i) if s.batch_first else (t, n, i)
    assert s.input.shape == expected and s.input.requires_grad
    assert math.prod(expected) == s.input.data.size


@given(tst.sequences(batch_first=True, dtype=np.float32, requires_grad=False))
def test_sequences_batch_first_forced(s):
    assert s.batch_first and s.input.dtype == np.float32 and not s.input.requires_grad
