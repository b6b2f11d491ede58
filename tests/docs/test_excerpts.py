"""The code shown in docs/ is the code that runs: every excerpt equals its current source.

A page shows a function by putting a marker line right before a fenced code block::

    <!-- excerpt: kernels/jit/pool.py::_max_pool2d -->
    ```python
    @njit(cache=True)
    def _max_pool2d(x, out, argmax, kh, kw, sh, sw, ph, pw):
        ...
    ```

``path`` is relative to the repository root; after ``::`` comes a function or class name, or
``Class.method``. The block must equal that definition (decorators included, dedented) line
for line, so an excerpt cannot drift from the source: change the kernel, and this test names
the page to update.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKER = re.compile(r"<!--\s*excerpt:\s*(?P<path>[^:\s]+)::(?P<name>[\w.]+)\s*-->\s*\n"
                    r"```python\n(?P<code>.*?)\n```", re.S)


def find_excerpts() -> list[tuple[str, str, str, str]]:
    """(page, path, name, code) for every marked block under docs/."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in MARKER.finditer(text):
            found.append((str(page.relative_to(ROOT)), m["path"], m["name"], m["code"]))
    return found


def definition_source(path: Path, qualname: str) -> str:
    """The source of ``qualname`` (``f``, ``C`` or ``C.m``) in ``path``, decorators included."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    body: list[ast.stmt] = ast.parse(source).body
    node = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise LookupError(f"{qualname} is not defined in {path.relative_to(ROOT)}")
        body = node.body
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return textwrap.dedent("\n".join(lines[start - 1:node.end_lineno]))


def _normalise(code: str) -> list[str]:
    return [line.rstrip() for line in code.strip("\n").splitlines()]


EXCERPTS = find_excerpts()


def test_pages_have_excerpts():
    """The marker syntax is in use (a typo in the pattern would otherwise check nothing)."""
    assert len(EXCERPTS) >= 4, [e[:3] for e in EXCERPTS]


@pytest.mark.parametrize(("page", "path", "name", "code"), EXCERPTS,
                         ids=[f"{e[0]}:{e[2]}" for e in EXCERPTS])
def test_excerpt_matches_source(page, path, name, code):
    current = definition_source(ROOT / path, name)
    assert _normalise(code) == _normalise(current), (
        f"{page} shows an old version of {path}::{name}; paste the current definition")


def test_a_changed_excerpt_is_caught(tmp_path):
    """The comparison fails on a one-character change (the test above can fail)."""
    page, path, name, code = EXCERPTS[0]
    current = definition_source(ROOT / path, name)
    assert _normalise(current) == _normalise(code)
    assert _normalise(current.replace("(", "[", 1)) != _normalise(code)
