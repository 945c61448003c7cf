"""Which Keras a module targets, and why: the same answer wherever the analysis runs.

The configured value decides when it is ``2`` or ``3`` (``installed`` reads
the installed ``keras`` distribution's version, only when asked for). ``auto``
reads, in order:

1. which package runs the module (:class:`ModuleEvidence`, ``runs_keras2`` /
   ``runs_keras3``): Keras 2 when it imports ``tf_keras`` or TensorFlow's
   legacy copy (``tensorflow.python.keras``), or sets ``TF_USE_LEGACY_KERAS``
   to a true value (``os.environ[...] = "1"``, ``os.environ.setdefault``,
   ``os.environ.update``, ``os.putenv``); Keras 3 when it uses an API only
   Keras 3 has (imports ``keras.ops``, ``PyDataset``..., or subclasses a
   ``*.PyDataset``). Both at once decide nothing;
2. the declared dependencies: the module's own (a notebook's ``%pip
   install`` lines, :mod:`.install_magics`), then the project's
   (:mod:`.declared_dependencies`). In each, a ``keras`` declaration that
   admits only 2.x or only 3.x decides; else ``tf_keras`` (Keras 2); else a
   ``tensorflow`` declaration admitting only versions before 2.16 (Keras 2)
   or only from 2.16 on (Keras 3). A declaration that admits both decides
   nothing;
3. legacy usage (``legacy``): modules only Keras 2 has
   (``keras.utils.data_utils``, ``keras.engine``...), ``*_generator`` calls,
   Keras 1 keywords. It means Keras 2 only when nothing above decided: a
   project that declares Keras 3 and still calls ``fit_generator`` is being
   migrated, and its fixes must run on Keras 3.

Imports, ``TF_USE_LEGACY_KERAS`` and ``PyDataset`` subclasses are read from
the module's top-level statements (``if``/``try``/``with`` blocks too); the
loader calls are the ones the call checker's own walk found
(:meth:`safeloader.analysis.calls.CallChecker.loader_calls`), so deciding
costs no walk of its own. Evidence that lost to the deciding one is kept
as notes (a conflict, a file that could not be read), which
``safeloader keras-version`` prints. What is installed never enters
``auto``. ``None`` means unknown: the Keras 2 rules apply and the
Keras-3-only rules stay silent.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Literal, Sequence

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safeloader.analysis.config import KerasVersion
from safeloader.analysis.declared_dependencies import DeclaredDependencies, declared_dependencies
from safeloader.analysis.install_magics import InlineRequirement
from safeloader.analysis.signatures import GENERATOR_METHODS, KERAS1_KEYWORDS, LOADER_METHODS

Major = Literal["2", "3"]

_KERAS2_MODULES = frozenset({"tf_keras", "tensorflow.python.keras"})
#: modules of Keras 2 that Keras 3 does not have (``tests`` import each from the real Keras 3)
KERAS2_ONLY_MODULES = (
    "keras.utils.data_utils", "keras.utils.np_utils", "keras.utils.generic_utils",
    "keras.utils.vis_utils", "keras.utils.layer_utils", "keras.utils.conv_utils",
    "keras.utils.io_utils", "keras.utils.tf_utils", "keras.engine", "keras.layers.experimental",
    "keras.layers.core", "keras.layers.convolutional", "keras.layers.recurrent",
    "keras.layers.normalization", "keras.layers.merge", "keras.layers.pooling",
    "keras.layers.embeddings", "keras.layers.advanced_activations", "keras.layers.wrappers",
    "keras.layers.noise", "keras.layers.local", "keras.wrappers.scikit_learn",
    "keras.preprocessing.text", "keras.backend.tensorflow_backend", "keras.dtensor",
    "keras.premade", "keras.estimator", "keras.feature_column", "keras.experimental",
)
_KERAS2_ONLY_MODULES = frozenset(KERAS2_ONLY_MODULES)
#: names of ``keras.utils`` that Keras 3 does not have
KERAS2_ONLY_UTILS = ("multi_gpu_model", "GeneratorEnqueuer", "OrderedEnqueuer",
                     "SequenceEnqueuer")
_KERAS3_MODULES = frozenset({"keras.ops", "keras.src", "keras.random", "keras.tree"})
_KERAS3_NAMES = frozenset({"PyDataset", "ops"})
#: what every import that is evidence starts with
_KERAS_PREFIXES = ("keras", "tf_keras", "tensorflow.python.keras", "tensorflow.keras")
_LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"
#: the values TensorFlow reads as true (``tensorflow/__init__.py``: "true", "True", "1")
_TRUE_VALUES = frozenset({"true", "True", "1"})

_TENSORFLOW = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos",
               "tensorflow-intel", "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu")
#: the first TensorFlow whose ``tf.keras`` is Keras 3
_TF_KERAS3 = Version("2.16")
#: the distributions that decide, in order, each with its first version that means Keras 3
#: (``None``: every version means Keras 2)
_DECIDING: tuple[tuple[tuple[str, ...], Version | None], ...] = (
    (("keras",), Version("3")), (("tf-keras",), None), (_TENSORFLOW, _TF_KERAS3),
)


@dataclass(frozen=True)
class KerasTarget:
    """The Keras a module targets (``None``: unknown), the evidence that decided it, in
    a few words, and ``notes``: evidence that lost or could not be read."""

    version: Major | None
    evidence: str
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """``"Keras 3 (pyproject.toml: keras>=3.3; still calls fit_generator: being
        migrated)"``, or ``"unknown (...)"``."""
        name = f"Keras {self.version}" if self.version else "unknown"
        return f"{name} ({'; '.join((self.evidence, *self.notes))})"


def keras_target(
    tree: ast.Module,
    configured: KerasVersion,
    path: Path | None,
    loader_calls: Iterable[ast.Call],
    inline_requirements: Sequence[InlineRequirement] = (),
) -> KerasTarget:
    """Return the Keras ``tree`` (the module at ``path``, if known) targets under ``configured``.

    ``loader_calls``: the module's calls (only those of loader methods are
    read); ``inline_requirements``: what the module declares for itself (a
    notebook's install lines), read before the project's files.
    """
    if configured in ("2", "3"):
        return KerasTarget(configured, "configured")
    if configured == "installed":
        return _installed()
    module = module_evidence(tree, loader_calls)
    project = declared_dependencies(path) if path is not None else None
    declared = dependency_evidence(project, inline_requirements)
    runs = module.runs()
    if runs is not None:
        version, evidence = runs
    elif declared.version is not None:
        version, evidence = declared.version, declared.evidence
    elif module.legacy is not None:
        version, evidence = "2", module.legacy
    elif module.runs_keras2 and module.runs_keras3:
        evidence = f"{module.runs_keras2} and {module.runs_keras3}: both Keras 2 and 3"
        return KerasTarget(None, evidence, declared.unreadable)
    else:
        return KerasTarget(None, declared.evidence, declared.unreadable)
    return KerasTarget(version, evidence,
                       (*_conflicts(version, module, declared), *declared.unreadable))


def _conflicts(version: Major, module: ModuleEvidence, declared: DeclaredEvidence,
               ) -> Iterator[str]:
    """The evidence pointing away from ``version``, in a few words each."""
    other = module.runs_keras3 if version == "2" else module.runs_keras2
    if other is not None:
        yield f"also {other}"
    if declared.version is not None and declared.version != version:
        yield f"though {declared.evidence}"
    elif declared.conflict is not None:
        yield f"though {declared.conflict}"
    if version == "3" and module.legacy is not None:
        yield f"still {module.legacy}: being migrated"


def _installed() -> KerasTarget:
    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return KerasTarget(None, "configured 'installed', and no keras is installed")
    major = version.split(".")[0]
    return KerasTarget(major if major in ("2", "3") else None,  # type: ignore[arg-type]
                       f"installed keras {version}")


# -- the module's own evidence ---------------------------------------------

@dataclass(frozen=True)
class ModuleEvidence:
    """What a module's own code says, each in a few words (``None``: nothing).

    ``runs_keras2``/``runs_keras3``: evidence of the package that runs it;
    ``legacy``: Keras 2 usage that code being migrated to Keras 3 still has.
    """

    runs_keras2: str | None
    runs_keras3: str | None
    legacy: str | None

    def runs(self) -> tuple[Major, str] | None:
        """The Keras the running package shows, with its evidence; ``None`` when it
        shows none, or both."""
        if self.runs_keras2 and not self.runs_keras3:
            return "2", self.runs_keras2
        if self.runs_keras3 and not self.runs_keras2:
            return "3", self.runs_keras3
        return None


def module_evidence(tree: ast.Module, calls: Iterable[ast.Call]) -> ModuleEvidence:
    """The Keras evidence of ``tree``'s top-level statements and of its ``calls``."""
    keras2 = keras3 = legacy = None
    for stmt in _top_level_statements(tree):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            two, three, old = _import_evidence(_imported_names(stmt))
            keras2, keras3, legacy = keras2 or two, keras3 or three, legacy or old
        elif isinstance(stmt, ast.ClassDef):
            keras3 = keras3 or _pydataset_base(stmt)
        elif isinstance(stmt, (ast.Assign, ast.Expr)):
            keras2 = keras2 or _sets_legacy_keras(stmt)
    return ModuleEvidence(keras2, keras3, legacy or _call_evidence(calls))


def _top_level_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """The module's statements, with those of its top-level ``if``/``try``/``with``
    blocks, in source order. Function bodies are not read: rarer, and they cost a
    full walk."""
    pending = list(reversed(tree.body))
    while pending:
        stmt = pending.pop()
        yield stmt
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            blocks = [stmt.body, getattr(stmt, "orelse", [])]
            if isinstance(stmt, ast.Try):
                blocks += [handler.body for handler in stmt.handlers] + [stmt.finalbody]
            for block in reversed(blocks):
                pending.extend(reversed(block))


def _imported_names(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import statement binds (a relative import binds none here)."""
    if isinstance(stmt, ast.Import):
        return [alias.name for alias in stmt.names]
    if stmt.level or not stmt.module:
        return []
    return [stmt.module] + [f"{stmt.module}.{alias.name}" for alias in stmt.names]


def _within(name: str, modules: frozenset[str]) -> bool:
    """Whether the dotted ``name`` is one of ``modules`` or inside one."""
    parts = name.split(".")
    return any(".".join(parts[:end]) in modules for end in range(1, len(parts) + 1))


def _as_keras(name: str) -> str:
    """``tensorflow.keras.x`` read as ``keras.x``: from TF 2.16 on they are one package."""
    return name[len("tensorflow."):] if name.startswith("tensorflow.keras") else name


def _import_evidence(names: list[str]) -> tuple[str | None, str | None, str | None]:
    """(runs Keras 2, runs Keras 3, legacy usage) evidence of importing the dotted ``names``."""
    found: dict[str, str] = {}
    for name in names:
        kind = _import_kind(name)
        if kind is not None:
            found.setdefault(kind, f"imports {name}")
    return found.get("2"), found.get("3"), found.get("legacy")


@functools.lru_cache(maxsize=4096)
def _import_kind(full: str) -> str | None:
    """What importing the dotted name ``full`` shows: ``"2"`` or ``"3"`` (the package
    that runs), ``"legacy"`` (a module only Keras 2 has), or ``None``. Cached: the
    same names recur in every module of a project."""
    if not full.startswith(_KERAS_PREFIXES):
        return None
    name = _as_keras(full)
    if _within(name, _KERAS2_MODULES):
        return "2"
    if _within(name, _KERAS2_ONLY_MODULES) or (
        name.startswith("keras.utils.") and name.rsplit(".", 1)[1] in KERAS2_ONLY_UTILS
    ):
        return "legacy"
    if _within(name, _KERAS3_MODULES) or (
        name.startswith("keras.") and name.rsplit(".", 1)[1] in _KERAS3_NAMES
    ):
        return "3"
    return None


def _pydataset_base(cls: ast.ClassDef) -> str | None:
    """``subclasses keras.utils.PyDataset`` for a class with a dotted ``*.PyDataset``
    base (``PyDataset`` imported by name is an import's evidence already)."""
    for base in cls.bases:
        if isinstance(base, ast.Attribute) and base.attr == "PyDataset":
            return f"subclasses {ast.unparse(base)}"
    return None


def _sets_legacy_keras(stmt: ast.Assign | ast.Expr) -> str | None:
    """``sets TF_USE_LEGACY_KERAS=1`` when ``stmt`` sets that variable to a value
    TensorFlow reads as true: ``os.environ["TF_USE_LEGACY_KERAS"] = "1"``, or a
    call of ``os.environ.setdefault``/``os.environ.update``/``os.putenv``."""
    if isinstance(stmt, ast.Assign):
        pairs = [(target.slice, stmt.value) for target in stmt.targets
                 if isinstance(target, ast.Subscript) and _is_environ(target.value)]
    else:
        pairs = _call_settings(stmt.value)
    for key, value in pairs:
        if (isinstance(key, ast.Constant) and key.value == _LEGACY_KERAS_VARIABLE
                and isinstance(value, ast.Constant) and value.value in _TRUE_VALUES):
            return f"sets {_LEGACY_KERAS_VARIABLE}={value.value}"
    return None


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ`` (``from os import environ``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _call_settings(node: ast.expr) -> list[tuple[ast.expr | None, ast.expr]]:
    """The (variable, value) pairs an environment-setting call sets."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return []
    func, args = node.func, node.args
    if (func.attr == "setdefault" and _is_environ(func.value)) or (
            func.attr == "putenv" and isinstance(func.value, ast.Name)):
        return [(args[0], args[1])] if len(args) == 2 else []
    if func.attr == "update" and _is_environ(func.value):
        pairs: list[tuple[ast.expr | None, ast.expr]] = [
            (ast.Constant(keyword.arg), keyword.value) for keyword in node.keywords
        ]
        for arg in args:
            if isinstance(arg, ast.Dict):
                pairs.extend(zip(arg.keys, arg.values))
        return pairs
    return []


def _call_evidence(calls: Iterable[ast.Call]) -> str | None:
    """Legacy evidence among ``calls``: the first (in source order) loader call that is a
    ``*_generator`` method or passes a Keras 1 keyword."""
    found = []
    for node in calls:
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in LOADER_METHODS):
            continue
        if node.func.attr in GENERATOR_METHODS:
            found.append((node.lineno, node.col_offset, f"calls {node.func.attr}"))
        for keyword in node.keywords:
            if keyword.arg in KERAS1_KEYWORDS:
                found.append((keyword.lineno, keyword.col_offset,
                              f"passes Keras 1's {keyword.arg}="))
    return min(found)[2] if found else None


# -- the declared dependencies ---------------------------------------------

@dataclass(frozen=True)
class _Declared:
    """One declaration as the targeting reads it: its text and the requirements it allows."""

    label: str
    options: tuple[Requirement, ...]


def _majors(specifier: SpecifierSet, keras3: Version, last: Version) -> set[Major]:
    """Which Keras ``specifier`` admits: versions before ``keras3`` mean 2, the rest 3.

    The candidates tried are the specifier's own versions and their
    neighbours, the boundary, and a version far on each side: a conjunction
    of version clauses admits an interval, whose ends lie among those.
    """
    candidates = {Version("0"), keras3, last}
    for clause in specifier:
        text = clause.version.rstrip(".*")
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        release = list(version.release)
        candidates.add(version)
        candidates.add(Version(".".join(map(str, release + [1]))))
        candidates.add(Version(".".join(map(str, release[:-1] + [release[-1] + 1]))))
        candidates.add(Version(".".join(map(str, release + [99]))))
    majors: set[Major] = set()
    for candidate in candidates:
        if specifier.contains(candidate, prereleases=True):
            majors.add("2" if Version(candidate.base_version) < keras3 else "3")
    return majors


def _layers(project: DeclaredDependencies | None,
            inline: Sequence[InlineRequirement]) -> list[dict[str, _Declared]]:
    """The declarations by canonical name: the module's own, then the project's (the
    first declaration of a name in each counts)."""
    own: dict[str, _Declared] = {}
    for declared in inline:
        own.setdefault(canonicalize_name(declared.requirement.name),
                       _Declared(str(declared), (declared.requirement,)))
    files: dict[str, _Declared] = {}
    if project is not None:
        for declaration in project.declarations:
            label = f"{_where(project, declaration.source)}: {declaration.text}"
            files.setdefault(declaration.name, _Declared(label, declaration.options))
    return [own, files]


def _decision(declared: _Declared, keras3: Version | None) -> Major | None:
    """The one Keras ``declared`` allows (``None``: both); ``keras3``: the first version
    of the distribution that means Keras 3 (``None``: every version means Keras 2)."""
    if keras3 is None:
        return "2"
    majors: set[Major] = set()
    for requirement in declared.options:
        majors |= _majors(requirement.specifier, keras3, Version("99"))
    return majors.pop() if len(majors) == 1 else None


def _where(project: DeclaredDependencies, source: Path) -> str:
    """``source`` as the user knows it: relative to the project root when it is inside it
    (a requirements file may include one from elsewhere with ``-r``)."""
    try:
        return source.relative_to(project.root).as_posix()
    except ValueError:
        return str(source)


@dataclass(frozen=True)
class DeclaredEvidence:
    """What the declared dependencies say.

    ``version``: the Keras they require (``None``: none, or both); ``evidence``:
    the deciding declaration (``requirements.txt: keras>=3``), or why none
    decides; ``conflict``: the first decisive declaration requiring the other
    Keras; ``unreadable``: notes naming the project files that could not be read.
    """

    version: Major | None
    evidence: str
    conflict: str | None = None
    unreadable: tuple[str, ...] = ()


def dependency_evidence(project: DeclaredDependencies | None,
                        inline_requirements: Sequence[InlineRequirement] = (),
                        ) -> DeclaredEvidence:
    """The Keras the declared dependencies require (see the module docstring): the
    module's own (``inline_requirements``) before ``project``'s."""
    unreadable = tuple(f"{_where(project, path)} cannot be read: {reason}"
                       for path, reason in project.unreadable) if project is not None else ()
    decided: list[tuple[Major, str]] = []
    undecided: list[str] = []
    for layer in _layers(project, inline_requirements):
        for names, keras3 in _DECIDING:
            for declared in filter(None, map(layer.get, names)):
                version = _decision(declared, keras3)
                if version is None:
                    undecided.append(declared.label)
                else:
                    decided.append((version, declared.label))
    if decided:
        version, label = decided[0]
        conflict = next((other for major, other in decided if major != version), None)
        return DeclaredEvidence(version, label, conflict, unreadable)
    if undecided:
        allow = "allows" if len(undecided) == 1 else "each allow"
        return DeclaredEvidence(None, f"{', '.join(undecided)} {allow} Keras 2 and 3",
                                unreadable=unreadable)
    read = list(dict.fromkeys(declared.where for declared in inline_requirements))
    if project is not None:
        read += [_where(project, path) for path in project.read]
    if read:
        return DeclaredEvidence(
            None, f"no keras, tf-keras or tensorflow declared in {', '.join(read)}",
            unreadable=unreadable)
    if project is not None:
        return DeclaredEvidence(None, "no project file could be read", unreadable=unreadable)
    return DeclaredEvidence(None, "no Keras evidence in the module and no project file")
