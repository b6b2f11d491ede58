"""Test-suite setup: hypothesis profiles (``TINYMM_HYPOTHESIS_PROFILE`` = ci | dev | thorough)."""

from tinymm.testing import register_profiles

register_profiles()
