"""The API reference renders docstring examples as code (docs/griffe_doctest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _extension():
    pytest.importorskip("griffe")  # the `docs` extra
    spec = importlib.util.spec_from_file_location("griffe_doctest", ROOT / "docs" / "griffe_doctest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_are_fenced_and_fences_are_left_alone():
    fence = _extension().fence_doctests
    doc = "Rule.\n\n>>> x = 1\n>>> [x]\n[1]\n\nAfter.\n\n```python\n>>> not an example\n```"
    assert fence(doc) == ("Rule.\n\n```pycon\n>>> x = 1\n>>> [x]\n[1]\n```\n\nAfter.\n\n"
                          "```python\n>>> not an example\n```")
    assert fence("    >>> 1\n    1") == "    ```pycon\n    >>> 1\n    1\n    ```"
    assert fence("no example") == "no example"


def test_sphinx_roles_become_code():
    plain = _extension().plain_roles
    text = "as :func:`conv2d` and :meth:`~tinymm.Tensor.clamp`"
    assert plain(text) == "as `conv2d` and `tinymm.Tensor.clamp`"
    assert plain("``x`` stays") == "``x`` stays"


def test_mkdocs_loads_the_extension():
    assert "extensions: [docs/griffe_doctest.py]" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
