"""A one-line progress bar for long runs, drawn only on a terminal."""

from __future__ import annotations

from typing import TextIO

_WIDTH = 30


class ProgressBar:
    """Counts finished items and redraws ``[#####     ] 12/40 label`` in place.

    Draws nothing when ``stream`` is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, stream: TextIO, total: int, label: str) -> None:
        self._stream = stream
        self._total = total
        self._label = label
        self._done = 0
        self._enabled = total > 0 and stream.isatty()

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more finished items and redraw."""
        self._done += count
        if self._enabled:
            filled = _WIDTH * self._done // self._total
            bar = "#" * filled + " " * (_WIDTH - filled)
            self._stream.write(f"\r[{bar}] {self._done}/{self._total} {self._label}")
            self._stream.flush()

    def close(self) -> None:
        """Erase the bar so that the next line starts clean."""
        if self._enabled:
            self._stream.write("\r\033[K")
            self._stream.flush()
