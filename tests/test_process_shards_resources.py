"""Process shards own their OS resources, and every start method delivers every item once.

Counted, not timed: this process's open file descriptors (``/proc/self/fd``),
the ``/dev/shm`` files mapped in it (``/proc/self/maps``: a named semaphore
is one) and the segments named after it. Keras and tf.data keep each
epoch's generator alive, so a generator kept after its end, its error or
``close()`` must hold nothing; the soak runs ``from_generator`` for 100
passes under a real ``ulimit -n 128``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

import process_shard_fns as fns
from safeloader import ShardError, sharded_generator

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and /dev/shm")

WAIT = 120.0  # a guard against a hang, never reached when the code is right
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(TESTS)]),
           TF_CPP_MIN_LOG_LEVEL="3")


def _held() -> dict[str, object]:
    """What this process holds: open fds, mapped /dev/shm files, its own segments."""
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        mapped = sorted({line.split(None, 5)[-1].strip() for line in maps if " /dev/shm/" in line})
    own = sorted(name for name in os.listdir("/dev/shm") if name.startswith(f"sl{os.getpid()}_"))
    return {"fds": len(os.listdir("/proc/self/fd")), "mapped": mapped, "segments": own}


def _take(merged, count: int) -> None:
    for _ in range(count):
        next(merged)


def test_ten_process_generators_kept_after_end_error_close_or_death_hold_nothing():
    """The issue's case: ten closed generators in a list held 60 fds and 20 semaphores."""
    resource_tracker.ensure_running()  # the tracker's pipe belongs to the process, once
    before = _held()
    kept = []
    endings = [
        ("exhausted", functools.partial(fns.arrays, count=2), list),
        ("closed", fns.forever, lambda merged: (_take(merged, 3), merged.close())),
        ("failed", fns.failing, list),
        ("died", fns.dies, list),
        ("left by with", fns.arrays, lambda merged: merged.__exit__(None, None, None)),
    ]
    outcomes = []
    for _, fn, end in endings * 2:
        merged = sharded_generator(fn, 2, processes=True)
        kept.append(merged)
        next(merged)  # started: processes, channels, segments
        try:
            end(merged)
            outcomes.append("ok")
        except ShardError:
            outcomes.append("ShardError")
    assert outcomes == ["ok", "ok", "ShardError", "ShardError", "ok"] * 2
    assert _held() == before  # nothing held, though every generator is still referenced
    assert len(kept) == 10


SLOW_CONSUMER = textwrap.dedent(
    """
    import functools
    import json
    import os
    import sys
    import time
    from multiprocessing import resource_tracker

    import process_shard_fns
    from safeloader import ShardError, sharded_generator


    def ended(pid):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                return "\\nState:\\tZ" in status.read()
        except FileNotFoundError:
            return True


    def wait_until(condition):
        while not condition():
            time.sleep(0.01)


    if __name__ == "__main__":
        report = {}
        # fork first: no resource tracker runs yet in this fresh process
        for method in ("fork", "forkserver", "spawn"):
            directory = os.path.join(sys.argv[1], method)
            os.mkdir(directory)
            fn = functools.partial(process_shard_fns.tracked_arrays, directory)
            merged = sharded_generator(fn, 2, processes=True, mp_context=method)
            items = [next(merged)]
            wait_until(lambda: all(ended(pid) for pid in merged.pids))  # every item sent
            trackers = sorted(open(os.path.join(directory, name)).read()
                              for name in os.listdir(directory))
            own = str(resource_tracker._resource_tracker._pid)
            # a tracker a shard started for itself unlinks that shard's segments once it
            # is gone: wait for it to have done so, if there is one
            wait_until(lambda: all(ended(int(pid)) for pid in trackers if pid not in (own,
                                                                                      "None")))
            error = None
            try:
                items += list(merged)
            except ShardError as failure:
                error = str(failure)
            report[method] = {
                "items": [[item["shard"], item["k"]] for item in items],
                "intact": all((item["x"] == 100 * item["shard"] + item["k"]).all()
                              for item in items),
                "trackers": sorted(set(trackers)),
                "error": error,
                "segments": [name for name in os.listdir("/dev/shm")
                             if name.startswith(f"sl{os.getpid()}_")],
            }
        report["tracker"] = str(resource_tracker._resource_tracker._pid)
        print(json.dumps(report))
    """
)


def test_every_start_method_delivers_every_item_once_to_a_consumer_reading_after_the_end(tmp_path):
    """Under fork, each child used to start its own resource tracker, which unlinked the
    segments of the items not yet read when the child exited."""
    script = tmp_path / "slow_consumer.py"
    script.write_text(SLOW_CONSUMER, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                            text=True, env=ENV, timeout=WAIT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    every_item = [[shard, k] for shard in range(2) for k in range(3)]
    for method in ("fork", "forkserver", "spawn"):
        outcome = report[method]
        assert outcome["error"] is None, (method, outcome["error"])
        assert sorted(outcome["items"]) == every_item, method  # each exactly once
        assert outcome["intact"], method
        assert outcome["segments"] == [], method
    # forked children used the consumer's tracker; spawned ones were handed its pipe
    assert report["fork"]["trackers"] == [report["tracker"]]
    assert report["forkserver"]["trackers"] == report["spawn"]["trackers"] == ["None"]
    assert "leaked shared_memory" not in result.stderr


def test_a_hundred_passes_of_from_generator_under_ulimit_128_hold_nothing_more():
    """The soak of benchmarks/soak_process_shards.py: forkserver, so the passes are quick."""
    pytest.importorskip("tensorflow")
    soak = ROOT / "benchmarks" / "soak_process_shards.py"
    command = ["bash", "-c", 'ulimit -n 128 && exec "$@"', "soak", sys.executable, str(soak),
               "--epochs", "100", "--start-method", "forkserver", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["fd_limit"] == 128 and report["epochs"] == 100
    assert report["wrong_passes"] == 0
    assert report["after"]["fds"] == report["after_first_epoch"]["fds"]
    assert report["after"]["shm_held"] == report["before"]["shm_held"] == 0
