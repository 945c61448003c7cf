"""Run a function on a package right after it is first imported.

The doctor must not import Keras itself before the script does: a script may
choose its backend (``KERAS_BACKEND``) or its Keras (``TF_USE_LEGACY_KERAS``)
in its first lines. So it waits on ``sys.meta_path``: when ``keras`` or
``tf_keras`` is imported (directly, or through ``tf.keras``), the real
loader runs and then the package is instrumented, before the script gets it.

Hand-written because the standard library offers no post-import hook (PEP
369 was withdrawn); the technique is the usual one: a finder that asks the
other finders for the spec and wraps its loader.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any, Callable, Mapping, Sequence


class _NotifyingLoader(importlib.abc.Loader):
    """Delegates to the real loader, then calls ``on_loaded(module)``."""

    def __init__(self, loader: Any, on_loaded: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._on_loaded = on_loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._on_loaded(module)

    def __getattr__(self, name: str) -> Any:  # resource readers, get_data, is_package...
        return getattr(self._loader, name)


class PostImportHook(importlib.abc.MetaPathFinder):
    """Calls ``callbacks[name](module)`` once the top-level package ``name`` is imported."""

    def __init__(self, callbacks: Mapping[str, Callable[[ModuleType], None]]) -> None:
        self._callbacks = dict(callbacks)
        self._finding: set[str] = set()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        callback = self._callbacks.get(fullname)
        if callback is None or fullname in self._finding:
            return None
        self._finding.add(fullname)  # the other finders, not this one, find the real spec
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _NotifyingLoader(spec.loader, callback)
        return spec

    def install(self) -> None:
        """Start watching; packages already imported get their callback now."""
        sys.meta_path.insert(0, self)
        for name, callback in self._callbacks.items():
            module = sys.modules.get(name)
            if module is not None:
                callback(module)

    def uninstall(self) -> None:
        """Stop watching."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
