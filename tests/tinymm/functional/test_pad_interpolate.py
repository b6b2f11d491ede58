"""F.pad, F.interpolate / nn.Upsample, F.bilinear / nn.Bilinear, nn.Unflatten, nn.ParameterList:
PyTorch parity (forward and input/weight gradients), gradcheck, argument errors.

pad and nearest interpolation move values exactly (gradients add at most a few terms, so
they agree to 1e-15); linear modes and bilinear are short float64 sums: rtol 1e-12.
"""

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-12, atol=1e-14)


def _check(fn_m, fn_t, arrays, tol=TOL, seed=0):
    mine = [tm.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ym, yt = fn_m(*mine), fn_t(*theirs)
    assert ym.shape == tuple(yt.shape)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **tol)
    r = np.random.default_rng(seed).standard_normal(ym.shape)
    (ym * tm.tensor(r)).sum().backward()
    (yt * torch.from_numpy(r)).sum().backward()
    for i, (a, b) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **tol, err_msg=f"argument {i}")


PADS = [
    ("constant", (2, 3, 4), (1, 2), 1.5),
    ("constant", (2, 3, 4, 5), (-1, 2, 0, 1, 1, 1), 0.0),
    ("constant", (3,), (2, 0), None),
    ("reflect", (2, 3, 5), (2, 4), None),
    ("reflect", (3, 4, 5), (1, 3, 2, 3), None),
    ("reflect", (1, 2, 3, 4, 5), (1, 2, 3, 2, 1, 2), None),
    ("replicate", (1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 6), None),
    ("replicate", (3, 4), (5, 1), None),
    ("circular", (2, 3, 4, 5), (1, 4, 2, 0), None),
]


@pytest.mark.parametrize("mode,shape,pad,value", PADS)
def test_pad_matches_torch(mode, shape, pad, value):
    x = np.random.default_rng(1).standard_normal(shape)
    _check(lambda t: F.pad(t, pad, mode, value), lambda t: TF.pad(t, pad, mode, value), [x])


INTERPOLATIONS = [
    ((2, 3, 5), dict(size=8, mode="nearest")),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5, 7), dict(scale_factor=(1.7, 0.6), mode="nearest")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.5, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=0.4, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 5, 7), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 6), dict(scale_factor=2.5, mode="linear", align_corners=True)),
    ((1, 2, 3, 4, 5), dict(size=(4, 3, 7), mode="trilinear")),
]


@pytest.mark.parametrize("shape,kwargs", INTERPOLATIONS)
def test_interpolate_and_upsample_match_torch(shape, kwargs):
    x = np.random.default_rng(2).standard_normal(shape)
    _check(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), [x])
    _check(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), [x])


def test_interpolate_float32_keeps_dtype():
    x = tm.randn(1, 2, 3, 4)
    y = F.interpolate(x, scale_factor=2, mode="bilinear")
    assert y.dtype == np.float32
    want = TF.interpolate(torch.from_numpy(x.data), scale_factor=2, mode="bilinear")
    # float32: each output is a convex combination of 4 inputs, error ~ 4 ulp of max |x|
    np.testing.assert_allclose(y.data, want.numpy(), rtol=1e-6, atol=1e-6)


def test_bilinear_matches_torch():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4)),
              rng.standard_normal((6, 3, 4)), rng.standard_normal(6)]
    _check(F.bilinear, TF.bilinear, arrays)
    mine, theirs = nn.Bilinear(3, 4, 6, dtype=np.float64), torch.nn.Bilinear(3, 4, 6).double()
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    _check(mine, theirs, arrays[:2])
    bound = 1 / np.sqrt(30)
    w = nn.Bilinear(30, 4, 50).weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound


def test_gradchecks():
    rng = np.random.default_rng(4)
    x = tm.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert tm.gradcheck(lambda t: F.pad(t, (2, 1, 1, 2), "reflect"), (x,))
    assert tm.gradcheck(lambda t: F.pad(t, (3, 1, 2, 2), "replicate"), (x,))
    assert tm.gradcheck(lambda t: F.interpolate(t, size=(5, 7), mode="bilinear"), (x,))
    a = tm.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = tm.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    w = tm.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True)
    assert tm.gradcheck(F.bilinear, (a, b, w))


def test_unflatten_and_parameter_list():
    x = np.random.default_rng(5).standard_normal((4, 6, 5))
    _check(nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3)), [x])
    _check(nn.Unflatten(-1, (5, -1)), torch.nn.Unflatten(-1, (5, -1)), [x])
    with pytest.raises(ValueError, match=r"Unflatten: unflattened_size \(4, 2\) does not match"):
        nn.Unflatten(1, (4, 2))(tm.tensor(x))
    ps = nn.ParameterList([nn.Parameter(np.zeros(2)), tm.ones(3)])
    ps.append(np.ones((2, 2)))
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.ones(3),
                                     torch.ones(2, 2)])
    assert list(ps.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) for p in ps) and len(ps) == 3
    assert len(list(nn.Sequential(nn.Linear(2, 2)).parameters())) == 2

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = ps

    assert [n for n, _ in Holder().named_parameters()] == ["ps.0", "ps.1", "ps.2"]
    with pytest.raises(TypeError, match="ParameterList.append: expected a Parameter"):
        ps.append(nn.Linear(2, 2))
    with pytest.raises(IndexError, match="ParameterList: index 5 out of range"):
        ps[5]


def test_errors():
    x = tm.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match="pad: pad must hold an even number"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(TypeError, match="pad: pad must be a tuple of ints"):
        F.pad(x, (1.0, 2.0))
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="pad: mode='reflect' pads at most 3 on each side"):
        F.pad(tm.zeros(2, 4), (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode='replicate' pads the last 1, 2 or 3 dims"):
        F.pad(tm.zeros(5), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="pad: pad .* crops more than"):
        F.pad(x, (-3, -2))
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: mode='bilinear' needs a 4-D input"):
        F.interpolate(tm.zeros(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="interpolate: align_corners can only be set"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(TypeError, match="interpolate: size must be a number or a sequence of 2"):
        F.interpolate(x, size=(4, 4, 4))
    with pytest.raises(ValueError, match="interpolate: scale_factor must be > 0"):
        F.interpolate(x, scale_factor=-1.0)
    with pytest.raises(ValueError, match="Upsample: mode must be one of"):
        nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="bilinear: inputs have 3 and 2 features"):
        F.bilinear(tm.zeros(4, 3), tm.zeros(4, 2), tm.zeros(5, 3, 3))
    with pytest.raises(ValueError, match="bilinear: input1 .* must have the same leading dims"):
        F.bilinear(tm.zeros(4, 3), tm.zeros(3, 2), tm.zeros(5, 3, 2))
