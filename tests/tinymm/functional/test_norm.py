"""layer_norm: PyTorch parity on both backends, gradcheck, errors.

Tolerances: assert_matches_torch's defaults (float32 rtol 1e-4 / atol 1e-5, float64
1e-7 / 1e-9); gradcheck in float64 with assert_gradients_close's defaults.
"""

import numpy as np
import pytest

import tinymm as tm
from tinymm.functional.norm import layer_norm
from tinymm.testing import assert_gradients_close, assert_matches_torch


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with tm.backend(request.param):
        yield request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", [((4, 7), 7), ((2, 3, 5), (3, 5)), ((6,), [6]),
                                              ((2, 3, 4), (2, 3, 4))])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_matches_torch(backend, dtype, shape, normalized, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ns = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w = rng.standard_normal(ns).astype(dtype)
    b = rng.standard_normal(ns).astype(dtype)
    use_w, use_b = affine in ("both", "weight"), affine in ("both", "bias")
    assert_matches_torch(
        lambda x, w, b: layer_norm(x, normalized, w if use_w else None, b if use_b else None),
        lambda x, w, b: torch.nn.functional.layer_norm(x, ns, w if use_w else None,
                                                       b if use_b else None),
        x, w, b, names=("input", "weight", "bias"),
        requires_grad=(True, use_w, use_b),
    )


def test_eps_and_non_contiguous_input_match_torch(backend):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((5, 4, 3)).transpose(2, 0, 1)  # (3, 5, 4) view
    assert not x.flags.c_contiguous
    assert_matches_torch(lambda t: layer_norm(t, 4, eps=0.1),
                         lambda t: torch.nn.functional.layer_norm(t, (4,), eps=0.1), x)


@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(backend, affine):
    rng = np.random.default_rng(2)
    x = tm.tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    w = tm.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    b = tm.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    if affine:
        assert_gradients_close(lambda x, w, b: layer_norm(x, (2, 5), w, b), x, w, b,
                               names=("input", "weight", "bias"))
    else:
        assert_gradients_close(lambda x: layer_norm(x, 5), x, names=("input",))


def test_statistics_and_dtype(backend):
    x = tm.randn(8, 16, dtype=tm.float32) * 3 + 2
    y = layer_norm(x, 16).data
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(-1), 1, rtol=1e-3)


def test_bad_inputs():
    x = tm.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"layer_norm.*normalized_shape=\[3\].*\(2, 3, 4\)"):
        layer_norm(x, 3)
    with pytest.raises(ValueError, match="layer_norm.*normalized_shape"):
        layer_norm(x, (5, 2, 3, 4))
    with pytest.raises(ValueError, match="layer_norm.*weight"):
        layer_norm(x, 4, weight=tm.ones(3))
    with pytest.raises(ValueError, match="layer_norm.*bias"):
        layer_norm(x, 4, bias=tm.ones(4, 1))
    with pytest.raises(TypeError, match="layer_norm.*normalized_shape"):
        layer_norm(x, 4.0)
    with pytest.raises(ValueError, match="layer_norm.*normalized_shape"):
        layer_norm(x, ())
    with pytest.raises(TypeError, match="layer_norm.*dtype"):
        layer_norm(x, 4, weight=tm.ones(4, dtype=tm.float64))
    with pytest.raises(TypeError, match="layer_norm.*input"):
        layer_norm(x.data, 4)
    with pytest.raises(ValueError, match="layer_norm.*eps"):
        layer_norm(x, 4, eps=-1.0)
