"""Examples are tests: every docstring example in tinymm/ and every code block in docs/ runs.

- Docstrings (``>>>`` examples) in ``tinymm/`` and ``kernels/`` run as doctests, with
  ``tm``, ``np``, ``nn`` and ``F`` already imported.
- Markdown pages in ``docs/``: each ```` ```python ```` block runs, top to bottom, in one
  namespace per page (later blocks see earlier ones). A block meant only for reading is
  marked explicitly with ``<!-- skip: next -->`` on the line before it.

Collected by Sybil (https://sybil.readthedocs.io); the suite's own tests live in ``tests/``.
"""

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

# Imported here, before Sybil collects: Sybil drops the modules first imported while it
# collects a file, so ``pytest tinymm/tensor.py`` alone would otherwise run its examples
# against a second copy of tinymm (a second Tensor class that the first one's ops reject).
import tinymm  # noqa: F401

try:
    from sybil import Sybil
    from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
    from sybil.parsers.rest import DocTestParser
    from sybil.sybil import SybilCollection
except ImportError:  # the docs examples need the `dev` extra; the rest of tinymm does not
    Sybil = None


def _docstring_namespace(namespace: dict) -> None:
    """Docstring examples may use ``tm``, ``np``, ``nn`` and ``F`` without importing them."""
    import numpy as np

    import tinymm as tm

    namespace.update(tm=tm, np=np, nn=tm.nn, F=tm.functional)


if Sybil is not None:
    _docstrings = Sybil(parsers=[DocTestParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE)],
                        patterns=["*.py"], path="tinymm", excludes=["__main__.py"],
                        setup=_docstring_namespace)
    _kernel_docstrings = Sybil(parsers=[DocTestParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE)],
                               patterns=["*.py"], path="kernels", setup=_docstring_namespace)
    _pages = Sybil(parsers=[PythonCodeBlockParser(), SkipParser()], patterns=["*.md"], path="docs")
    pytest_collect_file = SybilCollection((_docstrings, _kernel_docstrings, _pages)).pytest()
