"""The consumer's face of a sharded generator, whatever runs its shards (threads or processes).

:class:`MergedShards` is what both :class:`~safeloader.runtime.sharded.ShardedGenerator`
(shards in threads) and
:class:`~safeloader.runtime.process_shards.ProcessShardedGenerator` (shards in
processes) are: an iterator over the merged items that Keras 3 takes for a
generator, a context manager, ``close()``, and a refusal to be pickled. What
runs the shards is a :class:`ShardSource` it holds and never lets go of
before ``close()`` or garbage collection. :class:`ShardError` is the error
both raise for a failed shard.

Both kinds of shards import this module and nothing of each other;
:func:`safeloader.sharded_generator` (in :mod:`safeloader.runtime.sharded`)
picks one.
"""

from __future__ import annotations

import types
import weakref
from typing import Any, Callable, Generic, Iterable, Iterator, NoReturn, Protocol, TypeVar

from safeloader.runtime.threadsafe import PICKLE_MESSAGE

__all__ = ["MergedShards", "ShardError", "ShardSource", "shard_name"]

T = TypeVar("T")


class ShardError(RuntimeError):
    """A shard of a :func:`sharded_generator` failed; ``__cause__`` is its error.

    ``shard_index`` and ``num_shards`` say which shard, ``error`` is the
    cause, and ``context`` (possibly empty) says what was being done when it
    happened, when that is not the shard's own code (e.g. rebuilding one of
    its items in the consumer's process).
    """

    def __init__(
        self, shard_index: int, num_shards: int, error: BaseException, context: str = ""
    ) -> None:
        message = f"shard {shard_index} of {num_shards} failed: {type(error).__name__}: {error}"
        RuntimeError.__init__(self, f"{message} ({context})" if context else message)
        self.shard_index = shard_index
        self.num_shards = num_shards
        self.error = error
        self.context = context

    def __reduce__(self) -> tuple[Any, ...]:
        return (ShardError, (self.shard_index, self.num_shards, self.error, self.context))


class ShardSource(Protocol):
    """What runs the shards behind a :class:`MergedShards`.

    It must never refer to the :class:`MergedShards` that holds it, so that
    dropping that iterator lets its finalizer run.
    """

    fn: Callable[..., Any]
    num_shards: int
    max_queue_size: int
    deterministic: bool

    def next_item(self) -> Any:
        """The next merged item; raises ``StopIteration`` or :class:`ShardError`."""

    def close(self) -> None:
        """Stop every shard, release what it holds; later ``next_item`` raises ``StopIteration``."""


class MergedShards(Generic[T]):
    """An iterator over the items of several shards, merged; see the subclasses.

    Safe for several consumer threads (Keras 2 workers), usable as a context
    manager, and reports ``generator`` as its ``__class__`` so that Keras 3's
    ``fit`` accepts it (see :mod:`safeloader.runtime.threadsafe` for why).
    """

    __slots__ = ("_shards", "_finalizer", "__weakref__")

    def __init__(self, shards: ShardSource, on_collect: Callable[[], None]) -> None:
        self._shards = shards
        self._finalizer = weakref.finalize(self, on_collect)

    # Keras 3 accepts a Python iterator only if isinstance(x, GeneratorType);
    # see safeloader.runtime.threadsafe's module docstring.
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        return types.GeneratorType

    @property
    def num_shards(self) -> int:
        """How many shards feed this iterator."""
        return self._shards.num_shards

    def __iter__(self) -> MergedShards[T]:
        return self

    def __next__(self) -> T:
        return self._shards.next_item()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the shards, drop the items they prepared; later ``next()`` raises ``StopIteration``.

        Each shard's generator is closed where it runs, so its ``finally``
        blocks run; see the subclass for how long ``close()`` waits for that.
        """
        self._shards.close()

    def __enter__(self) -> MergedShards[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name=type(self).__name__))

    def __reduce__(self) -> NoReturn:
        raise TypeError(PICKLE_MESSAGE.format(name=type(self).__name__))


def shard_name(fn: Callable[..., Any]) -> str:
    """How messages name a shard function: its qualified name, else its ``repr``."""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def open_shard(fn: Callable[[int, int], Iterable[Any]], index: int,
               num_shards: int) -> Iterator[Any]:
    """``iter(fn(index, num_shards))``: shard ``index``'s items, on a thread or in a
    process; a ``TypeError`` naming the shard when ``fn`` returned no iterable."""
    result = fn(index, num_shards)
    try:
        return iter(result)
    except TypeError:
        raise TypeError(
            f"sharded_generator: {shard_name(fn)}({index}, {num_shards}) returned "
            f"{type(result).__name__}, which is not iterable"
        ) from None
