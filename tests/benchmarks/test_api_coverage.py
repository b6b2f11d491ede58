"""benchmarks/api_coverage.py runs and its lists are consistent (the share is not asserted)."""

import pytest

from benchmarks import api_coverage as cov


def test_every_tutorial_has_sources_and_names():
    assert set(cov.SOURCES) == set(cov.USED)
    assert len(cov.USED) == 4
    for title, sources in cov.SOURCES.items():
        assert sources, title
        for path, commit in sources:
            assert path.endswith(".py") and len(commit) == 40, (title, path)


def test_excluded_names_are_not_measured():
    measured = {n for names in cov.USED.values() for n in names}
    assert not measured & set(cov.EXCLUDED)
    assert all(reason for reason in cov.EXCLUDED.values())


def test_every_measured_name_is_in_a_measured_namespace():
    for names in cov.USED.values():
        for name in names:
            assert isinstance(cov.tinymm_has(name), bool)
    with pytest.raises(ValueError, match="api_coverage: 'numpy.zeros' is not in a measured"):
        cov.tinymm_has("numpy.zeros")


def test_lookup_answers_from_tinymm():
    assert cov.tinymm_has("torch.nn.Linear") and cov.tinymm_has("torch.Tensor.backward")
    assert not cov.tinymm_has("torch.nn.NoSuchLayer")


def test_script_prints_the_share(capsys):
    assert cov.main([]) == 0
    out = capsys.readouterr().out
    assert "share" in out and "all" in out and "excluded, not measured" in out
    result = cov.measure()
    for r in result.values():
        assert not set(r["has"]) & set(r["missing"])
