"""The worked example of docs/testing.md, verbatim: a user's softplus, property-tested."""

import numpy as np
from hypothesis import given, settings

import tinymm as tm
import tinymm.testing as tmt
from tinymm.testing import strategies as tst


# --- begin docs/testing.md example ---
class Softplus(tm.Function):
    """softplus(x) = log(1 + eˣ);  d/dx = σ(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)  # log(e⁰ + eˣ) without overflow

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + np.exp(-x))


@settings(deadline=None)  # the first example may compile kernels or import torch (seconds)
@given(tst.tensors(shape=tst.shapes(max_dims=3), min_value=-5, max_value=5))
def test_softplus(x):
    tmt.assert_gradients_close(Softplus.apply, x)
    tmt.assert_matches_torch(Softplus.apply, lambda t: t.exp().log1p(), x.data)
# --- end docs/testing.md example ---


def test_docs_contain_the_example_verbatim():
    import pathlib

    here = pathlib.Path(__file__).read_text()
    example = here.split("# --- begin docs/testing.md example ---\n")[1]
    example = example.split("# --- end docs/testing.md example ---")[0]
    docs = pathlib.Path(__file__).parents[3] / "docs" / "testing.md"
    assert example.strip() in docs.read_text()
