"""Which Keras a module targets, for the Keras-3-only rule (SLD302).

``auto`` reads the module's imports first: ``tf_keras`` (or TensorFlow's
legacy copy, ``tensorflow.python.keras``) means Keras 2, an API
only Keras 3 has (``keras.ops``, ``keras.src``, ``PyDataset``) means Keras 3;
a module showing both is undecided. Otherwise the installed ``keras``
distribution's version decides (read from its metadata, never by importing
Keras), and only for a module that imports ``keras`` or ``tensorflow`` at
all. ``None`` means unknown: no Keras-3-only rule fires.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata

from safeloader.analysis.config import KerasVersion

_KERAS3_MODULES = ("keras.ops", "keras.src", "keras.random", "keras.tree")
_KERAS3_NAMES = frozenset({"PyDataset", "ops"})
_KERAS_ROOTS = frozenset({"keras", "tensorflow", "tf_keras"})
_KERAS2_MODULES = ("tf_keras", "tensorflow.python.keras")


def _is_keras2_module(name: str) -> bool:
    """Whether importing module ``name`` means Keras 2."""
    return any(name == m or name.startswith(m + ".") for m in _KERAS2_MODULES)


def _uses_keras3_api(module: str, names: tuple[str, ...]) -> bool:
    """Whether importing ``names`` from ``module`` (``""``: plain import) needs Keras 3."""
    if not module:
        return any(name == m or name.startswith(m + ".") for name in names for m in _KERAS3_MODULES)
    if module == "keras" or module.startswith("keras."):
        full = [f"{module}.{name}" for name in names]
        return (
            any(f == m or f.startswith(m + ".") for f in full for m in _KERAS3_MODULES)
            or any(m == module or module.startswith(m + ".") for m in _KERAS3_MODULES)
            or bool(_KERAS3_NAMES.intersection(names))
        )
    return False


def module_evidence(tree: ast.Module) -> tuple[KerasVersion | None, bool]:
    """Return the Keras version the imports show (or ``None``) and whether Keras is imported.

    Only the module's top-level statements (and those nested in ``if``/``try``
    blocks at top level) are read: imports inside functions are rarer and
    cost a full walk.
    """
    keras2 = keras3 = imports_keras = False
    pending = list(tree.body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.Import):
            names = tuple(alias.name for alias in stmt.names)
            roots = {name.split(".")[0] for name in names}
            imports_keras |= bool(roots & _KERAS_ROOTS)
            keras2 |= any(_is_keras2_module(name) for name in names)
            keras3 |= _uses_keras3_api("", names)
        elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
            root = stmt.module.split(".")[0]
            imports_keras |= root in _KERAS_ROOTS
            keras2 |= _is_keras2_module(stmt.module) or any(
                _is_keras2_module(f"{stmt.module}.{alias.name}") for alias in stmt.names
            )
            keras3 |= _uses_keras3_api(stmt.module, tuple(alias.name for alias in stmt.names))
        elif isinstance(stmt, (ast.If, ast.Try)):
            pending.extend(stmt.body)
            pending.extend(stmt.orelse)
            if isinstance(stmt, ast.Try):
                pending.extend(stmt.finalbody)
                for handler in stmt.handlers:
                    pending.extend(handler.body)
    if keras2 and keras3:
        return None, imports_keras
    if keras2:
        return "2", imports_keras
    if keras3:
        return "3", imports_keras
    return None, imports_keras


@functools.lru_cache(maxsize=1)
def installed_keras_version() -> KerasVersion | None:
    """Return the major version of the installed ``keras`` distribution, if it is 2 or 3."""
    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None
    major = version.split(".")[0]
    if major == "2":
        return "2"
    if major == "3":
        return "3"
    return None


def targeted_keras_version(tree: ast.Module, configured: KerasVersion) -> KerasVersion | None:
    """Return the Keras version ``tree`` targets under the ``configured`` setting."""
    if configured != "auto":
        return configured
    evidence, imports_keras = module_evidence(tree)
    if evidence is not None:
        return evidence
    if imports_keras:
        return installed_keras_version()
    return None
