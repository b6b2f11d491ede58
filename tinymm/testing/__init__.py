"""``tinymm.testing``: a property-testing kit for tinymm ops (strategies, assertions, profiles).

Importing this module imports hypothesis (``pip install hypothesis``); nothing else in
tinymm does. A new op is property-tested in a few lines::

    from hypothesis import given
    import tinymm.testing as tmt
    from tinymm.testing import strategies as tst

    @given(tst.tensors(shape=tst.shapes(max_dims=3)))
    def test_softplus_gradient(x):
        tmt.assert_gradients_close(softplus, x)

See ``docs/testing.md``.
"""

from . import strategies, tolerance
from .assertions import (
    MissingDependency,
    NoNumbaTwin,
    assert_backends_agree,
    assert_gradients_close,
    assert_matches_torch,
)
from .profiles import ENV_VAR, PROFILES, register_profiles
from .tolerance import assert_close_to_reference

__all__ = [
    "strategies", "assert_gradients_close", "assert_matches_torch", "assert_backends_agree",
    "MissingDependency", "NoNumbaTwin", "register_profiles", "PROFILES", "ENV_VAR", "tolerance",
    "assert_close_to_reference",
]
