"""Griffe extension for the API reference (mkdocs.yml loads it): the ``>>>`` examples of the
docstrings render as Python console code blocks, not as Markdown block quotes (a line that
starts with ``>`` is a quote in Markdown, and ``[a]`` then ``[b]`` reads as a link), and the
Sphinx roles of the docstrings (``:func:`conv2d```) render as code."""

from __future__ import annotations

import re

import griffe

SPHINX_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`]+)`")


def plain_roles(text: str) -> str:
    """``:func:`name``` (or ``:meth:``, ``:class:`` ...) becomes the code span ```name```."""
    return SPHINX_ROLE.sub(lambda m: f"`{m.group(1)}`", text)


def fence_doctests(text: str) -> str:
    """Wrap each doctest block (from a ``>>>`` line to the next blank line) in a ``pycon``
    fence; fenced code that is already there is left alone."""
    out: list[str] = []
    in_example = in_fence = False
    indent = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if in_example and not stripped:
            out.append(indent + "```")
            in_example = False
        elif not in_example and stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_example and not in_fence and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "```pycon")
            in_example = True
        out.append(line)
    if in_example:
        out.append(indent + "```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the examples and plain the roles of every docstring before mkdocstrings renders it."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(plain_roles(obj.docstring.value))
