"""A module's text with only some top-level statements kept, the others
replaced by placeholders of the same number of lines.

LibCST's cost (parsing, positions, scopes, codegen) follows the size of the
text it is given. :class:`PartialModule` keeps the statements a fix needs
(see :class:`~safeloader.fix.module_layout.ModuleLayout`) and puts, for each
run of left-out statements, one string literal spanning the same lines: every
kept statement keeps its line numbers and columns (so ``ast`` spans point
into the partial text unchanged) and the lines LibCST gives it, since a
placeholder is a statement at column 0 as the statements it stands for were.
After the rewrite, :meth:`PartialModule.kept_spans` finds the kept runs in
the new text between the placeholders, which no fix touches, and
:meth:`PartialModule.splice` puts them back in place in the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from safeloader.fix.module_layout import ModuleLayout


class PlaceholderLost(Exception):
    """The rewritten text no longer holds a placeholder where it should."""


@dataclass(frozen=True)
class Run:
    """Consecutive chunks ``[first, last]``: kept, or left out behind ``placeholder``."""

    first: int
    last: int
    kept: bool
    placeholder: str = ""


def _unused_token(text: str) -> str:
    """A word that does not occur in ``text``."""
    token, number = "safeloader-placeholder", 0
    while f"{token}-{number}" in text:
        number += 1
    return f"{token}-{number}"


class PartialModule:
    """The text of ``layout``'s module with only the chunks in ``kept``."""

    def __init__(self, layout: ModuleLayout, kept: Iterable[int]) -> None:
        self.layout = layout
        keep = set(kept)
        token = self._token = _unused_token(layout.text)
        self.runs: list[Run] = []
        for index in range(len(layout.chunks)):
            kept_here = index in keep
            if self.runs and self.runs[-1].kept == kept_here:
                previous = self.runs.pop()
                self.runs.append(Run(previous.first, index, kept_here))
            else:
                self.runs.append(Run(index, index, kept_here))
        self.runs = [
            run if run.kept else Run(run.first, run.last, False, self._placeholder(run, token))
            for run in self.runs
        ]
        self.text = "".join(
            self._original(run) if run.kept else run.placeholder for run in self.runs
        )

    def _original(self, run: Run) -> str:
        return self.layout.text[self.layout.chunks[run.first].start:
                                self.layout.chunks[run.last].end]

    def _placeholder(self, run: Run, token: str) -> str:
        """A string-literal statement over the lines of ``run``, ending as its
        last line ends (with a line break or, at the end of the file, without)."""
        first, last = self.layout.chunks[run.first], self.layout.chunks[run.last]
        lines = last.last_line - first.first_line + 1
        label = f"{token} {run.first}-{run.last}"
        ending = "\n" if self.layout.text[last.start:last.end].endswith(("\n", "\r")) else ""
        if lines == 1:
            return f'"{label}"{ending}'
        return f'"""{label}' + "\n" * (lines - 1) + '"""' + ending

    def kept_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the kept runs are in ``text``, a rewrite of :attr:`text` whose
        placeholders are unchanged and in place: ``[start, end)`` offsets."""
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for run in self.runs:
            if not run.kept:
                at = text.find(run.placeholder, cursor)
                if at < 0:
                    raise PlaceholderLost(f"statements {run.first}-{run.last} lost their place")
                gaps.append((cursor, at))
                cursor = at + len(run.placeholder)
        gaps.append((cursor, len(text)))
        spans: list[tuple[int, int]] = []
        gap = 0
        for index, run in enumerate(self.runs):
            if run.kept:
                spans.append(gaps[gap])
                continue
            start, end = gaps[gap]
            if (index == 0 or not self.runs[index - 1].kept) and end > start:
                raise PlaceholderLost(f"text was added next to statements {run.first}-{run.last}")
            gap += 1
        if not self.runs[-1].kept and gaps[gap][1] > gaps[gap][0]:
            raise PlaceholderLost("text was added after the last statement")
        return spans

    def kept_first_lines(self) -> list[int]:
        """The number of the first line of each kept run, in order."""
        return [self.layout.chunks[run.first].first_line for run in self.runs if run.kept]

    def splice(self, pieces: Sequence[str]) -> str:
        """The original module with its kept runs replaced by ``pieces``, in order."""
        new = iter(pieces)
        return "".join(next(new) if run.kept else self._original(run) for run in self.runs)

    def placeholder_chunks(self, literal: str) -> range | None:
        """The chunks the placeholder whose string literal is ``literal`` stands
        for; ``None`` when ``literal`` is no placeholder's."""
        match = re.match(rf'"+{re.escape(self._token)} (\d+)-(\d+)', literal)
        return None if match is None else range(int(match[1]), int(match[2]) + 1)
