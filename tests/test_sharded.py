"""sharded_generator: order, errors, shutdown and backpressure, by counting."""

from __future__ import annotations

import collections
import gc
import pickle
import sys
import threading
import types
import weakref

import pytest

import safeloader.runtime.sharded
from safeloader import ShardError, sharded_generator
from safeloader.runtime.sharded import (
    DEFAULT_MAX_QUEUE_SIZE,
    ShardAbandonedWarning,
    ShardedGenerator,
)

WAIT = 30.0  # a guard against a hang, never reached when the code is right
PREFIX = "safeloader-shard-"


def _shard_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(PREFIX)]


@pytest.fixture
def no_new_threads():
    """Fail a test that leaves any thread behind (compared by identity and count)."""
    before = set(threading.enumerate())
    count = threading.active_count()
    yield
    assert set(threading.enumerate()) - before == set()
    assert threading.active_count() <= count


def assert_no_new_threads(before: set[threading.Thread], count: int) -> None:
    assert set(threading.enumerate()) - before == set()
    assert threading.active_count() <= count


def _snapshot() -> tuple[set[threading.Thread], int]:
    return set(threading.enumerate()), threading.active_count()


def uneven(shard_index, num_shards):
    """Shard i yields (i, 0), (i, 1), ... : 3, 1 and 5 items for shards 0, 1, 2."""
    lengths = [3, 1, 5]
    for k in range(lengths[shard_index]):
        yield shard_index, k


# -- order ----------------------------------------------------------------------


def test_deterministic_order_is_round_robin_and_ended_shards_drop_out(no_new_threads):
    expected = [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (2, 2), (2, 3), (2, 4)]
    assert list(sharded_generator(uneven, 3)) == expected


def test_deterministic_order_does_not_depend_on_timing(no_new_threads):
    gates = [threading.Event() for _ in range(3)]

    def gated(shard_index, num_shards):
        # Shard 2 runs first, shard 0 last: arrival order is the reverse of rotation.
        if shard_index < 2:
            gates[shard_index + 1].wait(WAIT)
        for k in range(4):
            yield shard_index, k
            if k == 1:
                gates[shard_index].set()

    merged = sharded_generator(gated, 3, max_queue_size=4)
    assert list(merged) == [(i, k) for k in range(4) for i in range(3)]


def test_first_come_serves_a_fast_shard_while_a_slow_one_waits(no_new_threads):
    release_slow = threading.Event()

    def shards(shard_index, num_shards):
        if shard_index == 0:
            release_slow.wait(WAIT)
            yield from [("slow", k) for k in range(2)]
        else:
            yield from [("fast", k) for k in range(3)]

    merged = sharded_generator(shards, 2, deterministic=False)
    first_three = [next(merged) for _ in range(3)]
    # Shard 0 has not produced anything yet, so all of these come from shard 1.
    assert first_three == [("fast", 0), ("fast", 1), ("fast", 2)]
    release_slow.set()
    assert list(merged) == [("slow", 0), ("slow", 1)]


def test_first_come_delivers_every_item_and_keeps_each_shards_order(no_new_threads):
    merged = list(sharded_generator(uneven, 3, deterministic=False))
    assert sorted(merged) == sorted(item for i in range(3) for item in uneven(i, 3))
    for shard in range(3):
        assert [k for i, k in merged if i == shard] == sorted(k for i, k in merged if i == shard)


def test_fn_is_called_once_per_shard_with_its_index(no_new_threads):
    calls = []
    lock = threading.Lock()

    def record(shard_index, num_shards):
        with lock:
            calls.append((shard_index, num_shards, threading.current_thread().name))
        return iter([shard_index])

    assert list(sharded_generator(record, 4)) == [0, 1, 2, 3]
    assert sorted(calls) == [(i, 4, f"{PREFIX}{i}") for i in range(4)]


def test_threads_start_at_first_next_and_are_named_daemons(no_new_threads):
    release = threading.Event()

    def waiting(shard_index, num_shards):
        yield shard_index
        release.wait(WAIT)

    merged = sharded_generator(waiting, 3)
    assert _shard_threads() == []  # nothing runs before the first next()
    assert next(merged) == 0
    threads = _shard_threads()
    assert sorted(t.name for t in threads) == [f"{PREFIX}{i}" for i in range(3)]
    assert all(t.daemon for t in threads)
    release.set()
    assert list(merged) == [1, 2]


def test_one_shard_works(no_new_threads):
    assert list(sharded_generator(lambda i, n: iter(range(5)), 1)) == [0, 1, 2, 3, 4]


def test_several_consumers_get_every_item_exactly_once(no_new_threads):
    per_shard = 5_000

    def numbers(shard_index, num_shards):
        yield from range(shard_index, per_shard * num_shards, num_shards)

    for deterministic in (True, False):
        merged = sharded_generator(numbers, 4, deterministic=deterministic)
        seen: list[list[int]] = [[] for _ in range(8)]

        def drain(index):
            append = seen[index].append
            for item in merged:
                append(item)

        consumers = [threading.Thread(target=drain, args=(i,)) for i in range(8)]
        for thread in consumers:
            thread.start()
        for thread in consumers:
            thread.join(WAIT)
        assert not any(t.is_alive() for t in consumers)
        counts = collections.Counter(item for part in seen for item in part)
        assert sorted(counts) == list(range(per_shard * 4))
        assert set(counts.values()) == {1}


# -- backpressure ------------------------------------------------------------------


def test_each_shard_prepares_at_most_max_queue_size_items_ahead(no_new_threads):
    max_queue_size, num_shards, steps = 3, 2, 40
    produced = [0] * num_shards
    changed = threading.Condition()

    def counting(shard_index, num_shards):
        while True:
            with changed:
                produced[shard_index] += 1  # this item is now in the producer's hand
                changed.notify_all()
            yield shard_index

    consumed = [0] * num_shards
    most_ahead = [0] * num_shards
    # Ahead = queued (max_queue_size) + the one item a blocked producer holds.
    bound = max_queue_size + 1
    with sharded_generator(counting, num_shards, max_queue_size=max_queue_size) as merged:
        for _ in range(steps):
            shard = next(merged)
            consumed[shard] += 1
            with changed:
                # Let every producer run as far ahead as it can...
                assert changed.wait_for(
                    lambda: all(produced[i] - consumed[i] >= bound for i in range(num_shards)),
                    WAIT,
                )
                for i in range(num_shards):
                    most_ahead[i] = max(most_ahead[i], produced[i] - consumed[i])
    # ...and no further: the bound was reached and never passed.
    assert most_ahead == [bound] * num_shards
    assert consumed == [steps // num_shards] * num_shards


def test_default_queue_size_is_sensible():
    assert 1 <= DEFAULT_MAX_QUEUE_SIZE <= 16


# -- errors --------------------------------------------------------------------------


def failing_shard(shard_index, num_shards):
    yield shard_index, 0
    if shard_index == 2:
        raise ValueError("bad file in shard 2")
    yield from ((shard_index, k) for k in range(1, 100))


def test_a_shard_error_names_the_shard_and_chains_the_original(no_new_threads):
    merged = sharded_generator(failing_shard, 4)
    delivered = []
    with pytest.raises(ShardError, match=r"shard 2 of 4 failed: ValueError: bad file") as info:
        for item in merged:
            delivered.append(item)
    error = info.value
    assert isinstance(error, RuntimeError)
    assert (error.shard_index, error.num_shards) == (2, 4)
    assert isinstance(error.__cause__, ValueError)
    assert error.error is error.__cause__
    # The error may come before its round-robin place (as soon as it is known),
    # but what was delivered is a prefix of the round-robin order, never reordered.
    assert delivered == [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1)][:len(delivered)]
    # No thread is left running once the error has been raised.
    assert _shard_threads() == []


def test_the_shard_error_is_sticky_across_threads(no_new_threads):
    merged = sharded_generator(failing_shard, 4)
    with pytest.raises(ShardError) as info:
        list(merged)
    later: list[BaseException] = []

    def call_again():
        try:
            next(merged)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            later.append(error)

    thread = threading.Thread(target=call_again)
    thread.start()
    thread.join(WAIT)
    with pytest.raises(ShardError) as again:
        next(merged)
    assert later == [info.value]
    assert again.value is info.value


def test_first_come_mode_propagates_errors_too(no_new_threads):
    with pytest.raises(ShardError, match="shard 2 of 3") as info:
        list(sharded_generator(failing_shard, 3, deterministic=False))
    assert isinstance(info.value.__cause__, ValueError)


def test_fn_that_raises_before_yielding(no_new_threads):
    def broken(shard_index, num_shards):
        if shard_index == 1:
            raise OSError("cannot open shard 1")
        return iter([shard_index])

    with pytest.raises(ShardError, match="shard 1 of 2 failed: OSError") as info:
        list(sharded_generator(broken, 2))
    assert isinstance(info.value.__cause__, OSError)


def test_fn_that_returns_no_iterable_is_named(no_new_threads):
    def not_a_generator(shard_index, num_shards):
        return 42

    with pytest.raises(ShardError) as info:
        list(sharded_generator(not_a_generator, 2))
    assert isinstance(info.value.__cause__, TypeError)
    index = info.value.shard_index  # both shards fail; the first to fail is reported
    assert f"not_a_generator({index}, 2) returned int, which is not iterable" in str(
        info.value.__cause__)


def test_shard_error_pickles():
    error = ShardError(3, 4, KeyError("k"))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.shard_index, copy.num_shards, str(copy)) == (3, 4, str(error))


# -- shutdown ------------------------------------------------------------------------


def endless_with_cleanup(log):
    def endless(shard_index, num_shards):
        try:
            while True:
                yield shard_index
        finally:
            log.append(threading.current_thread().name)

    return endless


def test_exhaustion_leaves_no_thread(no_new_threads):
    merged = sharded_generator(uneven, 3)
    assert len(list(merged)) == 9
    assert _shard_threads() == []
    with pytest.raises(StopIteration):
        next(merged)


def test_close_stops_every_thread_and_runs_cleanup_in_the_shard_threads(no_new_threads):
    log: list[str] = []
    merged = sharded_generator(endless_with_cleanup(log), 3)
    assert [next(merged) for _ in range(5)] == [0, 1, 2, 0, 1]
    merged.close()
    assert _shard_threads() == []
    assert sorted(log) == [f"{PREFIX}{i}" for i in range(3)]
    with pytest.raises(StopIteration):
        next(merged)
    merged.close()  # twice is fine


def test_close_before_start_and_after_the_end(no_new_threads):
    unused = sharded_generator(uneven, 3)
    unused.close()
    assert list(unused) == []
    done = sharded_generator(uneven, 3)
    list(done)
    done.close()


def test_context_manager_closes(no_new_threads):
    log: list[str] = []
    with sharded_generator(endless_with_cleanup(log), 2) as merged:
        assert isinstance(merged, ShardedGenerator)
        assert [next(merged) for _ in range(4)] == [0, 1, 0, 1]
        assert len(_shard_threads()) == 2
    assert _shard_threads() == []
    assert len(log) == 2


def test_close_from_another_thread_wakes_a_waiting_consumer(no_new_threads):
    never = threading.Event()

    def stalled(shard_index, num_shards):
        yield "one"
        never.wait(WAIT)  # until close() ends the wait below
        yield "never"

    merged = sharded_generator(stalled, 1)
    assert next(merged) == "one"
    outcome: list[BaseException] = []
    waiting = threading.Event()

    def consume():
        waiting.set()
        try:
            next(merged)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    waiting.wait(WAIT)
    closer = threading.Thread(target=merged.close)
    closer.start()
    never.set()  # let the producer finish its item so close() can join it
    closer.join(WAIT)
    consumer.join(WAIT)
    assert [type(e) for e in outcome] == [StopIteration]


def test_dropping_the_iterator_stops_its_threads():
    before, count = _snapshot()
    log: list[str] = []
    merged = sharded_generator(endless_with_cleanup(log), 3)
    assert [next(merged) for _ in range(3)] == [0, 1, 2]
    threads = _shard_threads()
    assert len(threads) == 3
    ref = weakref.ref(merged)
    del merged
    gc.collect()
    assert ref() is None  # the producer threads held no reference to it
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    assert sorted(log) == [f"{PREFIX}{i}" for i in range(3)]
    assert_no_new_threads(before, count)


def test_dropping_an_iterator_in_a_reference_cycle_stops_its_threads():
    before, count = _snapshot()
    merged = sharded_generator(endless_with_cleanup([]), 2)
    next(merged)
    threads = _shard_threads()
    holder: dict[str, object] = {"merged": merged}
    holder["self"] = holder
    del merged, holder
    gc.collect()
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    assert_no_new_threads(before, count)


# -- stuck shards, failed starts, dropped buffers -------------------------------------


@pytest.fixture
def short_grace(monkeypatch):
    """Abandon a stuck shard at once (the default grace is seconds: not for tests)."""
    monkeypatch.setattr(safeloader.runtime.sharded, "ABANDON_AFTER_SECONDS", 0.0)


@pytest.fixture
def release():
    """Ends the stuck call; set at teardown too, so a failed test strands no thread."""
    event = threading.Event()
    yield event
    event.set()


def stuck_and_failing(release: threading.Event, log: list[str]):
    """Shard 0 hangs in a long call until ``release``; shard 1 raises at once."""

    def shards(shard_index, num_shards):
        try:
            if shard_index == 0:
                release.wait(WAIT)  # the long call: inside fn's code, not in safeloader's
                yield "late"
            else:
                raise ValueError("shard 1 is broken")
        finally:
            log.append(f"closed {shard_index}")

    return shards


def test_an_error_reaches_the_consumer_while_another_shard_is_stuck(short_grace, release):
    log: list[str] = []
    merged = sharded_generator(stuck_and_failing(release, log), 2)
    with pytest.warns(ShardAbandonedWarning, match=r"shard 0 of 2 is still inside fn") as caught:
        with pytest.raises(ShardError, match="shard 1 of 2 failed: ValueError") as info:
            next(merged)  # round-robin waits for shard 0; shard 1's error comes first
    assert [w.filename for w in caught] == [__file__]  # stacklevel: the caller's next()
    stuck = _shard_threads()
    assert [t.name for t in stuck] == [f"{PREFIX}0"] and stuck[0].daemon
    with pytest.raises(ShardError) as again:
        next(merged)
    assert again.value is info.value
    release.set()  # the long call returns: the thread queues nothing and ends
    stuck[0].join(WAIT)
    assert not stuck[0].is_alive()
    assert sorted(log) == ["closed 0", "closed 1"]


@pytest.mark.parametrize("how", ["close", "with"])
def test_close_returns_while_a_shard_is_stuck_and_warns_at_the_callers_line(
    short_grace, release, how
):
    log: list[int] = []

    def shards(shard_index, num_shards):
        try:
            yield shard_index
            if shard_index == 1:
                release.wait(WAIT)  # stuck inside fn's code; shard 0 is ending meanwhile
                yield from range(10, 20)
        finally:
            log.append(shard_index)

    def first_two(merged):
        assert [next(merged), next(merged)] == [0, 1]
        ended = [t for t in _shard_threads() if t.name == f"{PREFIX}0"]
        for thread in ended:  # shard 0 has yielded its one item: let it end
            thread.join(WAIT)

    with pytest.warns(ShardAbandonedWarning, match=r"shard 1 of 2") as caught:
        if how == "close":
            merged = sharded_generator(shards, 2)
            first_two(merged)
            merged.close(); line = sys._getframe().f_lineno  # noqa: E702 - same line
        else:
            with sharded_generator(shards, 2) as merged:
                first_two(merged)
            line = sys._getframe().f_lineno - 2
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
    stuck = _shard_threads()
    assert [t.name for t in stuck] == [f"{PREFIX}1"]
    assert log == [0]  # shard 0 ended; shard 1 is still in its call
    with pytest.raises(StopIteration):
        next(merged)
    release.set()
    stuck[0].join(WAIT)
    assert not stuck[0].is_alive() and sorted(log) == [0, 1]


class Item:
    """An item whose live copies are counted (weak references)."""


def test_close_drops_the_buffered_items_even_while_the_iterator_is_kept(no_new_threads):
    alive: weakref.WeakSet[Item] = weakref.WeakSet()

    def items(shard_index, num_shards):
        while True:
            item = Item()
            alive.add(item)
            yield item

    merged = sharded_generator(items, 3, max_queue_size=4)
    next(merged)
    merged.close()  # Keras keeps the iterator after fit: the buffers must not stay with it
    gc.collect()
    assert len(alive) == 0


@pytest.mark.parametrize("failing", [0, 2])
def test_a_thread_that_cannot_start_stops_the_others_and_its_error_is_sticky(
    monkeypatch, failing, no_new_threads
):
    started: list[str] = []
    original_start = threading.Thread.start

    def start(thread):
        if thread.name.startswith(PREFIX):
            if thread.name == f"{PREFIX}{failing}":
                raise RuntimeError("can't start new thread")
            started.append(thread.name)
        original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    log: list[str] = []
    merged = sharded_generator(endless_with_cleanup(log), 4)
    with pytest.raises(RuntimeError, match="can't start new thread") as info:
        next(merged)
    assert started == [f"{PREFIX}{i}" for i in range(failing)]
    assert _shard_threads() == []  # the threads already started have ended
    assert sorted(log) == started  # and closed their generators
    for _ in range(3):
        with pytest.raises(RuntimeError) as again:
            next(merged)
        assert again.value is info.value
    merged.close()


# -- identity and validation --------------------------------------------------------


def test_keras_3_sees_a_generator():
    merged = sharded_generator(uneven, 3)
    assert isinstance(merged, types.GeneratorType)
    assert type(merged) is ShardedGenerator
    assert merged.num_shards == 3
    assert "uneven x 3 shards, round-robin" in repr(merged)


def test_pickling_is_refused():
    with pytest.raises(TypeError, match="use_multiprocessing=False"):
        pickle.dumps(sharded_generator(uneven, 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"fn": 3}, TypeError, r"fn must be callable"),
        ({"num_shards": 0}, ValueError, r"num_shards must be >= 1; got 0"),
        ({"num_shards": -2}, ValueError, r"num_shards must be >= 1"),
        ({"num_shards": 2.0}, TypeError, r"num_shards must be an int; got float"),
        ({"num_shards": True}, TypeError, r"num_shards must be an int; got bool"),
        ({"num_shards": "4"}, TypeError, r"num_shards must be an int; got str"),
        ({"max_queue_size": 0}, ValueError, r"max_queue_size must be >= 1; got 0"),
        ({"max_queue_size": None}, TypeError, r"max_queue_size must be an int"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, pattern):
    arguments = {"fn": uneven, "num_shards": 3, **kwargs}
    fn, num_shards = arguments.pop("fn"), arguments.pop("num_shards")
    with pytest.raises(error, match=pattern):
        sharded_generator(fn, num_shards, **arguments)
