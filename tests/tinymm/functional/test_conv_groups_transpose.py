"""Grouped/depthwise convolutions and conv_transpose2d: PyTorch parity (forward and every
gradient) on both backends, Numba vs NumPy kernel twins, gradcheck, argument errors.

Float64 parity tolerance rtol 1e-10 / atol 1e-12: each output is a sum of at most
C·kh·kw ≤ 100 products of O(1) values, so the two summation orders differ by ~1e-14.
"""

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-10, atol=1e-12)

# (C_in, C_out, groups, kernel, stride, padding, dilation)
GROUPED = [
    (4, 6, 2, 3, 1, 1, 1),
    (4, 4, 4, 3, 2, 1, 1),  # depthwise
    (3, 6, 3, (3, 2), (2, 1), (0, 1), (1, 2)),  # depthwise with multiplier 2
    (6, 6, 3, 1, 1, 0, 1),
    (8, 4, 4, 2, 2, 0, 1),
]
# (C_in, C_out, groups, kernel, stride, padding, output_padding, dilation)
TRANSPOSED = [
    (4, 6, 1, 3, 2, 1, 1, 1),
    (4, 6, 2, 3, 2, 0, 0, 1),
    (3, 3, 3, (3, 2), (2, 3), (1, 0), (1, 2), (1, 2)),
    (2, 4, 1, 1, 2, 0, 1, 1),
    (4, 4, 4, 3, 1, 1, 0, 2),
]


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


def _check(fn_m, fn_t, arrays, seed=0):
    mine = [tm.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ym, yt = fn_m(*mine), fn_t(*theirs)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **TOL)
    r = np.random.default_rng(seed).standard_normal(ym.shape)
    (ym * tm.tensor(r)).sum().backward()
    (yt * torch.from_numpy(r)).sum().backward()
    for i, (a, b) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"argument {i}")


def _kernel(k):
    return (k, k) if isinstance(k, int) else k


@pytest.mark.parametrize("case", GROUPED)
def test_grouped_conv2d_matches_torch(backend, case):
    c_in, c_out, g, k, s, p, d = case
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, c_in, 7, 8)),
              rng.standard_normal((c_out, c_in // g, *_kernel(k))), rng.standard_normal(c_out)]
    _check(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g),
           lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g), arrays)


def test_grouped_conv1d_matches_torch(backend):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 4, 11)), rng.standard_normal((8, 2, 3))]
    _check(lambda x, w: F.conv1d(x, w, None, 2, 1, 2, 2),
           lambda x, w: TF.conv1d(x, w, None, 2, 1, 2, 2), arrays)


@pytest.mark.parametrize("case", TRANSPOSED)
def test_conv_transpose2d_matches_torch(backend, case):
    c_in, c_out, g, k, s, p, op, d = case
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, c_in, 5, 6)),
              rng.standard_normal((c_in, c_out // g, *_kernel(k))), rng.standard_normal(c_out)]
    _check(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d),
           lambda x, w, b: TF.conv_transpose2d(x, w, b, s, p, op, g, d), arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", GROUPED)
def test_grouped_kernels_numba_equals_numpy(case, dtype):
    c_in, c_out, g, k, s, p, d = case
    s, p, d = (tuple(v) if isinstance(v, tuple) else (v, v) for v in (s, p, d))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, c_in, 6, 9)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // g, *_kernel(k))).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    # float32 sums of ≤ 100 terms of size ≤ ~10: a few 1e-6 relative at worst
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else TOL
    outs = {}
    for name in ("numba", "numpy"):
        with kernels.backend(name):
            y = kernels.get("conv2d_grouped_forward")(x, w, b, s, p, d, g)
            grads = kernels.get("conv2d_grouped_backward")(np.ones_like(y) * 0.5 + y, x, w, s,
                                                           p, d, g)
            outs[name] = (y, *grads)
    for a, b_ in zip(outs["numba"], outs["numpy"]):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b_, **tol)


def test_gradcheck_depthwise_and_transpose():
    rng = np.random.default_rng(5)
    x = tm.tensor(rng.standard_normal((1, 3, 5, 5)), requires_grad=True)
    w = tm.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    assert tm.gradcheck(lambda a, b: F.conv2d(a, b, None, 1, 1, 1, 3), (x, w))
    wt = tm.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert tm.gradcheck(lambda a, b: F.conv_transpose2d(a, b, None, 2, 1, 1), (x, wt))


def test_modules_match_torch(backend):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 6, 6))
    for mine, theirs in (
        (tm.nn.Conv2d(4, 8, 3, padding=1, groups=4, dtype=np.float64),
         torch.nn.Conv2d(4, 8, 3, padding=1, groups=4).double()),
        (tm.nn.Conv1d(4, 4, 3, groups=2, dtype=np.float64),
         torch.nn.Conv1d(4, 4, 3, groups=2).double()),
        (tm.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                               dtype=np.float64),
         torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                  groups=2).double()),
    ):
        assert {k: v.shape for k, v in mine.state_dict().items()} == {
            k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        inp = x[:, :, 0] if isinstance(mine, tm.nn.Conv1d) else x
        np.testing.assert_allclose(mine(tm.tensor(inp)).data,
                                   theirs(torch.from_numpy(inp)).detach().numpy(), **TOL)


def test_conv_transpose_output_size_and_init_bounds():
    m = tm.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, dtype=np.float64)
    t = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((1, 3, 5, 5))
    out_m = m(tm.tensor(x), output_size=(10, 10))
    out_t = t(torch.from_numpy(x), output_size=(10, 10))
    assert out_m.shape == (1, 4, 10, 10)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), **TOL)
    with pytest.raises(ValueError, match="ConvTranspose2d: output_size .* is not reachable"):
        m(tm.tensor(x), output_size=(12, 12))
    # PyTorch's init: U(±1/√fan_in) with fan_in = weight.shape[1]·kH·kW = 4·9
    bound = 1 / np.sqrt(36)
    big = tm.nn.ConvTranspose2d(64, 4, 3)
    assert np.abs(big.weight.data).max() <= bound and np.abs(big.weight.data).max() > 0.9 * bound


def test_errors():
    x = tm.zeros(1, 4, 5, 5)
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels but weight expects 6"):
        F.conv2d(x, tm.zeros(6, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="conv2d: out_channels .* must be divisible by groups=2"):
        F.conv2d(x, tm.zeros(5, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="conv2d: groups must be >= 1"):
        F.conv2d(x, tm.zeros(4, 4, 3, 3), groups=0)
    with pytest.raises(ValueError, match="Conv2d: in_channels=4 must be divisible by groups=3"):
        tm.nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding .* must be smaller"):
        F.conv_transpose2d(x, tm.zeros(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose2d: input has 4 channels but weight"):
        F.conv_transpose2d(x, tm.zeros(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias must have shape \(4,\)"):
        F.conv_transpose2d(x, tm.zeros(4, 2, 3, 3), tm.zeros(2), groups=2)
    with pytest.raises(ValueError, match="conv_transpose2d: the output would be"):
        F.conv_transpose2d(tm.zeros(1, 4, 1, 1), tm.zeros(4, 2, 1, 1), padding=1)


@pytest.mark.parametrize("case", [(4, 6, 2, 3, 2, 1, 1, 1), (3, 2, 1, 4, 3, 0, 2, 2)])
def test_conv_transpose1d_matches_torch(backend, case):
    c_in, c_out, g, k, s, p, op, d = case
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((2, c_in, 7)), rng.standard_normal((c_in, c_out // g, k)),
              rng.standard_normal(c_out)]
    _check(lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, op, g, d),
           lambda x, w, b: TF.conv_transpose1d(x, w, b, s, p, op, g, d), arrays)
    mine = tm.nn.ConvTranspose1d(c_in, c_out, k, s, p, op, g, dilation=d, dtype=np.float64)
    theirs = torch.nn.ConvTranspose1d(c_in, c_out, k, s, p, op, g, dilation=d).double()
    mine.load_state_dict({k_: v.detach().numpy() for k_, v in theirs.state_dict().items()})
    np.testing.assert_allclose(mine(tm.tensor(arrays[0])).data,
                               theirs(torch.from_numpy(arrays[0])).detach().numpy(), **TOL)
    unbatched = mine(tm.tensor(arrays[0][0]))
    assert unbatched.shape == theirs(torch.from_numpy(arrays[0][0])).shape


def test_conv_transpose1d_errors():
    with pytest.raises(ValueError, match="conv_transpose1d: output_padding .* must be smaller"):
        F.conv_transpose1d(tm.zeros(1, 4, 5), tm.zeros(4, 2, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose1d: weight must be 3-D"):
        F.conv_transpose1d(tm.zeros(1, 4, 5), tm.zeros(4, 2, 3, 3))
    with pytest.raises(TypeError, match="conv_transpose1d: stride must be an int"):
        F.conv_transpose1d(tm.zeros(1, 4, 5), tm.zeros(4, 2, 3), stride=(1, 2))
