"""Can this object be sent to a spawned process? ``check_spawn_safe`` says where it cannot.

Under the ``spawn`` start method (the default on Windows and macOS, and what
safeloader's process shards use everywhere) whatever a child process needs is
pickled: a ``PyDataset`` given to ``use_multiprocessing=True`` workers, the
``fn`` of ``sharded_generator(..., processes=True)``. On Linux, where Keras'
pools fork by default, nothing is pickled, so an unpicklable attribute only
shows up once the code runs on another system, as a bare ``cannot pickle
'generator' object`` that does not say which attribute holds it.

:func:`check_spawn_safe` pickles the object the way :mod:`multiprocessing`
does (its ``ForkingPickler``); when that fails it walks the object the way
pickle does (what ``__reduce_ex__`` returns: the attributes, the items, a
``functools.partial``'s function and arguments, a bound method's object) to
the first part that cannot be pickled itself, and raises
:class:`SpawnSafetyError` naming its path and type, e.g.
``Batches.stream: generator object``.

Some things pickle in the parent and still cannot be found by the child:
a function or class defined in ``__main__`` under
``if __name__ == "__main__":`` (the child imports the script without running
that block), in a notebook, or in an interactive session
(:mod:`safeloader.runtime.main_module`). The check's pickler refuses those
too, wherever they sit in the object (an instance's class, a
``functools.partial``'s function), so they are named the same way.
Synchronisation objects of
:mod:`multiprocessing` (``Lock``, ``Value``, ...) pass: they cannot be pickled
at any other time, but they do travel to a process that is being started.
"""

from __future__ import annotations

import functools
import io
import pickle
import types
from collections.abc import Iterator
from typing import Any

from multiprocessing.reduction import ForkingPickler

from safeloader.runtime.main_module import unreachable_from_child

__all__ = ["SpawnSafetyError", "check_spawn_safe"]

#: How deep the walk looks for the culprit before it blames the object at hand.
_MAX_DEPTH = 64

#: The message multiprocessing's own objects raise when pickled outside a start.
_INHERITANCE_ONLY = "through inheritance"


class SpawnSafetyError(TypeError):
    """An object cannot be pickled for a spawned process.

    ``path`` names the part that cannot (``"Batches.cfg['guard']"``),
    ``type_name`` its type (``"_thread.lock"``), ``reason`` what pickle said.
    """

    def __init__(self, path: str, type_name: str, reason: str) -> None:
        TypeError.__init__(
            self,
            f"{path}: {type_name} cannot be sent to a spawned process ({reason}). "
            f"{_ADVICE}",
        )
        self.path = path
        self.type_name = type_name
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (SpawnSafetyError, (self.path, self.type_name, self.reason))


_ADVICE = (
    "A spawned process receives a pickled copy: keep what it needs as plain data "
    "(paths, numbers, arrays) and open files, generators and locks inside the "
    "process (in __getitem__, or in the shard's generator); functions must be "
    "defined at the top level of an importable module."
)


def check_spawn_safe(obj: object, name: str | None = None) -> None:
    """Return ``None`` if ``obj`` can be sent to a spawned process, else raise.

    Args:
        obj: anything a child process would receive: a ``PyDataset`` or
            ``Sequence`` for ``use_multiprocessing=True``, a function with its
            arguments, a ``functools.partial``.
        name: how to call ``obj`` in the message; its type's name (or a
            function's qualified name) by default.

    Raises:
        SpawnSafetyError: a ``TypeError`` whose message starts with the path to
            the first part that cannot be pickled and its type, for example
            ``Batches.stream: generator object`` or
            ``Batches.cfg['guard']: _thread.lock``.
    """
    root = name if name is not None else _root_name(obj)
    try:
        _dumps(obj)
    except Exception as error:  # noqa: BLE001 - pickle raises many kinds
        culprit = _find(obj, root, set(), 0)
        if culprit is not None:
            raise culprit from None
        if _INHERITANCE_ONLY in str(error):
            return
        raise SpawnSafetyError(root, _type_name(obj), _reason(error)) from None


class _Unreachable(pickle.PicklingError):
    """A function or class that pickles here but that a spawned process cannot find."""


class _ProbingPickler(ForkingPickler):
    """multiprocessing's pickler, refusing what a spawned child could not look up."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)):
            reason = unreachable_from_child(obj)
            if reason is not None:
                raise _Unreachable(reason)
        return NotImplemented


def _dumps(obj: object) -> None:
    """Pickle ``obj`` as a process start would; raise what that would, or :class:`_Unreachable`."""
    _ProbingPickler(io.BytesIO(), pickle.DEFAULT_PROTOCOL).dump(obj)


def _find(obj: object, path: str, seen: set[int], depth: int) -> SpawnSafetyError | None:
    """The error naming the first unpicklable part of ``obj`` (at ``path``), or ``None``."""
    if id(obj) in seen:
        return None
    seen.add(id(obj))
    if isinstance(obj, (types.FunctionType, type, types.BuiltinFunctionType)):
        return _check_global(obj, path)  # pickled by reference: module and name
    if depth >= _MAX_DEPTH:
        return _check_whole(obj, path)
    parts = _parts(obj, path)
    if parts is None:  # its own reduction fails: this is the culprit
        return _check_whole(obj, path)
    while True:
        try:
            part_path, part = next(parts)
        except StopIteration:
            return None
        except Exception:  # noqa: BLE001 - a malformed reduction: the object is the culprit
            return _check_whole(obj, path)
        try:
            _dumps(part)
        except Exception:  # noqa: BLE001 - any failure: look inside
            found = _find(part, part_path, seen, depth + 1)
            if found is not None:
                return found


def _parts(obj: object, path: str) -> Iterator[tuple[str, object]] | None:
    """What pickling ``obj`` pickles next, with paths; ``None`` if ``obj`` cannot be reduced."""
    if type(obj) in (list, tuple):
        return ((f"{path}[{index}]", item) for index, item in enumerate(obj))  # type: ignore
    if type(obj) in (set, frozenset):
        return ((f"{path}{{item {index}}}", item) for index, item in enumerate(obj))  # type: ignore
    if type(obj) is dict:
        return _dict_parts(obj, path, "[{key!r}]")  # type: ignore[arg-type]
    if isinstance(obj, functools.partial):
        keywords = ((f"{path}.keywords[{key!r}]", value) for key, value in obj.keywords.items())
        arguments = ((f"{path}.args[{index}]", value) for index, value in enumerate(obj.args))
        return _chain([(f"{path}.func", obj.func)], arguments, keywords)
    if isinstance(obj, types.MethodType):
        return iter([(f"{path}.__self__", obj.__self__), (f"{path}.__func__", obj.__func__)])
    try:
        reduced = obj.__reduce_ex__(pickle.DEFAULT_PROTOCOL)
    except Exception:  # noqa: BLE001 - e.g. "cannot pickle 'generator' object"
        return None
    if isinstance(reduced, str):  # a global: checked as a whole
        return iter(())
    if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
        return None  # pickle refuses it ("must return string or tuple"): the object is the culprit
    if reduced[1] is not None and not isinstance(reduced[1], tuple):
        return None  # arguments that are not a tuple: pickle refuses them too
    return _reduced_parts(reduced, path)


def _reduced_parts(reduced: tuple[Any, ...], path: str) -> Iterator[tuple[str, object]]:
    """The parts of a ``__reduce_ex__`` tuple: class, arguments, state, items."""
    constructor, arguments, *rest = reduced + (None,) * (6 - len(reduced))
    state, list_items, dict_items = rest[0], rest[1], rest[2]
    yield f"{path} (its class)", constructor
    for index, argument in enumerate(arguments or ()):
        label = f"{path} (its class)" if isinstance(argument, type) else f"{path}.<arg {index}>"
        yield label, argument
    if isinstance(state, tuple) and len(state) == 2:  # (__dict__, __slots__ values)
        for part in state:
            if isinstance(part, dict):
                yield from _dict_parts(part, path, ".{key}")
    elif isinstance(state, dict):
        yield from _dict_parts(state, path, ".{key}")
    elif state is not None:
        yield f"{path}.__getstate__()", state
    for index, item in enumerate(list_items or ()):
        yield f"{path}[{index}]", item
    for key, value in dict_items or ():
        yield f"{path}[{key!r}]", value


def _dict_parts(mapping: dict[Any, Any], path: str, template: str) -> Iterator[tuple[str, object]]:
    for key, value in mapping.items():
        yield f"{path} (a key)", key
        yield path + template.format(key=key), value


def _chain(*parts: Any) -> Iterator[tuple[str, object]]:
    for group in parts:
        yield from group


def _check_global(obj: Any, path: str) -> SpawnSafetyError | None:
    """Functions and classes travel as ``module.qualname``: the child must find them there."""
    qualname = getattr(obj, "__qualname__", repr(obj))
    module = getattr(obj, "__module__", None)
    kind = "class" if isinstance(obj, type) else "function"
    try:
        pickle.dumps(obj, pickle.DEFAULT_PROTOCOL)
    except Exception as error:  # noqa: BLE001 - PicklingError, AttributeError...
        where = "a lambda" if qualname.endswith("<lambda>") else (
            "a local function or class" if "<locals>" in qualname else "not importable by that name"
        )
        return SpawnSafetyError(path, f"{kind} {module}.{qualname} ({where})", _reason(error))
    reason = unreachable_from_child(obj)
    if reason is not None:
        return SpawnSafetyError(
            path, f"{kind} {module}.{qualname} ({reason})",
            "a spawned process finds it by module and name, and its __main__ does not have it",
        )
    return None


def _check_whole(obj: object, path: str) -> SpawnSafetyError | None:
    try:
        _dumps(obj)
    except Exception as error:  # noqa: BLE001
        if _INHERITANCE_ONLY in str(error):
            return None  # a multiprocessing Lock/Value: it travels when a process starts
        return SpawnSafetyError(path, _type_name(obj), _reason(error))
    return None


def _root_name(obj: object) -> str:
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return obj.__qualname__
    if isinstance(obj, type):
        return obj.__name__
    return type(obj).__name__


def _type_name(obj: object) -> str:
    kind = type(obj)
    if kind.__module__ == "builtins":
        return f"{kind.__qualname__} object"
    return f"{kind.__module__}.{kind.__qualname__}"


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
