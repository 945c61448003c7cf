"""Other modules of the linted project: finding them from imports and reading them once.

An import maps to a project module when a file for it exists under one of
the project's roots: ``AnalysisConfig.project_root`` (and its ``src``), or
else the linted file's directory and its parents up to the current
directory. Relative imports are resolved from the importing file. Each
module is read and parsed once per process while it stays as it is
(:func:`load_module`, keyed by the path and what ``stat`` says of the file:
a process that fixes files and analyses them again reads the new text); a
file that cannot be read or parsed counts as not found, and never raises.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from safeloader.analysis.scopes import Scope
from safeloader.source_text import SourceError, decode_source

#: the directories installed distributions live in: their code is never the project's
INSTALLED = frozenset({"site-packages", "dist-packages"})
#: the word ``global`` followed by what may follow it in a ``global`` statement
_GLOBAL_WORD = re.compile(r"global[ \t\\]")


def text_hints(source: str) -> frozenset[str]:
    """Return which of the rare constructs :class:`Scope` looks for ``source`` may contain:
    ``":="`` (a walrus) and ``"global"`` (a ``global`` statement)."""
    return frozenset(hint for hint in (":=", "global") if _may_contain(source, hint))


def _may_contain(source: str, hint: object) -> bool:
    """Whether ``source`` may contain the construct ``hint`` names (see :func:`text_hints`)."""
    if hint == ":=":
        return ":=" in source
    return hint == "global" and "global" in source and _has_global_statement(source)


class LazyTextHints:
    """:func:`text_hints` of a source, each hint looked for only when a :class:`Scope`
    first asks for it (most modules' scopes are never built)."""

    def __init__(self, source: str):
        self._source = source
        self._found: dict[object, bool] = {}

    def __contains__(self, hint: object) -> bool:
        if hint not in self._found:
            self._found[hint] = _may_contain(self._source, hint)
        return self._found[hint]


def _has_global_statement(source: str) -> bool:
    """Whether ``global`` starts a statement somewhere: at the start of a line, or after
    ``;`` or a compound statement's ``:``. A superset (a string may hold such text), so
    a false match only costs the search it enables; the word alone matched every
    ``global_step`` and comment."""
    for match in _GLOBAL_WORD.finditer(source):
        before = match.start() - 1
        while before >= 0 and source[before] in " \t\f":
            before -= 1
        if before < 0 or source[before] in "\n\r;:":
            return True
    return False


@dataclass
class ProjectModule:
    """A parsed module of the project, its text (decoded as Python reads it) and its
    (lazily built) module scope."""

    path: Path
    tree: ast.Module
    text: str
    hints: frozenset[str]
    _scope: Scope | None = field(default=None, repr=False)

    def scope(self) -> Scope:
        """Return the module's top-level scope."""
        if self._scope is None:
            self._scope = Scope(self.tree, None, self.path, self.hints)
        return self._scope


def load_module(path: Path) -> ProjectModule | None:
    """The module at ``path`` (resolved), parsed; ``None`` when it cannot be read or parsed.

    One ``stat`` per call: the parse is remembered for the file's identity and
    state (device, inode, size, modification time in nanoseconds), so a file
    rewritten since (by ``safeloader-fix``, an editor) is read again, and an
    unchanged one is not.
    """
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return _parsed_module(path, status.st_dev, status.st_ino, status.st_size,
                          status.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _parsed_module(path: Path, device: int, inode: int, size: int,
                   mtime_ns: int) -> ProjectModule | None:
    """Read and parse the module at ``path``, whose ``stat`` gave the other arguments
    (they are the cache key: the file's identity and state)."""
    try:
        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
        text = decode_source(path, source).text
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError, SourceError):
        return None
    return ProjectModule(path, tree, text, text_hints(text))


def is_installed(path: Path) -> bool:
    """Whether ``path`` lies in an installed package (``site-packages``, ``dist-packages``)."""
    return not INSTALLED.isdisjoint(path.parts)


def resolved(path: Path) -> Path:
    """Return ``path`` made absolute and free of symlinks where the file system allows."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file; ``False`` also when the file system refuses to say."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """Whether ``path`` is a directory; ``False`` also when the file system refuses to say."""
    try:
        return path.is_dir()
    except OSError:
        return False


def project_roots(path: Path | None, project_root: Path | None) -> tuple[Path, ...]:
    """Return the directories absolute imports are looked up in, nearest first."""
    if project_root is not None:
        root = resolved(project_root)
        return (root, root / "src")
    if path is None:
        return ()
    try:
        cwd = Path.cwd()
        linked = path.is_symlink()
    except OSError:
        return (resolved(path).parent,)
    # a linked file's imports are looked up beside its target, as Python's are
    return _roots_up_to(resolved(path).parent if linked else path.parent, cwd)


@functools.lru_cache(maxsize=1024)
def _roots_up_to(given: Path, given_cwd: Path) -> tuple[Path, ...]:
    """The resolved ``given`` directory and its parents up to the resolved ``given_cwd``
    (remembered: every file of a directory has the same roots)."""
    directory = resolved(given)
    cwd = resolved(given_cwd)
    if directory != cwd and cwd not in directory.parents:
        return (directory,)
    roots = [directory]
    while directory != cwd:
        directory = directory.parent
        roots.append(directory)
    return tuple(roots)


def module_file(directory: Path, parts: list[str]) -> Path | None:
    """Return the file or package directory of the module ``parts`` under ``directory``."""
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    base = directory.joinpath(*parts)
    if is_file(base.with_suffix(".py")):
        return base.with_suffix(".py")
    if is_file(base / "__init__.py"):
        return base / "__init__.py"
    if is_dir(base):
        return base
    return None


def find_module(
    name: str, level: int, importer: Path | None, roots: tuple[Path, ...]
) -> Path | None:
    """Return the file (or namespace directory) the import of ``name`` maps to.

    ``level`` is the number of leading dots; ``importer`` the importing file.
    Answers are remembered for the process, as :func:`load_module`'s are: a
    module imported by every file of a project is looked up once.
    """
    return _find_module(name, level, importer if level > 0 else None, roots)


@functools.lru_cache(maxsize=4096)
def _find_module(
    name: str, level: int, importer: Path | None, roots: tuple[Path, ...]
) -> Path | None:
    parts = name.split(".") if name else []
    if level > 0:
        if importer is None:
            return None
        directory = resolved(importer).parent
        for _ in range(level - 1):
            directory = directory.parent
        if parts:
            return module_file(directory, parts)
        return directory / "__init__.py" if is_file(directory / "__init__.py") else directory
    for root in roots:
        found = module_file(root, parts)
        if found is not None:
            return found
    return None


def submodule(package: Path, name: str) -> Path | None:
    """Return the submodule ``name`` of the package whose file or directory is ``package``."""
    if package.name == "__init__.py":
        return module_file(package.parent, [name])
    return module_file(package, [name]) if is_dir(package) else None
