"""register_profiles: three profiles, chosen by TINYMM_HYPOTHESIS_PROFILE, JIT-friendly."""

import pytest
from hypothesis import settings

from tinymm.testing import ENV_VAR, register_profiles


def test_profiles_registered_with_expected_sizes(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert register_profiles(load=False) == "dev"
    ci, dev, thorough = (settings.get_profile(n) for n in ("ci", "dev", "thorough"))
    assert 10 <= ci.max_examples <= 15
    assert dev.max_examples == 30 and thorough.max_examples == 300
    assert ci.deadline is None and dev.deadline is None and thorough.deadline is None
    assert ci.derandomize


@pytest.mark.parametrize("name", ["ci", "dev", "thorough"])
def test_env_var_chooses_profile(monkeypatch, name):
    monkeypatch.setenv(ENV_VAR, name)
    assert register_profiles(load=False) == name


def test_conftest_loaded_a_profile():
    assert settings.default.deadline is None
    assert settings.default.max_examples in (12, 30, 300)


def test_bad_profile_names_are_rejected(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match="register_profiles: \\$TINYMM_HYPOTHESIS_PROFILE.*'fast'"):
        register_profiles(load=False)
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(ValueError, match="register_profiles: default"):
        register_profiles(default="quick", load=False)
