"""Progress bars and the trainer's reporting: the only place below the CLI that writes output.

``Reporter`` writes messages (epoch lines, tables) to ``stream`` (stdout by default) and
creates progress bars on stderr: tqdm when it is installed (an optional dependency),
otherwise ``TextBar``, a one-line bar redrawn in place. ``quiet=True`` silences both.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TextBar:
    """A minimal tqdm stand-in: ``desc [#####.....] n/total postfix`` redrawn with ``\\r``.

    Draws at most every ``min_interval`` seconds, and only when the stream is a terminal
    (a log file would collect every redraw); ``close()`` clears the line.

    >>> import io
    >>> bar = TextBar(total=4, desc="epoch 1", stream=io.StringIO())
    >>> bar.update(3); bar.set_postfix_str("loss 0.5"); bar.close()
    >>> bar.n, bar.total, bar.postfix
    (3, 4, 'loss 0.5')
    """

    def __init__(self, total: int, desc: str = "", stream: TextIO | None = None,
                 width: int = 24, min_interval: float = 0.1):
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.stream = stream if stream is not None else sys.stderr
        self.n = 0
        self.postfix = ""
        self.min_interval = min_interval
        self._last = 0.0
        self._start = time.perf_counter()
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = 0

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if self._live and (now - self._last >= self.min_interval or self.n >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        filled = int(self.width * min(self.n / self.total, 1.0))
        bar = "#" * filled + "." * (self.width - filled)
        rate = self.n / max(now - self._start, 1e-9)
        line = f"{self.desc} [{bar}] {self.n}/{self.total} {rate:.1f} it/s {self.postfix}"
        pad = max(self._drawn - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self._live and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
        self._drawn = 0


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def tqdm_available() -> bool:
    """Whether tqdm (an optional dependency) can be imported.

    >>> isinstance(tqdm_available(), bool)
    True
    """
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


class Reporter:
    """Where training output goes.

    progress: "auto" (tqdm if installed, else TextBar), "tqdm", "text" or "none".

    >>> import io
    >>> out = io.StringIO()
    >>> reporter = Reporter(stream=out, progress="text")
    >>> reporter.log("epoch 1: loss 0.5")
    >>> print(out.getvalue(), end="")
    epoch 1: loss 0.5
    >>> type(reporter.bar(10)).__name__, Reporter(quiet=True).progress
    ('TextBar', 'none')
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False,
                 progress: str = "auto", bar_stream: TextIO | None = None):
        if progress not in ("auto", "tqdm", "text", "none"):
            raise ValueError(f"Reporter: progress must be 'auto', 'tqdm', 'text' or 'none', "
                             f"got {progress!r}")
        self.stream = stream
        self.bar_stream = bar_stream
        self.quiet = quiet
        if progress == "auto":
            progress = "tqdm" if tqdm_available() else "text"
        self.progress = "none" if quiet else progress

    def log(self, message: str = "") -> None:
        if not self.quiet:
            stream = self.stream if self.stream is not None else sys.stdout
            stream.write(message + "\n")
            stream.flush()

    def bar(self, total: int, desc: str = "", unit: str = "batch"):
        """A progress bar over ``total`` steps of ``unit`` (tqdm's rate shows "unit/s")."""
        stream = self.bar_stream if self.bar_stream is not None else sys.stderr
        if self.progress == "tqdm":
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, file=stream, leave=False, unit=unit,
                        dynamic_ncols=True)
        if self.progress == "text":
            return TextBar(total, desc, stream)
        return _NullBar()
