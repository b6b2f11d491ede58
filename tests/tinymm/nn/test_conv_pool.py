"""nn.Conv1d / Conv2d / MaxPool1d / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d: PyTorch's
parameter names, shapes, init and repr; state dicts copied from torch give equal outputs and
gradients on both backends; constructor errors.

Tolerances: float32 forward / gradients rtol 1e-4, atol 1e-5 (different summation order).
"""

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm import kernels
from tinymm.nn.activation import ReLU
from tinymm.nn.containers import Sequential
from tinymm.nn.conv import Conv1d, Conv2d
from tinymm.nn.linear import Flatten
from tinymm.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not kernels.numba_available(), reason="numba is not available"))]
TOL = dict(rtol=1e-4, atol=1e-5)


def _torch():
    return pytest.importorskip("torch")


def _load_from_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def _compare_with_torch(module, torch_module, x):
    """Same input through both: outputs, input gradient and every parameter gradient."""
    torch = _torch()
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_module(xt)
    xm = tm.tensor(x, requires_grad=True)
    ym = module(xm)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **TOL)
    g = np.random.default_rng(0).standard_normal(ym.shape).astype(x.dtype)
    yt.backward(torch.from_numpy(g))
    ym.backward(tm.tensor(g))
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), **TOL)
    grads = dict(torch_module.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name].grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, bias=False),
                                    dict(kernel_size=(3, 2), dilation=(1, 2), padding=(2, 0)),
                                    dict(padding="same")])
def test_conv2d_with_torch_state_dict_matches_torch(backend, kwargs):
    torch = _torch()
    kwargs = {"kernel_size": 3, **kwargs}
    tconv = torch.nn.Conv2d(3, 5, **kwargs)
    conv = Conv2d(3, 5, **kwargs)
    assert [n for n, _ in conv.named_parameters()] == [n for n, _ in tconv.named_parameters()]
    _load_from_torch(conv, tconv)
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8)).astype(np.float32)
    with tm.backend(backend):
        _compare_with_torch(conv, tconv, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv1d_with_torch_state_dict_matches_torch(backend):
    torch = _torch()
    tconv = torch.nn.Conv1d(4, 6, 5, stride=2, padding=2, dilation=1)
    conv = Conv1d(4, 6, 5, stride=2, padding=2)
    _load_from_torch(conv, tconv)
    x = np.random.default_rng(2).standard_normal((3, 4, 17)).astype(np.float32)
    with tm.backend(backend):
        _compare_with_torch(conv, tconv, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_cnn_matches_torch(backend):
    """Conv -> ReLU -> MaxPool -> Conv -> ReLU -> AvgPool -> AdaptiveAvgPool -> Flatten."""
    torch = _torch()
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 6, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2, 1),
        torch.nn.AdaptiveAvgPool2d((2, 1)), torch.nn.Flatten())
    net = Sequential(Conv2d(3, 8, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(8, 6, 3), ReLU(),
                     AvgPool2d(2, 1), AdaptiveAvgPool2d((2, 1)), Flatten())
    _load_from_torch(net, tnet)
    x = np.random.default_rng(3).standard_normal((2, 3, 12, 11)).astype(np.float32)
    with tm.backend(backend):
        _compare_with_torch(net, tnet, x)


def test_torch_loads_a_tinymm_state_dict():
    torch = _torch()
    conv = Conv2d(2, 3, (2, 3))
    tconv = torch.nn.Conv2d(2, 3, (2, 3))
    tconv.load_state_dict({k: torch.from_numpy(v) for k, v in conv.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(conv(tm.tensor(x)).data,
                               tconv(torch.from_numpy(x)).detach().numpy(), **TOL)


def test_conv_parameters_shapes_and_default_init():
    tm.manual_seed(0)
    conv = Conv2d(16, 32, (3, 5))
    assert conv.weight.shape == (32, 16, 3, 5) and conv.bias.shape == (32,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(16 * 3 * 5)  # kaiming_uniform(a=√5) and the bias rule agree
    for p in (conv.weight, conv.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound  # spread over the whole interval
    assert abs(conv.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    tm.manual_seed(0)
    np.testing.assert_array_equal(Conv2d(16, 32, (3, 5)).weight.data, conv.weight.data)
    conv1 = Conv1d(4, 2, 3, bias=False)
    assert conv1.weight.shape == (2, 4, 3) and conv1.bias is None
    assert list(conv1.state_dict()) == ["weight"]
    assert Conv2d(1, 1, 1, dtype=tm.float64).weight.dtype == np.float64


def test_reprs_match_torch():
    torch = _torch()
    pairs = [
        (Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(3, 8, 3, padding=1)),
        (Conv2d(3, 8, (3, 2), 2, dilation=2, bias=False),
         torch.nn.Conv2d(3, 8, (3, 2), 2, dilation=2, bias=False)),
        (Conv2d(3, 8, 3, padding="same"), torch.nn.Conv2d(3, 8, 3, padding="same")),
        (Conv1d(3, 4, 5), torch.nn.Conv1d(3, 4, 5)),
        (MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (MaxPool2d((3, 2), 1, 1), torch.nn.MaxPool2d((3, 2), 1, 1)),
        (MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2)),
        (AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (AdaptiveAvgPool2d((3, None)), torch.nn.AdaptiveAvgPool2d((3, None))),
    ]
    for mine, theirs in pairs:
        assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pool_modules_match_torch(backend):
    torch = _torch()
    n = 2 * 3 * 9 * 8
    x = (np.random.default_rng(5).permutation(n).reshape(2, 3, 9, 8) / n).astype(np.float32)
    pairs = [(MaxPool2d(2), torch.nn.MaxPool2d(2)),
             (MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
             (AvgPool2d((3, 2), 1, (1, 0)), torch.nn.AvgPool2d((3, 2), 1, (1, 0))),
             (AdaptiveAvgPool2d(4), torch.nn.AdaptiveAvgPool2d(4)),
             (AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3)))]
    with tm.backend(backend):
        for mine, theirs in pairs:
            _compare_with_torch(mine, theirs, x)
        _compare_with_torch(MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1), x[:, :, 0])


def test_max_pool_module_return_indices():
    torch = _torch()
    x = np.random.default_rng(6).permutation(48).reshape(1, 3, 4, 4).astype(np.float32)
    out, idx = MaxPool2d(2, return_indices=True)(tm.tensor(x))
    tout, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    np.testing.assert_array_equal(out.data, tout.numpy())
    np.testing.assert_array_equal(idx.data, tidx.numpy())


@pytest.mark.parametrize("call,error,pattern", [
    (lambda: Conv2d(3, 8, 3, groups=2), ValueError, r"Conv2d: in_channels=3 must be divisible by groups=2"),
    (lambda: Conv1d(4, 4, 3, groups=3), ValueError, r"Conv1d: in_channels=4 must be divisible by groups=3"),
    (lambda: Conv2d(3, 8, 3, padding_mode="reflect"), ValueError, r"Conv2d: padding_mode"),
    (lambda: Conv2d(0, 8, 3), ValueError, r"Conv2d: in_channels must be >= 1"),
    (lambda: Conv2d(3, 8, 0), ValueError, r"Conv2d: kernel_size must be >= 1"),
    (lambda: Conv2d(3, 8, (3, 3, 3)), TypeError, r"Conv2d: kernel_size must be an int or"),
    (lambda: Conv2d(3, 8, 3, stride=2, padding="same"), ValueError,
     r"Conv2d: padding='same' is not supported for strided"),
    (lambda: Conv2d(3, 8, 3, padding="circular"), ValueError, r"Conv2d: padding must be"),
    (lambda: Conv1d(3, 8, 3, stride=0), ValueError, r"Conv1d: stride must be >= 1"),
    (lambda: MaxPool2d(2, padding=2), ValueError, r"MaxPool2d: padding \(2, 2\) must be at most"),
    (lambda: MaxPool2d(2, dilation=2), ValueError, r"MaxPool2d: dilation=2 is not supported"),
    (lambda: MaxPool1d(2, ceil_mode=True), ValueError, r"MaxPool1d: ceil_mode=True"),
    (lambda: AvgPool2d(2, count_include_pad=False), ValueError,
     r"AvgPool2d: count_include_pad=False is not supported"),
    (lambda: AdaptiveAvgPool2d((0, 2)), ValueError, r"AdaptiveAvgPool2d: output_size"),
    (lambda: AdaptiveAvgPool2d((1, 2, 3)), TypeError, r"AdaptiveAvgPool2d: output_size"),
])
def test_modules_reject_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_conv_module_reports_channel_mismatch_at_call():
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels but weight expects 3"):
        Conv2d(3, 8, 3)(tm.randn(1, 4, 8, 8))
