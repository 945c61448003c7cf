"""The dependencies a project declares in its packaging files (never the installed ones).

:func:`declared_dependencies` walks up from a file or directory to the
nearest directory holding a project file and reads, in this order:
``pyproject.toml`` (``[project]`` dependencies and optional dependencies),
``setup.cfg`` (``install_requires`` and ``extras_require``), ``setup.py``
(literal lists given to ``setup()``, read with :mod:`ast`, never run),
``requirements*.txt`` and ``requirements/*.txt`` (with the files they
include by ``-r``), conda environment files
(``environment*.yml``, ``conda*.yml``, ``.yaml`` too) and ``Pipfile``.
Entries that are not requirements (editable installs, URLs, pip options,
``python`` in a conda file) are skipped, and so is a file that cannot be
parsed: a linter must not fail on a project's packaging. The answer is cached
per project root (and read again when a file of it changes).
"""

from __future__ import annotations

import ast
import configparser
import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["DeclaredDependencies", "declared_dependencies"]

_FIXED_NAMES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile")
_REQUIREMENTS_GLOBS = ("requirements*.txt", "requirements/*.txt")
_CONDA_GLOBS = ("environment*.yml", "environment*.yaml", "conda*.yml", "conda*.yaml")
# conda names that are not Python distributions a requirement could be about
_CONDA_SKIP = frozenset({"python", "pip"})
#: directories that hold installed distributions: the walk never goes above them
_INSTALLED_ROOTS = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True)
class DeclaredDependencies:
    """What a project's packaging files declare.

    ``root``: the project directory found; ``sources``: the files read that
    declare at least one requirement, in reading order; ``requirements``:
    every ``(declaring file, requirement)``, in reading order.
    """

    root: Path
    sources: tuple[Path, ...]
    requirements: tuple[tuple[Path, Requirement], ...]

    def requirement(self, name: str) -> tuple[Path, Requirement] | None:
        """The first declaration of distribution ``name`` (compared canonically), if any."""
        wanted = canonicalize_name(name)
        for source, requirement in self.requirements:
            if canonicalize_name(requirement.name) == wanted:
                return source, requirement
        return None


def declared_dependencies(path: Path) -> DeclaredDependencies | None:
    """The dependencies declared by the project holding ``path``; ``None`` without a project file.

    The project root is the nearest directory, from ``path`` (a file's own
    directory) upwards, holding one of the files listed in the module
    docstring; the walk stops at a directory with ``.git``, at the home
    directory (as flake8's own configuration search does), and at
    ``site-packages`` or a virtual environment's root (an installed module
    belongs to no project around it). Answers are cached, keyed by the
    modification times of the directories and files read, so an edited
    project is read again.
    """
    directory = (path if path.is_dir() else path.parent).resolve()
    home = Path.home().resolve()
    while True:
        if directory == home or directory.name in _INSTALLED_ROOTS or (
            directory / "pyvenv.cfg"
        ).is_file():
            return None  # an installed package belongs to no project around it
        files = _project_files(directory, _stamp(directory))
        if files:
            return _read_project(directory, tuple((file, _stamp(file)) for file in files))
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=1024)
def _project_files(directory: Path, stamp: tuple[int, int]) -> tuple[Path, ...]:
    """The project files in ``directory``, in reading order (``stamp`` keys the cache)."""
    files = [directory / name for name in _FIXED_NAMES[:3] if (directory / name).is_file()]
    for pattern in _REQUIREMENTS_GLOBS + _CONDA_GLOBS:
        files.extend(sorted(match for match in directory.glob(pattern) if match.is_file()))
    if (directory / "Pipfile").is_file():
        files.append(directory / "Pipfile")
    return tuple(files)


@functools.lru_cache(maxsize=256)
def _read_project(root: Path, files: tuple[tuple[Path, tuple[int, int]], ...],
                  ) -> DeclaredDependencies:
    """What the project files (with their stamps, for the cache) of ``root`` declare."""
    requirements: list[tuple[Path, Requirement]] = []
    read: set[Path] = set()
    for source, _ in files:
        requirements.extend(_read_file(source, read))
    sources = tuple(dict.fromkeys(source for source, _ in requirements))
    return DeclaredDependencies(root, sources, tuple(requirements))


def _read_file(path: Path, read: set[Path]) -> list[tuple[Path, Requirement]]:
    """``path``'s requirements, then those of the requirements files it includes (``-r``)."""
    if path in read:
        return []
    read.add(path)
    name = path.name
    included: list[Path] = []
    try:
        text = path.read_text(encoding="utf-8")
        if name == "pyproject.toml":
            entries = list(_pyproject_entries(tomllib.loads(text)))
        elif name == "setup.cfg":
            entries = list(_setup_cfg_entries(text))
        elif name == "setup.py":
            entries = list(_setup_py_entries(ast.parse(text)))
        elif name == "Pipfile":
            entries = list(_pipfile_entries(tomllib.loads(text)))
        elif path.suffix == ".txt":
            entries, names = _requirements_entries(text)
            included = [path.parent / include for include in names]
        else:
            entries = list(_conda_entries(text))
    except (OSError, UnicodeDecodeError, ValueError, SyntaxError, configparser.Error):
        # tomllib.TOMLDecodeError is a ValueError; an unreadable file declares nothing
        return []
    found = [(path, requirement) for requirement in map(_parse, entries) if requirement]
    for include in included:
        if include.is_file():
            found.extend(_read_file(include.resolve(), read))
    return found


def _parse(entry: str) -> Requirement | None:
    try:
        return Requirement(entry.strip())
    except InvalidRequirement:
        return None


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _pyproject_entries(data: dict) -> Iterator[str]:
    project = data.get("project")
    if not isinstance(project, dict):
        return
    yield from _strings(project.get("dependencies"))
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        for extra in optional.values():
            yield from _strings(extra)


def _setup_cfg_entries(text: str) -> Iterator[str]:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    if parser.has_option("options", "install_requires"):
        yield from _cfg_list(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            yield from _cfg_list(value)


def _cfg_list(value: str) -> Iterator[str]:
    """setuptools' list syntax: one entry a line, or a ``;``-free comma list on one line."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if len(lines) == 1 and ";" not in lines[0]:
        lines = [part.strip() for part in lines[0].split(",") if part.strip()]
    yield from (line for line in lines if not line.startswith("#"))


def _setup_py_entries(tree: ast.Module) -> Iterator[str]:
    """Literal lists passed to ``setup(install_requires=..., extras_require=...)``.

    A keyword may also name a module-level variable assigned a literal once.
    """
    literals: dict[str, object] = {}
    assigned: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                if target.id in assigned:
                    literals.pop(target.id, None)
                else:
                    literals[target.id] = _literal(stmt.value)
                assigned.add(target.id)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _called_name(node.func) == "setup"):
            continue
        for keyword in node.keywords:
            value = keyword.value
            data = literals.get(value.id) if isinstance(value, ast.Name) else _literal(value)
            if keyword.arg == "install_requires":
                yield from _strings(data)
            elif keyword.arg == "extras_require" and isinstance(data, dict):
                for extra in data.values():
                    yield from _strings(extra)


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _requirements_entries(text: str) -> tuple[list[str], list[str]]:
    """pip's requirements format: the requirements, and the files included with ``-r``.

    Comments, line continuations, per-requirement options (``--hash``) and
    other pip options (``-e``, ``-c``, ``--index-url``...) are skipped.
    """
    requirements: list[str] = []
    includes: list[str] = []
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        line = re.split(r"(?:^|\s)(?:#|--hash)", line, maxsplit=1)[0].strip()
        include = re.fullmatch(r"(?:-r|--requirement)[\s=]\s*(\S+)", line)
        if include:
            includes.append(include.group(1))
        elif line and not line.startswith("-"):
            requirements.append(line)
    return requirements, includes


def _conda_entries(text: str) -> Iterator[str]:
    """The ``dependencies:`` list of a conda environment file, with its ``pip:`` sub-list.

    Read line by line rather than with a YAML library: the core install stays
    free of a YAML dependency, and this list is always the plain block
    sequence conda writes. Conda's ``name=1.2`` (a version prefix) becomes
    ``name==1.2.*``; a ``channel::`` prefix is dropped; the ``pip:`` entries
    are pip requirements already.
    """
    in_dependencies = False
    pip_indent: int | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0 and not item.startswith("-"):
            in_dependencies = item == "dependencies:"
            pip_indent = None
            continue
        if not (in_dependencies and item.startswith("-")):
            continue
        entry = item[1:].strip().strip("'\"")
        if pip_indent is not None and indent <= pip_indent:
            pip_indent = None
        if entry.rstrip(" :") == "pip" and entry.endswith(":"):
            pip_indent = indent
            continue
        converted = entry if pip_indent is not None else _conda_spec(entry)
        if converted is not None:
            yield converted


def _conda_spec(entry: str) -> str | None:
    entry = entry.split("::", 1)[-1].strip()
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", entry)
    if match is None or match.group(1).lower() in _CONDA_SKIP:
        return None
    name, spec = match.groups()
    spec = spec.strip().split(" ", 1)[0]  # a build string may follow the version
    if spec.startswith("=") and not spec.startswith("=="):
        spec = spec[1:].split("=", 1)[0]  # name=version=build
    if re.fullmatch(r"[0-9][0-9A-Za-z.*]*", spec):
        return f"{name}=={spec.rstrip('.*')}.*"
    return f"{name}{spec}"


def _pipfile_entries(data: dict) -> Iterable[str]:
    for section in ("packages", "dev-packages"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            if isinstance(value, dict):
                value = value.get("version", "*")
            if isinstance(value, str):
                yield name if value.strip() in ("", "*") else f"{name}{value.strip()}"
