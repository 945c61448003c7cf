"""Reading a Python file as text and writing it back in its own encoding.

Python's own rules decide the encoding (a BOM, else a ``coding:`` cookie,
else UTF-8), so a file comes back with the same BOM, cookie and bytes
wherever the text is unchanged. Line endings are kept as they are: the text
is never passed through universal-newline translation.
"""

from __future__ import annotations

import errno
import io
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """``text`` cut into lines where Python's tokenizer and flake8 cut it, ends kept.

    A CR LF, a lone CR (old Mac files) and an LF each end a line: ``ast``
    counts them so, and flake8 reads files with universal newlines.
    ``str.splitlines`` also cuts at form feeds, vertical tabs, the file,
    group and record separators, NEL and the Unicode line and paragraph
    separators, which Python source does not count as line ends. Every
    line count in the analysis and the fixer goes through here.
    """
    return _LINE.findall(text)


class SourceError(Exception):
    """A file that cannot be processed; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class SourceText:
    """A file's decoded text and how to encode it back."""

    path: Path
    raw: bytes
    text: str
    encoding: str

    def encode(self, text: str) -> bytes:
        """``text`` in the file's encoding (``utf-8-sig`` puts the BOM back)."""
        return text.encode(self.encoding)


def read_source(path: Path) -> SourceText:
    """Read and decode ``path``; raise :class:`SourceError` if that fails."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SourceError(path, unreadable_reason(path, error)) from error
    return decode_source(path, raw)


def decode_source(path: Path, raw: bytes) -> SourceText:
    """Decode ``raw``, the bytes of ``path``; raise :class:`SourceError` if that fails."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise SourceError(path, f"cannot decode: {error}") from error
    return SourceText(path, raw, text, encoding)


def unreadable_reason(path: Path, error: OSError) -> str:
    """Why ``path`` could not be read, in words (symbolic link trouble named as such)."""
    if path.is_symlink():
        if error.errno == errno.ELOOP:
            return "cannot read: a symbolic link loop"
        if error.errno == errno.ENOENT:
            return f"cannot read: a dangling symbolic link (to {os.readlink(path)})"
    if error.errno == errno.ELOOP:
        return "cannot read: a symbolic link loop on its path"
    return f"cannot read: {error.strerror or error}"
