"""docs/testing.md's worked example, copied into a new project, passes as it stands.

The example block is taken from the document (not from a copy in the suite), written as
the only test file of an empty directory (no conftest.py, no tinymm profile loaded,
hypothesis's default settings) and run with pytest in a subprocess, as a reader would.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

DOCS = pathlib.Path(__file__).parents[3] / "docs" / "testing.md"


def worked_example() -> str:
    """The first ```python block after the heading "A worked example"."""
    text = DOCS.read_text()
    section = text.split("## A worked example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/testing.md: no python block under 'A worked example'"
    return match.group(1)


def test_the_example_is_a_complete_test_module():
    code = worked_example()
    assert "import tinymm" in code and "def test_" in code
    compile(code, "test_softplus.py", "exec")


@pytest.mark.slow
def test_worked_example_passes_in_a_fresh_project(tmp_path):
    pytest.importorskip("torch")  # the example compares with PyTorch
    (tmp_path / "test_softplus.py").write_text(worked_example())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TINYMM_", "PYTEST_", "HYPOTHESIS"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tmp_path / "test_softplus.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    report = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert "1 passed" in proc.stdout, report
    assert "DeadlineExceeded" not in report
