"""BatchNorm1d/2d, GroupNorm and Dropout1d/2d modules: PyTorch parity step by step, buffers in
the state dict, train/eval, channel-dropout statistics, errors."""

import math

import numpy as np
import pytest

import tinymm as tm
from tinymm import nn


def _torch():
    return pytest.importorskip("torch")


def _load_into_torch(torch, ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("kind, shape", [("1d", (6, 3)), ("1d", (4, 3, 5)), ("2d", (4, 3, 2, 3))])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"momentum": 0.5, "affine": False},
                                    {"track_running_stats": False}, {"eps": 1e-3}])
def test_batch_norm_steps_match_torch(backend, kind, shape, kwargs):
    """Three training steps (forward, backward, SGD), then eval: outputs, gradients and every
    buffer equal PyTorch's after each step."""
    torch = _torch()
    cls = {"1d": (nn.BatchNorm1d, torch.nn.BatchNorm1d), "2d": (nn.BatchNorm2d, torch.nn.BatchNorm2d)}
    ours, theirs = cls[kind][0](3, **kwargs).double(), cls[kind][1](3, **kwargs).double()
    rng = np.random.default_rng(0)
    if ours.weight is not None:  # non-trivial affine parameters, copied into torch
        ours.weight.data[...] = rng.uniform(0.5, 1.5, 3)
        ours.bias.data[...] = rng.uniform(-1, 1, 3)
    _load_into_torch(torch, ours, theirs)
    with tm.backend(backend):
        for step in range(3):
            x = rng.standard_normal(shape) * (step + 1) + step
            g = rng.standard_normal(shape)
            xt = tm.tensor(x, requires_grad=True)
            xr = torch.tensor(x, requires_grad=True)
            y, yr = ours(xt), theirs(xr)
            (y * tm.tensor(g)).sum().backward()
            (yr * torch.tensor(g)).sum().backward()
            np.testing.assert_allclose(y.data, yr.detach().numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-9, atol=1e-11)
            for (name, p), pr in zip(ours.named_parameters(), theirs.parameters()):
                np.testing.assert_allclose(p.grad, pr.grad.numpy(), rtol=1e-9, atol=1e-11,
                                           err_msg=name)
                p.data -= 0.1 * p.grad
                p.grad = None
                with torch.no_grad():
                    pr -= 0.1 * pr.grad
                    pr.grad = None
            ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
            assert list(ours_sd) == list(theirs_sd)
            for k in ours_sd:
                np.testing.assert_allclose(ours_sd[k], theirs_sd[k].numpy(), rtol=1e-12,
                                           atol=1e-13, err_msg=f"step {step}: {k}")
        ours.eval()
        theirs.eval()
        x = rng.standard_normal(shape)
        np.testing.assert_allclose(ours(tm.tensor(x)).data,
                                   theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_buffers_and_state_dict_round_trip_with_torch():
    torch = _torch()
    ours = nn.BatchNorm2d(4)
    sd = ours.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [p for p, _ in ours.named_parameters()] == ["weight", "bias"]
    expected = {k: (v.numpy().dtype, tuple(v.shape)) for k, v in torch.nn.BatchNorm2d(4).state_dict().items()}
    assert {k: (v.dtype, v.shape) for k, v in sd.items()} == expected
    ours(tm.randn(3, 4, 2, 2))
    ours(tm.randn(3, 4, 2, 2))
    assert int(ours.num_batches_tracked) == 2 and int(sd["num_batches_tracked"]) == 2  # shared
    theirs = torch.nn.BatchNorm2d(4)
    _load_into_torch(torch, ours, theirs)  # strict: every key and shape matches
    np.testing.assert_array_equal(theirs.running_var.numpy(), ours.running_var)
    back = nn.BatchNorm2d(4)
    back.load_state_dict(theirs.state_dict())
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    no_stats = nn.BatchNorm1d(4, track_running_stats=False, affine=False)
    assert list(no_stats.state_dict()) == list(
        torch.nn.BatchNorm1d(4, track_running_stats=False, affine=False).state_dict()) == []
    assert no_stats.running_mean is None


def test_batch_norm_eval_uses_running_stats_and_to_keeps_the_counter_int():
    bn = nn.BatchNorm1d(2)
    bn.running_mean[...] = [1.0, -1.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.eval()
    y = bn(tm.tensor(np.array([[3.0, 0.0]], np.float32)))
    np.testing.assert_allclose(y.data, [[2.0 / math.sqrt(4 + 1e-5), 1.0 / math.sqrt(0.25 + 1e-5)]],
                               rtol=1e-6)
    assert int(bn.num_batches_tracked) == 0  # eval does not count batches
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    assert repr(bn) == ("BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, "
                        "track_running_stats=True)")


def test_batch_norm_module_rejects_bad_input():
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input, got 4D"):
        nn.BatchNorm1d(3)(tm.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input, got 3D"):
        nn.BatchNorm2d(3)(tm.randn(2, 3, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input with 3 channels"):
        nn.BatchNorm2d(3)(tm.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match="BatchNorm1d: num_features must be >= 1"):
        nn.BatchNorm1d(0)
    with pytest.raises(TypeError, match="BatchNorm1d: momentum must be a float or None"):
        nn.BatchNorm1d(3, momentum="0.1")
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(tm.randn(1, 3))
    with pytest.raises(TypeError, match="BatchNorm1d: input must be a Tensor"):
        nn.BatchNorm1d(3)(np.ones((2, 3)))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_group_norm_module_matches_torch(backend):
    torch = _torch()
    ours, theirs = nn.GroupNorm(2, 6).double(), torch.nn.GroupNorm(2, 6).double()
    rng = np.random.default_rng(1)
    ours.weight.data[...] = rng.uniform(0.5, 1.5, 6)
    ours.bias.data[...] = rng.standard_normal(6)
    _load_into_torch(torch, ours, theirs)
    x = rng.standard_normal((3, 6, 4))
    with tm.backend(backend):
        xt = tm.tensor(x, requires_grad=True)
        y = ours(xt)
        y.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    yr = theirs(xr)
    yr.sum().backward()
    np.testing.assert_allclose(y.data, yr.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-9, atol=1e-11)
    assert repr(ours) == "GroupNorm(2, 6, eps=1e-05, affine=True)"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="GroupNorm: expected input with 6 channels"):
        ours(tm.randn(2, 4, 3))


# ----------------------------------------------------------------------------- channel dropout
@pytest.mark.parametrize("fn, module, shape", [
    ("dropout1d", nn.Dropout1d, (200, 10, 7)),
    ("dropout2d", nn.Dropout2d, (200, 10, 3, 4)),
])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_channel_dropout_statistics(fn, module, shape, p):
    """Whole channels are zeroed, the fraction is binomial(p) within 5 sigma, the survivors
    are scaled by exactly 1/(1 - p), and the gradient is the same mask."""
    tm.manual_seed(0)
    x = tm.tensor(np.random.default_rng(0).uniform(1, 2, shape), requires_grad=True)
    y = getattr(tm.functional, fn)(x, p)
    channels = y.data.reshape(shape[0], shape[1], -1)
    zero = np.all(channels == 0, axis=2)
    kept = np.all(channels != 0, axis=2)
    assert np.all(zero | kept)  # every channel all zero or all kept
    n = zero.size
    assert abs(zero.sum() - n * p) <= 5 * math.sqrt(n * p * (1 - p))
    ratio = y.data.reshape(shape[0], shape[1], -1)[kept] / x.data.reshape(shape[0], shape[1], -1)[kept]
    np.testing.assert_allclose(ratio, 1 / (1 - p), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.data / x.data, rtol=1e-12)
    m = module(p)
    assert m.training and repr(m) == f"{module.__name__}(p={p}, inplace=False)"
    m.eval()
    assert m(x) is x  # identity in eval


def test_channel_dropout_unbatched_edge_cases_and_errors():
    import tinymm.functional as F

    tm.manual_seed(1)
    y = F.dropout1d(tm.ones(50, 6), 0.5)  # unbatched (C, L): whole rows
    assert set(np.unique(y.data)) <= {0.0, 2.0} and np.all(y.data.min(1) == y.data.max(1))
    y = F.dropout2d(tm.ones(40, 3, 3, 1), 0.5, training=False)
    np.testing.assert_array_equal(y.data, 1.0)
    with pytest.warns(UserWarning, match="dropout2d: received a 3-D input"):
        F.dropout2d(tm.ones(4, 3, 5), 0.5)
    np.testing.assert_array_equal(F.dropout1d(tm.ones(2, 3, 4), 1.0).data, 0.0)
    with pytest.raises(ValueError, match=r"dropout1d: input must be 2-D \(C, L\) or 3-D"):
        F.dropout1d(tm.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"dropout2d: input must be 3-D \(C, H, W\) or 4-D"):
        F.dropout2d(tm.ones(2, 3))
    with pytest.raises(ValueError, match=r"dropout1d: p must be in \[0, 1\], got 1.5"):
        F.dropout1d(tm.ones(2, 3), 1.5)
    with pytest.raises(TypeError, match="dropout2d: input must be a Tensor"):
        F.dropout2d(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"Dropout2d: p must be in \[0, 1\]"):
        nn.Dropout2d(-0.1)


def test_channel_dropout_matches_torch_in_eval_and_with_p_zero():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    for p, training in ((0.5, False), (0.0, True)):
        ours = tm.functional.dropout2d(tm.tensor(x), p, training)
        ref = torch.nn.functional.dropout2d(torch.tensor(x), p, training)
        np.testing.assert_array_equal(ours.data, ref.numpy())
