"""ThreadSafeIterator and threadsafe_generator: counted, not timed."""

from __future__ import annotations

import collections
import copy
import inspect
import pickle
import threading
import types
from collections.abc import Iterator

import pytest

import safeloader
from safeloader import ThreadSafeIterator, threadsafe_generator, threadsafe_iter

JOIN_TIMEOUT = 30.0  # a guard against a hang, never reached when the code is right


def _run_threads(target, count: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "a consumer thread hung"
    return threads


# -- concurrency ----------------------------------------------------------------


def test_sixteen_threads_get_every_item_exactly_once():
    @threadsafe_generator
    def numbers(n):
        yield from range(n)

    total = 200_000
    shared = numbers(total)
    seen: list[list[int]] = [[] for _ in range(16)]
    ended = [False] * 16

    def drain(index):
        append = seen[index].append
        for item in shared:
            append(item)
        ended[index] = True

    _run_threads(drain, 16)
    counts = collections.Counter(item for part in seen for item in part)
    assert len(counts) == total
    assert set(counts.values()) == {1}
    assert sorted(counts) == list(range(total))
    assert all(ended)
    # Items a thread saw came out of the source in order.
    assert all(part == sorted(part) for part in seen)


def test_unwrapped_generator_really_is_unsafe():
    """The hazard the wrapper removes: a second thread entering a running generator."""
    inside = threading.Event()
    release = threading.Event()

    def slow():
        inside.set()
        release.wait(JOIN_TIMEOUT)
        yield 1

    plain = slow()
    errors: list[BaseException] = []
    first = threading.Thread(target=lambda: next(plain))
    first.start()
    inside.wait(JOIN_TIMEOUT)
    try:
        next(plain)
    except ValueError as error:
        errors.append(error)
    release.set()
    first.join(JOIN_TIMEOUT)
    assert [str(e) for e in errors] == ["generator already executing"]


def test_second_thread_waits_for_the_first_instead_of_failing():
    inside = threading.Event()
    release = threading.Event()

    @threadsafe_generator
    def slow():
        inside.set()
        release.wait(JOIN_TIMEOUT)
        yield "first"
        yield "second"

    shared = slow()
    got: dict[str, object] = {}
    first = threading.Thread(target=lambda: got.__setitem__("a", next(shared)))
    second = threading.Thread(target=lambda: got.__setitem__("b", next(shared)))
    first.start()
    inside.wait(JOIN_TIMEOUT)
    second.start()
    release.set()
    first.join(JOIN_TIMEOUT)
    second.join(JOIN_TIMEOUT)
    assert got == {"a": "first", "b": "second"}


# -- error stickiness ------------------------------------------------------------


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interruption_inside_the_source_is_sticky_too(interruption):
    raised = interruption("stop")

    @threadsafe_generator
    def interrupted():
        yield from range(3)
        raise raised  # as Ctrl-C does while the main thread runs the source

    shared = interrupted()
    with pytest.raises(interruption):
        for _ in shared:
            pass
    outcomes: list[BaseException | None] = [None] * 4

    def call_again(index):
        try:
            next(shared)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcomes[index] = error

    _run_threads(call_again, 4)
    # Not StopIteration: no worker takes the interrupted source for the end of the data.
    assert all(outcome is raised for outcome in outcomes)


def test_an_error_reaches_every_thread_and_every_later_call():
    failure = ValueError("bad record 500")

    @threadsafe_generator
    def failing():
        yield from range(500)
        raise failure

    shared = failing()
    outcomes: list[BaseException | None] = [None] * 8
    counts = [0] * 8

    def drain(index):
        try:
            for _ in shared:
                counts[index] += 1
        except BaseException as error:  # noqa: BLE001 - recorded for the assertions
            outcomes[index] = error

    _run_threads(drain, 8)
    assert sum(counts) == 500
    # No thread mistook the failure for a normal end (a for loop would end silently).
    assert all(outcome is failure for outcome in outcomes)
    for call in (lambda: next(shared), lambda: shared.send(None), lambda: shared.throw(KeyError)):
        with pytest.raises(ValueError, match="bad record 500") as info:
            call()
        assert info.value is failure
    shared.close()  # closing a failed wrapper changes nothing
    with pytest.raises(ValueError):
        next(shared)


def test_error_traceback_does_not_grow_with_each_reraise():
    @threadsafe_generator
    def failing():
        raise KeyError("x")
        yield  # pragma: no cover

    shared = failing()
    depths = []
    for _ in range(5):
        with pytest.raises(KeyError) as info:
            next(shared)
        depths.append(len(list(_walk(info.value.__traceback__))))
    assert len(set(depths[1:])) == 1  # the first raise is shorter: no re-raise frame


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_an_exhausted_source_keeps_raising_stop_iteration():
    class Restarting(Iterator[int]):
        """An iterator that would start yielding again after it ended."""

        def __init__(self):
            self.calls = 0

        def __next__(self):
            self.calls += 1
            if self.calls == 2:
                raise StopIteration
            return self.calls

    source = Restarting()
    wrapped = ThreadSafeIterator(source)
    assert list(wrapped) == [1]
    for _ in range(3):
        with pytest.raises(StopIteration):
            next(wrapped)
    assert source.calls == 2  # the source was never asked again


def test_an_unsupported_method_error_is_not_sticky():
    wrapped = ThreadSafeIterator(iter([1, 2]))
    with pytest.raises(TypeError, match=r"send\(\).*list_iterator.*only generators"):
        wrapped.send(None)
    with pytest.raises(TypeError, match=r"throw\(\)"):
        wrapped.throw(ValueError)
    assert list(wrapped) == [1, 2]


# -- send / throw / close ---------------------------------------------------------


def test_send_and_throw_reach_the_generator():
    @threadsafe_generator
    def echo():
        received = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "caught"

    shared = echo()
    assert next(shared) is None
    assert shared.send(5) == 5
    assert shared.throw(KeyError) == "caught"
    assert shared.throw(KeyError("k")) == "caught"


def test_a_refused_send_to_a_just_started_generator_is_not_sticky():
    @threadsafe_generator
    def numbers():
        yield 1

    shared = numbers()
    with pytest.raises(TypeError, match="non-None"):
        shared.send("too early")
    assert list(shared) == [1]


def test_a_throw_the_generator_does_not_catch_becomes_its_error():
    @threadsafe_generator
    def numbers():
        yield 1
        yield 2

    shared = numbers()
    next(shared)
    with pytest.raises(OSError):
        shared.throw(OSError("disk"))
    with pytest.raises(OSError, match="disk"):
        next(shared)


def test_close_runs_the_generator_cleanup_and_ends_it():
    cleaned = []

    @threadsafe_generator
    def numbers():
        try:
            yield from range(10)
        finally:
            cleaned.append(True)

    shared = numbers()
    assert next(shared) == 0
    shared.close()
    assert cleaned == [True]
    with pytest.raises(StopIteration):
        next(shared)
    shared.close()  # twice is fine
    assert cleaned == [True]


def test_close_of_a_plain_iterator_ends_the_wrapper():
    wrapped = threadsafe_iter([1, 2, 3])
    assert next(wrapped) == 1
    wrapped.close()
    assert list(wrapped) == []


def test_close_waits_for_a_next_in_progress_in_another_thread():
    inside = threading.Event()
    release = threading.Event()
    events = []

    @threadsafe_generator
    def slow():
        try:
            inside.set()
            release.wait(JOIN_TIMEOUT)
            events.append("yield")
            yield 1
            yield 2
        finally:
            events.append("cleanup")

    shared = slow()
    results = []
    reader = threading.Thread(target=lambda: results.append(next(shared)))
    reader.start()
    inside.wait(JOIN_TIMEOUT)
    closer_errors: list[BaseException] = []

    def close():
        try:
            shared.close()
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            closer_errors.append(error)

    closer = threading.Thread(target=close)
    closer.start()
    release.set()
    reader.join(JOIN_TIMEOUT)
    closer.join(JOIN_TIMEOUT)
    # A raw generator's close() here raises "generator already executing".
    assert closer_errors == []
    assert results == [1]
    assert events == ["yield", "cleanup"]


# -- pickling ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_explains_why_and_what_to_do(protocol):
    wrapped = ThreadSafeIterator(iter(range(3)))
    with pytest.raises(TypeError) as info:
        pickle.dumps(wrapped, protocol=protocol)
    message = str(info.value)
    assert "process" in message
    assert "use_multiprocessing=False" in message
    assert "Sequence" in message and "PyDataset" in message


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_copying_is_refused_too(copier):
    with pytest.raises(TypeError, match="cannot be pickled or copied"):
        copier(ThreadSafeIterator(iter(range(3))))


# -- identity and metadata -----------------------------------------------------------


def test_keras_3_sees_a_generator_and_everything_else_sees_the_wrapper():
    wrapped = ThreadSafeIterator(iter([1]))
    assert isinstance(wrapped, types.GeneratorType)  # what Keras 3's fit checks
    assert inspect.isgenerator(wrapped)
    assert isinstance(wrapped, ThreadSafeIterator)
    assert isinstance(wrapped, Iterator)
    assert type(wrapped) is ThreadSafeIterator
    assert not isinstance((x for x in []), ThreadSafeIterator)
    assert threadsafe_iter is ThreadSafeIterator
    assert wrapped.source is not None
    assert "ThreadSafeIterator" in repr(wrapped)


def test_decorator_keeps_name_doc_and_signature():
    def batches(path: str, batch_size: int = 32, *, shuffle: bool = False) -> Iterator[int]:
        """Yield the batches of PATH."""
        yield batch_size

    decorated = threadsafe_generator(batches)
    assert decorated.__name__ == "batches"
    assert decorated.__qualname__ == batches.__qualname__
    assert decorated.__doc__ == "Yield the batches of PATH."
    assert decorated.__module__ == __name__
    assert decorated.__wrapped__ is batches
    assert inspect.signature(decorated) == inspect.signature(batches)
    result = decorated("data", batch_size=4)
    assert type(result) is ThreadSafeIterator
    assert list(result) == [4]


def test_decorator_on_methods_passes_self_through():
    class Loader:
        def __init__(self, items):
            self.items = items

        @threadsafe_generator
        def batches(self, scale):
            for item in self.items:
                yield item * scale

        @staticmethod
        @threadsafe_generator
        def constant(n):
            yield from [0] * n

        @classmethod
        @threadsafe_generator
        def named(cls):
            yield cls.__name__

    first, second = Loader([1, 2]), Loader([3])
    assert list(first.batches(10)) == [10, 20]
    assert list(second.batches(2)) == [6]
    assert list(Loader.constant(2)) == [0, 0]
    assert list(Loader.named()) == ["Loader"]
    assert Loader.batches.__name__ == "batches"


def test_each_call_gets_its_own_wrapper():
    @threadsafe_generator
    def numbers():
        yield from range(3)

    first, second = numbers(), numbers()
    assert first is not second
    assert next(first) == 0
    assert list(second) == [0, 1, 2]


def test_a_function_returning_an_iterator_is_accepted():
    @threadsafe_generator
    def from_list():
        return iter([1, 2])

    assert list(from_list()) == [1, 2]


def test_package_exports():
    assert safeloader.threadsafe_generator is threadsafe_generator
    assert safeloader.ThreadSafeIterator is ThreadSafeIterator
    assert safeloader.threadsafe_iter is ThreadSafeIterator
    assert callable(safeloader.sharded_generator)
    assert isinstance(safeloader.__version__, str)


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("not_callable", [3, "gen", None, [1, 2]])
def test_decorating_a_non_callable_is_a_type_error(not_callable):
    with pytest.raises(TypeError, match="not callable"):
        threadsafe_generator(not_callable)


def test_a_function_returning_no_iterator_names_the_function():
    class Holder:
        @threadsafe_generator
        def broken(self):
            return 42

    pattern = r"Holder\.broken\(\) returned int, which is not an iterator"
    with pytest.raises(TypeError, match=pattern):
        Holder().broken()


def test_a_function_returning_a_list_gets_a_hint():
    @threadsafe_generator
    def listing():
        return [1, 2]

    with pytest.raises(TypeError, match=r"listing\(\) returned list.*use yield"):
        listing()


def test_async_generator_functions_are_refused():
    async def agen():
        yield 1

    with pytest.raises(TypeError, match="async"):
        threadsafe_generator(agen)


def test_wrapping_a_non_iterable_is_a_type_error():
    with pytest.raises(TypeError, match="needs an iterable; got int"):
        ThreadSafeIterator(5)  # type: ignore[arg-type]
