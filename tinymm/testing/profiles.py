"""Hypothesis profiles for tinymm's tests: ``ci`` (fast), ``dev`` (default), ``thorough``.

    # tests/conftest.py
    from tinymm.testing import register_profiles
    register_profiles()

The profile is chosen by the environment variable ``TINYMM_HYPOTHESIS_PROFILE``:

    TINYMM_HYPOTHESIS_PROFILE=thorough python -m pytest tests/

Every profile has ``deadline=None``: the first example of a test may compile Numba
kernels (seconds), which hypothesis would otherwise report as a flaky timeout.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["register_profiles", "PROFILES", "ENV_VAR"]

ENV_VAR = "TINYMM_HYPOTHESIS_PROFILE"
# name -> max_examples
PROFILES = {"ci": 12, "dev": 30, "thorough": 300}


def register_profiles(default: str = "dev", load: bool = True) -> str:
    """Register the ``ci``/``dev``/``thorough`` profiles and (if ``load``) load the chosen one.

    The choice is ``$TINYMM_HYPOTHESIS_PROFILE`` or ``default``. ``ci`` is derandomized
    (the same examples on every run, so CI failures reproduce). Returns the profile name.

    >>> import tinymm.testing as tmt
    >>> tmt.register_profiles(default="ci", load=False) in ("ci", "dev", "thorough")
    True
    """
    if default not in PROFILES:
        raise ValueError(f"register_profiles: default must be one of {tuple(PROFILES)}, "
                         f"got {default!r}")
    # JIT compilation makes the first examples slow; that is not a property of the test.
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    for name, n in PROFILES.items():
        settings.register_profile(
            name, max_examples=n, deadline=None, suppress_health_check=quiet,
            derandomize=(name == "ci"), print_blob=True,
        )
    chosen = os.environ.get(ENV_VAR, "") or default
    if chosen not in PROFILES:
        raise ValueError(f"register_profiles: ${ENV_VAR} must be one of {tuple(PROFILES)}, "
                         f"got {chosen!r}")
    if load:
        settings.load_profile(chosen)
    return chosen
