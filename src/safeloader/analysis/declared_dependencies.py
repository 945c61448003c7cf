"""The dependencies a project declares in its packaging files (never the installed ones).

:func:`declared_dependencies` walks up from a file or directory to the
nearest directory holding a project file and reads, in this order:

* ``pyproject.toml``: ``[project]`` dependencies and optional dependencies,
  PEP 735 ``[dependency-groups]``, Poetry's ``[tool.poetry.dependencies]``,
  ``[tool.poetry.dev-dependencies]`` and ``[tool.poetry.group.<name>.dependencies]``
  (caret ``^3.0``, tilde ``~2.15`` and the other constraints of
  :mod:`.poetry_constraints`; ``python`` itself is not a dependency), PDM's
  ``[tool.pdm.dev-dependencies]`` and Hatch's
  ``[tool.hatch.envs.<name>]`` ``dependencies`` and ``extra-dependencies``;
* ``setup.cfg``: ``install_requires`` and ``extras_require``, with
  setuptools' ``%(name)s`` interpolation;
* ``setup.py``: literal lists given to ``setup()``, read with :mod:`ast`, never run;
* ``requirements*.txt`` and ``requirements/*.txt``, with the files they
  include by ``-r``;
* conda environment files (``environment*.yml``, ``conda*.yml``, ``.yaml``
  too), read with PyYAML (already a dependency of LibCST);
* ``Pipfile``.

Entries that are not requirements (editable installs, URLs, pip options,
``python`` in a conda file) are skipped. A file that cannot be read (invalid
TOML or YAML, a ``setup.cfg`` interpolation that fails, a ``setup.py`` that
does not parse, a Poetry constraint that is not one, a missing ``-r``
include) declares nothing, and is kept in
:attr:`DeclaredDependencies.unreadable` with the reason, for
``safeloader keras-version`` to name: a linter must not fail on a project's
packaging, nor hide that it could not read it. The answer is cached per
project root (and read again when a file of it changes).
"""

from __future__ import annotations

import ast
import configparser
import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from safeloader.analysis.poetry_constraints import PoetryConstraintError, poetry_specifiers
from safeloader.analysis.project import INSTALLED

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Declaration", "DeclaredDependencies", "conda_requirement", "declared_dependencies"]

_FIXED_NAMES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile")
_REQUIREMENTS_GLOBS = ("requirements*.txt", "requirements/*.txt")
_CONDA_GLOBS = ("environment*.yml", "environment*.yaml", "conda*.yml", "conda*.yaml")
# conda names that are not Python distributions a requirement could be about
_CONDA_SKIP = frozenset({"python", "pip"})
#: the YAML loader: LibYAML's when PyYAML was built with it (faster), else the pure one
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Declaration:
    """One dependency a project file declares.

    ``name``: the distribution, canonicalised; ``options``: the requirements
    it allows, one for a PEP 508 entry, several for Poetry's alternatives
    (``"^2.15 || ^3.0"``, or a list of constraints for different platforms);
    ``text``: the entry as a reader recognises it (``keras>=3.3``,
    ``keras = "^3.0"``).
    """

    source: Path
    name: str
    options: tuple[Requirement, ...]
    text: str


@dataclass(frozen=True)
class DeclaredDependencies:
    """What a project's packaging files declare.

    ``root``: the project directory found; ``read``: the files read, in
    reading order (included requirements files too); ``declarations``:
    every declaration, in reading order; ``unreadable``: each file that
    could not be read, with the reason (it declares nothing).
    """

    root: Path
    read: tuple[Path, ...]
    declarations: tuple[Declaration, ...]
    unreadable: tuple[tuple[Path, str], ...]

    @property
    def sources(self) -> tuple[Path, ...]:
        """The files that declare at least one dependency, in reading order."""
        return tuple(dict.fromkeys(declaration.source for declaration in self.declarations))

    def requirement(self, name: str) -> Declaration | None:
        """The first declaration of distribution ``name`` (compared canonically), if any."""
        wanted = canonicalize_name(name)
        return next((found for found in self.declarations if found.name == wanted), None)


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
    directory = _resolved((path if path.is_dir() else path.parent).absolute())
    home = _resolved(Path.home().absolute())
    while True:
        if directory == home or directory.name in INSTALLED:  # installed code: never above it
            return None
        listing = _listing(directory, _stamp(directory))
        if listing.virtual_environment:
            return None  # an installed package belongs to no project around it
        if listing.project_files:
            return _read_project(directory, tuple((file, _stamp(file))
                                                  for file in listing.project_files))
        if listing.repository or directory.parent == directory:
            return None
        directory = directory.parent


@functools.lru_cache(maxsize=1024)
def _resolved(directory: Path) -> Path:
    """The absolute ``directory`` without symbolic links (cached for the process:
    resolving costs a system call a path part, for every linted file)."""
    return directory.resolve()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


class _Listing(NamedTuple):
    """What the walk up needs to know of one directory."""

    project_files: tuple[Path, ...]
    virtual_environment: bool
    repository: bool


@functools.lru_cache(maxsize=1024)
def _listing(directory: Path, stamp: tuple[int, int]) -> _Listing:
    """The project files in ``directory`` (in reading order), whether it is a virtual
    environment's root (``pyvenv.cfg``) and whether it is a repository's (``.git``).
    ``stamp``, the directory's own, keys the cache: adding or removing an entry changes it."""
    files = [directory / name for name in _FIXED_NAMES[:3] if (directory / name).is_file()]
    for pattern in _REQUIREMENTS_GLOBS + _CONDA_GLOBS:
        files.extend(sorted(match for match in directory.glob(pattern) if match.is_file()))
    if (directory / "Pipfile").is_file():
        files.append(directory / "Pipfile")
    return _Listing(tuple(files), (directory / "pyvenv.cfg").is_file(),
                    (directory / ".git").exists())


@functools.lru_cache(maxsize=256)
def _read_project(root: Path, files: tuple[tuple[Path, tuple[int, int]], ...],
                  ) -> DeclaredDependencies:
    """What the project files (with their stamps, for the cache) of ``root`` declare."""
    reader = _Reader()
    for source, _ in files:
        reader.read(source)
    return DeclaredDependencies(root, tuple(reader.done), tuple(reader.declarations),
                                tuple(reader.unreadable))


class _Reader:
    """Reads project files once each, collecting their declarations and failures."""

    def __init__(self) -> None:
        self.done: list[Path] = []
        self.declarations: list[Declaration] = []
        self.unreadable: list[tuple[Path, str]] = []

    def read(self, path: Path) -> None:
        """Read ``path``, then the requirements files it includes (``-r``)."""
        if path in self.done or any(path == failed for failed, _ in self.unreadable):
            return
        included: list[str] = []
        try:
            entries = _entries(path, path.read_text(encoding="utf-8"), included)
        except (OSError, ValueError, SyntaxError, configparser.Error, yaml.YAMLError) as error:
            self.unreadable.append((path, _reason(error)))
            return
        self.done.append(path)
        for options, text in entries:
            name = canonicalize_name(options[0].name)
            self.declarations.append(Declaration(path, name, options, text))
        for name in included:
            include = path.parent / name
            if include.is_file():
                self.read(include.resolve())
            else:
                self.unreadable.append((include, f"no such file (included by -r from {path.name})"))


#: a declaration as a format reader gives it: the requirements it allows, and its text
_Entry = tuple[tuple[Requirement, ...], str]


def _entries(path: Path, text: str, included: list[str]) -> list[_Entry]:
    """The declarations of the project file ``path`` holding ``text``; the files it
    includes with ``-r`` (a requirements file) are appended to ``included``."""
    name = path.name
    if name == "pyproject.toml":
        data = tomllib.loads(text)
        return [*_pep508(_pyproject_entries(data)), *_poetry_entries(data)]
    if name == "setup.cfg":
        return _pep508(_setup_cfg_entries(text))
    if name == "setup.py":
        return _pep508(_setup_py_entries(ast.parse(text)))
    if name == "Pipfile":
        return _pep508(_pipfile_entries(tomllib.loads(text)))
    if path.suffix == ".txt":
        requirements, includes = _requirements_entries(text)
        included.extend(includes)
        return _pep508(requirements)
    return _pep508(_conda_entries(text))


def _reason(error: BaseException) -> str:
    """Why a file could not be read, in one line."""
    if isinstance(error, tomllib.TOMLDecodeError):
        return f"invalid TOML: {error}"
    if isinstance(error, yaml.YAMLError):
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"invalid YAML: {getattr(error, 'problem', None) or error}{where}"
    if isinstance(error, configparser.Error):
        return "invalid setup.cfg: " + " ".join(str(error).split())
    if isinstance(error, SyntaxError):
        return f"invalid Python: {error.msg} (line {error.lineno})"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8: {error.reason} at byte {error.start}"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def _pep508(entries: Iterable[str]) -> list[_Entry]:
    """The PEP 508 requirements among ``entries``; the others are skipped."""
    found: list[_Entry] = []
    for entry in entries:
        try:
            requirement = Requirement(entry.strip())
        except InvalidRequirement:
            continue
        found.append(((requirement,), str(requirement)))
    return found


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _table(data: object, *keys: str) -> dict:
    """``data[key1][key2]...`` when each step is a table, else an empty one."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _pyproject_entries(data: dict) -> Iterator[str]:
    """The PEP 508 strings of ``[project]``, ``[dependency-groups]``, PDM and Hatch."""
    project = _table(data, "project")
    yield from _strings(project.get("dependencies"))
    for extra in _table(project, "optional-dependencies").values():
        yield from _strings(extra)
    for group in _table(data, "dependency-groups").values():
        yield from _strings(group)  # {include-group = ...} tables are not requirements
    for group in _table(data, "tool", "pdm", "dev-dependencies").values():
        yield from _strings(group)
    for environment in _table(data, "tool", "hatch", "envs").values():
        if isinstance(environment, dict):
            yield from _strings(environment.get("dependencies"))
            yield from _strings(environment.get("extra-dependencies"))


def _poetry_entries(data: dict) -> list[_Entry]:
    """Poetry's dependency tables, each entry as the PEP 440 requirements it allows."""
    poetry = _table(data, "tool", "poetry")
    tables = [("tool.poetry.dependencies", _table(poetry, "dependencies")),
              ("tool.poetry.dev-dependencies", _table(poetry, "dev-dependencies"))]
    tables += [(f"tool.poetry.group.{name}.dependencies", _table(group, "dependencies"))
               for name, group in _table(poetry, "group").items()]
    found: list[_Entry] = []
    for table_name, table in tables:
        for name, value in table.items():
            if canonicalize_name(name) == "python":
                continue
            try:
                found.append(_poetry_entry(name, value))
            except (PoetryConstraintError, InvalidRequirement) as error:
                raise PoetryConstraintError(f"[{table_name}] {name}: {error}") from None
    return found


def _poetry_entry(name: str, value: object) -> _Entry:
    """One Poetry dependency: a constraint string, a table (``{version = "^3.0", ...}``;
    without ``version``, a git, path or URL dependency: any version), or a list of
    tables (constraints for different platforms: each one is allowed)."""
    items = value if isinstance(value, list) else [value]
    constraints = []
    for item in items:
        constraint = item.get("version", "*") if isinstance(item, dict) else item
        if not isinstance(constraint, str):
            raise PoetryConstraintError(f"{constraint!r} is not a version constraint")
        constraints.append(constraint)
    options = tuple(Requirement(f"{name}{specifier}") for constraint in constraints
                    for specifier in poetry_specifiers(constraint))
    shown = " || ".join(constraint.strip() or "*" for constraint in constraints)
    return options, f'{name} = "{shown}"'


def _setup_cfg_entries(text: str) -> Iterator[str]:
    """``install_requires`` and ``extras_require``, interpolated as setuptools does
    (its ``ConfigParser`` expands ``%(name)s``; a failing expansion fails setuptools too)."""
    parser = configparser.ConfigParser()
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

    Conda's ``name=1.2`` (a version prefix) becomes ``name==1.2.*``; a
    ``channel::`` prefix is dropped; the ``pip:`` entries are pip requirements already.
    """
    data = yaml.load(text, Loader=_YAML_LOADER)
    dependencies = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(dependencies, list):
        return
    for entry in dependencies:
        if isinstance(entry, dict):
            yield from _strings(entry.get("pip"))
        elif isinstance(entry, str):
            converted = conda_requirement(entry)
            if converted is not None:
                yield converted


def conda_requirement(entry: str) -> str | None:
    """Conda's match spec ``entry`` as a PEP 508 string (``conda-forge::tensorflow=2.12``
    gives ``tensorflow==2.12.*``); ``None`` for ``python`` and ``pip``, which no
    requirement is about, and for what is not a package spec."""
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
