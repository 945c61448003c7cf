"""Which Keras a module targets, and why: the same answer wherever the analysis runs.

The configured value decides when it is ``2`` or ``3`` (``installed`` reads
the installed ``keras`` distribution's version, only when asked for). ``auto``
reads, in order:

1. the module's own evidence (:func:`module_evidence`): Keras 2 when it
   imports ``tf_keras``, TensorFlow's legacy copy or a module only Keras 2
   has (``keras.utils.data_utils``, ``keras.engine``...), calls a
   ``*_generator`` method or passes a Keras 1 keyword; Keras 3 when it uses
   an API only Keras 3 has (``keras.ops``, ``PyDataset``...). A module
   showing both says nothing;
2. the project's declared dependencies (:mod:`.declared_dependencies`): a
   ``keras`` specifier that admits only 2.x or only 3.x; else ``tf_keras``
   (Keras 2); else a ``tensorflow`` specifier that admits only versions
   before 2.16 (Keras 2) or only from 2.16 (Keras 3).

What is installed never enters ``auto``. ``None`` means unknown: the Keras 2
rules apply and the Keras-3-only rules stay silent.
"""

from __future__ import annotations

import ast
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from safeloader.analysis.config import KerasVersion
from safeloader.analysis.declared_dependencies import DeclaredDependencies, declared_dependencies
from safeloader.analysis.signatures import GENERATOR_METHODS, KERAS1_KEYWORDS, LOADER_METHODS

Major = Literal["2", "3"]

_KERAS2_MODULES = ("tf_keras", "tensorflow.python.keras")
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
#: names of ``keras.utils`` that Keras 3 does not have
KERAS2_ONLY_UTILS = ("multi_gpu_model", "GeneratorEnqueuer", "OrderedEnqueuer",
                     "SequenceEnqueuer")
_KERAS3_MODULES = ("keras.ops", "keras.src", "keras.random", "keras.tree")
_KERAS3_NAMES = frozenset({"PyDataset", "ops"})

_TENSORFLOW = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos",
               "tensorflow-intel", "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu")
#: the first TensorFlow whose ``tf.keras`` is Keras 3
_TF_KERAS3 = Version("2.16")


@dataclass(frozen=True)
class KerasTarget:
    """The Keras a module targets (``None``: unknown) and the evidence, in a few words."""

    version: Major | None
    evidence: str

    def describe(self) -> str:
        """``"Keras 3 (pyproject.toml: keras>=3.3)"``, or ``"unknown (...)"``."""
        name = f"Keras {self.version}" if self.version else "unknown"
        return f"{name} ({self.evidence})"


def keras_target(tree: ast.Module, configured: KerasVersion, path: Path | None) -> KerasTarget:
    """Return the Keras ``tree`` (the module at ``path``, if known) targets under ``configured``."""
    if configured in ("2", "3"):
        return KerasTarget(configured, "configured")
    if configured == "installed":
        return _installed()
    evidence = module_evidence(tree)
    if evidence is not None:
        return evidence
    project = declared_dependencies(path) if path is not None else None
    if project is not None:
        return dependency_evidence(project)
    return KerasTarget(None, "no Keras evidence in the module and no project file")


def _installed() -> KerasTarget:
    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return KerasTarget(None, "configured 'installed', and no keras is installed")
    major = version.split(".")[0]
    return KerasTarget(major if major in ("2", "3") else None,  # type: ignore[arg-type]
                       f"installed keras {version}")


# -- the module's own evidence ---------------------------------------------

def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _as_keras(name: str) -> str:
    """``tensorflow.keras.x`` read as ``keras.x``: from TF 2.16 on they are one package."""
    return name[len("tensorflow."):] if name.startswith("tensorflow.keras") else name


def _import_evidence(names: list[str]) -> tuple[str | None, str | None]:
    """(Keras 2 evidence, Keras 3 evidence) of importing the dotted ``names``."""
    keras2 = keras3 = None
    for full in names:
        name = _as_keras(full)
        if _within(name, _KERAS2_MODULES) or _within(name, KERAS2_ONLY_MODULES) or (
            name.startswith("keras.utils.") and name.rsplit(".", 1)[1] in KERAS2_ONLY_UTILS
        ):
            keras2 = keras2 or f"imports {full}"
        elif _within(name, _KERAS3_MODULES) or (
            name.startswith("keras.") and name.rsplit(".", 1)[1] in _KERAS3_NAMES
        ):
            keras3 = keras3 or f"imports {full}"
    return keras2, keras3


def _top_level_imports(tree: ast.Module) -> Iterator[list[str]]:
    """The dotted names each top-level import statement (``if``/``try`` blocks too) binds.

    Imports inside functions are not read: rarer, and they cost a full walk.
    """
    pending = list(reversed(tree.body))
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.Import):
            yield [alias.name for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
            yield [stmt.module] + [f"{stmt.module}.{alias.name}" for alias in stmt.names]
        elif isinstance(stmt, (ast.If, ast.Try)):
            blocks = [stmt.body, stmt.orelse]
            if isinstance(stmt, ast.Try):
                blocks += [handler.body for handler in stmt.handlers] + [stmt.finalbody]
            for block in reversed(blocks):
                pending.extend(reversed(block))


def _call_evidence(tree: ast.Module) -> str | None:
    """Keras 2 evidence among the calls: a ``*_generator`` method or a Keras 1 keyword."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOADER_METHODS):
            continue
        if node.func.attr in GENERATOR_METHODS:
            return f"calls {node.func.attr}"
        for keyword in node.keywords:
            if keyword.arg in KERAS1_KEYWORDS:
                return f"passes Keras 1's {keyword.arg}="
    return None


def module_evidence(tree: ast.Module) -> KerasTarget | None:
    """The Keras the module's own code shows, or ``None`` (no evidence, or evidence of both)."""
    keras2 = keras3 = None
    for names in _top_level_imports(tree):
        two, three = _import_evidence(names)
        keras2, keras3 = keras2 or two, keras3 or three
    if keras2 is None:
        keras2 = _call_evidence(tree)
    if keras2 and keras3:
        return None
    if keras2:
        return KerasTarget("2", keras2)
    if keras3:
        return KerasTarget("3", keras3)
    return None


# -- the project's declared dependencies -----------------------------------

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


def _decided(project: DeclaredDependencies, names: tuple[str, ...], keras3: Version,
             ) -> KerasTarget | None:
    for name in names:
        declared = project.requirement(name)
        if declared is None:
            continue
        source, requirement = declared
        majors = _majors(requirement.specifier, keras3, Version("99"))
        if len(majors) == 1:
            return KerasTarget(majors.pop(), f"{_where(project, source)}: {requirement}")
    return None


def _where(project: DeclaredDependencies, source: Path) -> str:
    """``source`` as the user knows it: relative to the project root when it is inside it
    (a requirements file may include one from elsewhere with ``-r``)."""
    try:
        return source.relative_to(project.root).as_posix()
    except ValueError:
        return str(source)


def dependency_evidence(project: DeclaredDependencies) -> KerasTarget:
    """The Keras ``project``'s declared dependencies require (see the module docstring)."""
    keras = _decided(project, ("keras",), Version("3"))
    if keras is not None:
        return keras
    tf_keras = project.requirement("tf-keras")
    if tf_keras is not None:
        source, requirement = tf_keras
        return KerasTarget("2", f"{_where(project, source)}: {requirement}")
    tensorflow = _decided(project, _TENSORFLOW, _TF_KERAS3)
    if tensorflow is not None:
        return tensorflow
    if project.sources:
        read = ", ".join(source.name for source in project.sources)
        return KerasTarget(None, f"no Keras version in {read}")
    return KerasTarget(None, "no Keras evidence in the module or the project")
