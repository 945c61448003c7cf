"""sharded_generator(processes=True): delivery, arrays, errors and process clean-up, by counting.

Every test starts real spawned processes (each imports NumPy: about half a
second here), so each uses two shards or three and few items. The shard
functions live in ``process_shard_fns`` because a spawned child imports them.
"""

from __future__ import annotations

import functools
import gc
import glob
import json
import multiprocessing
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import types
from multiprocessing import resource_tracker
from pathlib import Path

import numpy as np
import pytest

import process_shard_fns as fns
from safeloader import ShardError, SpawnSafetyError, sharded_generator
from safeloader.runtime import process_shards
from safeloader.runtime.process_shards import ProcessShardedGenerator, ShardTraceback

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and /dev/shm")

WAIT = 30.0  # a guard against a hang, never reached when the code is right
TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def _segments(pid: int) -> list[str]:
    """Shared memory segments created for consumer ``pid`` (see shared_arrays.segment_prefix)."""
    return glob.glob(f"/dev/shm/sl{pid}_*")


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in status


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {WAIT} s")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_leaked_segments():
    """Every test must leave no shared memory segment of this process behind."""
    yield
    assert _segments(os.getpid()) == []


# -- delivery ------------------------------------------------------------------


def test_deterministic_order_is_round_robin_and_ended_shards_drop_out():
    merged = sharded_generator(fns.uneven, 3, processes=True)
    expected = [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (2, 2), (2, 3), (2, 4)]
    assert list(merged) == expected
    assert not any(_running(pid) for pid in merged.pids)  # exhausted: every process reaped
    with pytest.raises(StopIteration):
        next(merged)


def test_first_come_delivers_every_item_exactly_once():
    merged = sharded_generator(fns.numbered, 2, processes=True, deterministic=False)
    items = list(merged)
    assert sorted(items) == list(range(12))
    assert len(items) == len(set(items))


def test_arrays_of_one_mebibyte_arrive_intact_in_nested_items():
    items = list(sharded_generator(fns.arrays, 2, processes=True))
    assert len(items) == 6
    for position, item in enumerate(items):
        shard, k = position % 2, position // 2  # round-robin
        assert type(item["x"]) is np.ndarray and item["x"].nbytes == fns.MIB
        np.testing.assert_array_equal(item["x"], fns.expected_arrays(shard, k))
        assert item["x"].flags.writeable and item["x"].flags.owndata  # a plain array of its own
        first, second = item["pair"]
        assert first.dtype == np.float32 and first.shape == (4, 5)
        assert (first == shard * 100 + k).all()
        np.testing.assert_array_equal(second, [2, 1, 0])
        assert item["meta"][:2] == [shard * 100 + k, "text"]
        assert item["meta"][2].shape == (0,)


def test_shard_processes_are_spawned_by_default_and_ignore_other_start_methods_not_given():
    merged = sharded_generator(fns.numbered, 2, processes=True)
    assert "spawn" in repr(merged)
    assert isinstance(merged, types.GeneratorType)  # what Keras 3's fit checks
    assert type(merged) is ProcessShardedGenerator
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(merged)
    merged.close()  # never started: nothing to end


def test_a_multiprocessing_context_object_is_accepted_and_bounds_the_buffer():
    """A shard holds at most max_queue_size items sent and not taken, plus the one in hand."""
    context = multiprocessing.get_context("spawn")
    counter = context.Value("i", 0)
    fn = functools.partial(fns.counting_forever, counter)
    with sharded_generator(fn, 1, processes=True, max_queue_size=2, mp_context=context) as merged:
        assert next(merged) == 0
        bound = 1 + 2 + 1  # taken + max_queue_size + in hand
        _wait_until(lambda: counter.value >= bound, "at the bound")
        time.sleep(0.3)  # room to overshoot, were the bound not kept
        assert counter.value == bound
        assert [next(merged) for _ in range(3)] == [0, 0, 0]
        _wait_until(lambda: counter.value >= bound + 3, "refilled")
        time.sleep(0.3)
        assert counter.value == bound + 3


# -- what fn may be ----------------------------------------------------------------


def test_a_lambda_is_refused_at_once_naming_it():
    with pytest.raises(TypeError, match=r"fn test_process_shards\..*<lambda> is a lambda.*top lev"):
        sharded_generator(lambda i, n: iter([i]), 2, processes=True)
    assert multiprocessing.active_children() == []


def test_a_local_function_is_refused_at_once_naming_it():
    def shard(shard_index, num_shards):
        yield shard_index

    with pytest.raises(TypeError, match=r"test_a_local_function.*<locals>.shard is a local func"):
        sharded_generator(shard, 2, processes=True)


def test_unpicklable_arguments_of_fn_are_named_by_check_spawn_safe():
    stream = (k for k in range(3))
    with pytest.raises(SpawnSafetyError, match=r"^fn\.args\[0\]: generator object"):
        sharded_generator(functools.partial(fns.counting_forever, stream), 2, processes=True)


def test_an_unknown_context_is_a_type_error():
    with pytest.raises(TypeError, match="mp_context must be"):
        sharded_generator(fns.numbered, 2, processes=True, mp_context=3)


# -- errors --------------------------------------------------------------------


def test_an_error_in_a_shard_is_a_shard_error_with_the_shards_traceback():
    merged = sharded_generator(fns.failing, 2, processes=True)
    with pytest.raises(ShardError, match=r"shard 1 of 2 failed: ValueError: bad record") as info:
        list(merged)
    error = info.value
    assert error.shard_index == 1
    assert type(error.__cause__) is ValueError
    remote = error.__cause__.__cause__
    assert isinstance(remote, ShardTraceback)
    printed = "".join(traceback.format_exception(error))
    assert 'process_shard_fns.py", line' in printed and "in failing" in printed
    with pytest.raises(ShardError) as again:  # sticky
        next(merged)
    assert again.value is error
    assert not any(_running(pid) for pid in merged.pids)


def test_an_exception_pickle_cannot_rebuild_arrives_as_text():
    with pytest.raises(ShardError) as info:
        list(sharded_generator(fns.failing_unpicklable, 2, processes=True))
    cause = info.value.__cause__
    assert type(cause) is RuntimeError
    assert str(cause) == "process_shard_fns.NeedsTwoArguments: code 7: disk on fire"
    assert "NeedsTwoArguments" in str(cause.__cause__)


def test_fn_returning_no_iterable_is_named():
    with pytest.raises(ShardError, match=r"not_iterable\(0, 2\) returned int, which is not iter"):
        list(sharded_generator(fns.not_iterable, 2, processes=True))


def test_a_shard_process_that_dies_is_a_shard_error_not_a_hang():
    merged = sharded_generator(fns.dies, 2, processes=True)
    with pytest.raises(ShardError, match=r"shard 1 of 2 failed: .*exit code -9") as info:
        for _ in range(100):
            next(merged)
    assert "before its last item" in str(info.value)
    assert "__main__" not in str(info.value)  # killed mid-stream: no advice about the guard
    assert not any(_running(pid) for pid in merged.pids)


def test_an_item_the_consumer_cannot_rebuild_is_a_shard_error_on_every_later_call():
    """Its __reduce__ fails in the consumer: the shard is named, the cause kept, never a hang."""
    merged = sharded_generator(fns.process_bound, 2, processes=True, max_queue_size=1)
    assert [next(merged).tolist() for _ in range(3)] == [[0] * 8, [1] * 8, [0] * 8]
    errors = []
    for _ in range(4):  # the failing call, then the third and later ones after it
        with pytest.raises(ShardError) as info:
            next(merged)
        errors.append(info.value)
    error = errors[0]
    assert str(error) == ("shard 1 of 2 failed: LookupError: record 7 lives in process "
                          f"{merged.pids[1]} only (an item it sent could not be rebuilt in "
                          f"the consumer's process)")
    assert type(error.__cause__) is LookupError and error.shard_index == 1
    assert all(later is error for later in errors)
    assert not any(_running(pid) for pid in merged.pids)


def test_an_item_a_shard_cannot_pickle_is_a_shard_error_saying_so():
    with pytest.raises(ShardError, match=r"^shard 1 of 2 failed: TypeError: cannot pickle "
                                         r"'generator' object \(an item it yielded could not "
                                         r"be pickled\)$"):
        list(sharded_generator(fns.yields_a_generator, 2, processes=True))


def test_a_shard_that_dies_loading_fn_says_so_without_the_guard_hint(monkeypatch):
    """fn pickles here (its module is in sys.modules) but the child cannot import that module."""
    phantom = types.ModuleType("phantom_shards")
    exec("def shard(shard_index, num_shards):\n    yield shard_index\n", phantom.__dict__)
    monkeypatch.setitem(sys.modules, "phantom_shards", phantom)
    with pytest.raises(ShardError, match=r"exit code 1 while loading fn \(shard; its traceback "
                                         r"went to stderr\): fn must be importable") as info:
        list(sharded_generator(phantom.shard, 2, processes=True))
    assert "__main__" not in str(info.value)


def test_read_only_and_fortran_arrays_keep_their_flags_and_one_array_twice_stays_one():
    items = list(sharded_generator(fns.flagged, 2, processes=True))
    [(frozen, fortran, first, second), _] = items
    assert not frozen.flags.writeable
    np.testing.assert_array_equal(frozen, np.arange(6.0).reshape(2, 3))
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    np.testing.assert_array_equal(fortran, np.arange(12).reshape(3, 4))
    assert first is second and first.flags.writeable


# -- ending ----------------------------------------------------------------------


def test_close_ends_every_process_and_closes_the_generators(tmp_path):
    fn = functools.partial(fns.marks_finally, str(tmp_path))
    merged = sharded_generator(fn, 2, processes=True)
    assert [next(merged) for _ in range(4)] == [0, 1, 0, 1]
    merged.close()
    assert not any(_running(pid) for pid in merged.pids)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closed-0", "closed-1"]
    with pytest.raises(StopIteration):
        next(merged)
    merged.close()  # twice is fine


def test_leaving_a_with_block_frees_the_shared_memory_of_items_not_taken():
    with sharded_generator(fns.arrays, 2, processes=True, max_queue_size=2) as merged:
        next(merged)
        _wait_until(lambda: len(_segments(os.getpid())) >= 2, "sent ahead")  # items in flight
        pids = merged.pids
    assert not any(_running(pid) for pid in pids)
    # the autouse fixture checks that no segment is left


def test_garbage_collection_ends_the_processes_and_frees_every_descriptor():
    resource_tracker.ensure_running()  # the tracker's pipe belongs to the process, once
    fds = len(os.listdir("/proc/self/fd"))
    merged = sharded_generator(fns.forever, 2, processes=True)
    next(merged)
    pids = merged.pids
    del merged
    gc.collect()
    assert not any(_running(pid) for pid in pids)
    assert len(os.listdir("/proc/self/fd")) == fds


def test_a_shard_process_leaves_without_interpreter_teardown(tmp_path):
    """Shards end with os._exit: the consumer never waits for a slow teardown (atexit skipped)."""
    merged = sharded_generator(functools.partial(fns.registers_atexit, str(tmp_path)), 2,
                               processes=True)
    assert list(merged) == [0, 1, 0, 1]
    assert not any(_running(pid) for pid in merged.pids)
    assert list(tmp_path.iterdir()) == []


GUARDED = textwrap.dedent(
    """
    import functools
    import json
    import multiprocessing

    import process_shard_fns
    from safeloader import check_spawn_safe, sharded_generator


    def top_level(shard_index, num_shards):
        yield shard_index


    if __name__ == "__main__":
        def guarded(shard_index, num_shards):
            yield shard_index

        class Settings:
            pass

        refusals = {}
        for label, fn in [
            ("fn", guarded),
            ("class", functools.partial(process_shard_fns.counting_forever, Settings())),
        ]:
            try:
                sharded_generator(fn, 2, processes=True)
            except TypeError as error:
                refusals[label] = str(error)
        try:
            check_spawn_safe({"settings": Settings()})
        except TypeError as error:
            refusals["check"] = str(error)
        started = len(multiprocessing.active_children())
        top = list(sharded_generator(top_level, 2, processes=True))
        print(json.dumps({"refusals": refusals, "started": started, "top": top}))
    """
)


def _run_script(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    script = tmp_path / "train.py"
    script.write_text(source, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=WAIT, cwd=tmp_path)


def test_a_fn_or_class_defined_under_the_main_guard_is_refused_before_any_process(tmp_path):
    result = _run_script(tmp_path, GUARDED)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    script = tmp_path / "train.py"
    guard = 'under `if __name__ == \\"__main__\\":`'.replace("\\", "")
    fn = report["refusals"]["fn"]
    assert fn.startswith(f"fn: function __main__.guarded (defined {guard} in {script} line 15, "
                         f"a block a spawned process skips")
    assert "move it to a module-level def" in fn
    assert report["refusals"]["class"].startswith(
        f"fn.args[0] (its class): class __main__.Settings (defined {guard} in {script} line 18")
    assert report["refusals"]["check"].startswith(
        f"dict['settings'] (its class): class __main__.Settings (defined {guard}")
    assert report["started"] == 0  # refused before any process started
    assert report["top"] == [0, 1]  # a top-level def of the same script is fine


def test_the_guard_hint_comes_when_a_child_dies_importing_the_main_module(tmp_path):
    unguarded = textwrap.dedent(
        """
        import process_shard_fns
        from safeloader import ShardError, sharded_generator

        merged = sharded_generator(process_shard_fns.numbered, 2, processes=True)
        try:
            print(list(merged))
        except ShardError as error:
            print("consumer:", error)
        """
    )
    result = _run_script(tmp_path, unguarded)
    consumer = [line for line in result.stdout.splitlines() if line.startswith("consumer:")]
    assert len(consumer) == 1, result.stdout + result.stderr
    assert re.search(
        rf"consumer: shard 0 of 2 failed: RuntimeError: the process of shard 0 \(pid \d+\) ended "
        rf"with exit code 1 while importing the main module \({re.escape(str(tmp_path))}/train"
        rf"\.py\), before it could load fn \(its traceback went to stderr\)\. A spawned "
        rf"process first imports the script being run: the script's work must start under "
        rf"`if __name__ == \"__main__\":`\.$", consumer[0])


def test_a_script_read_from_standard_input_is_refused_at_once():
    script = "from safeloader import sharded_generator\nimport process_shard_fns as f\n" \
             "sharded_generator(f.numbered, 2, processes=True)\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    result = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                            env=env, timeout=WAIT)
    assert result.returncode == 1
    assert "the program runs from <stdin>, which a spawned process cannot import" in result.stderr


def test_close_does_not_wait_for_a_shard_stuck_in_a_call(monkeypatch):
    monkeypatch.setattr(process_shards, "STOP_GRACE_SECONDS", 0.5)
    merged = sharded_generator(fns.stuck, 2, processes=True, deterministic=False)
    assert next(merged) == 0
    merged.close()  # shard 1 ignores SIGTERM inside its call: it is killed
    assert not any(_running(pid) for pid in merged.pids)


def test_close_wakes_a_consumer_thread_waiting_on_a_stuck_shard(monkeypatch):
    """As Keras 2's worker threads may still be inside next() when the with block ends."""
    monkeypatch.setattr(process_shards, "STOP_GRACE_SECONDS", 0.5)
    merged = sharded_generator(fns.stuck, 2, processes=True)  # round-robin: waits on shard 1
    outcomes = []

    def consume():
        try:
            while True:
                outcomes.append(next(merged))
        except StopIteration:
            outcomes.append("stopped")

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    lock = merged._shards.lock

    def consumer_waits_inside_next():
        if lock.acquire(blocking=False):
            lock.release()
            return False
        return outcomes == [0]  # shard 0's item taken, now waiting for shard 1's

    _wait_until(consumer_waits_inside_next, "waiting")
    closer = threading.Thread(target=merged.close, daemon=True)
    closer.start()
    closer.join(WAIT)
    consumer.join(WAIT)
    assert not closer.is_alive() and not consumer.is_alive()
    assert outcomes == [0, "stopped"]
    assert not any(_running(pid) for pid in merged.pids)


CONSUMER = textwrap.dedent(
    """
    import functools
    from safeloader import sharded_generator
    import process_shard_fns

    if __name__ == "__main__":
        merged = sharded_generator({fn}, 2, processes=True)
        first = [next(merged), next(merged)]
        print(" ".join(str(pid) for pid in merged.pids), flush=True)
        while True:
            next(merged)
    """
)


def _consumer(fn: str) -> tuple[subprocess.Popen, list[int]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    consumer = subprocess.Popen(
        [sys.executable, "-c", CONSUMER.format(fn=fn)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )
    line = consumer.stdout.readline()
    assert line, consumer.stderr.read()
    return consumer, [int(pid) for pid in line.split()]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_no_shard_process_outlives_a_consumer_that_dies(how):
    endless_arrays = "functools.partial(process_shard_fns.arrays, count=10**9)"
    consumer, pids = _consumer(endless_arrays if how == "SIGKILL" else "process_shard_fns.forever")
    assert all(_running(pid) for pid in pids)
    consumer.send_signal(getattr(signal, how))
    returncode = consumer.wait(WAIT)
    _wait_until(lambda: not any(_running(pid) for pid in pids), "ended")
    _wait_until(lambda: _segments(consumer.pid) == [], "unlinked")  # the resource tracker's job
    if how == "SIGINT":
        assert returncode == -signal.SIGINT and "KeyboardInterrupt" in consumer.stderr.read()
    consumer.stdout.close()
    consumer.stderr.close()
