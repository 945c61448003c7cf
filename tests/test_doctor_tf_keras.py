"""``safeloader doctor`` on a real tf_keras (Keras 2) script, run once in a subprocess.

The script has a race (a plain generator read by three worker threads), the
same generator behind a lock through ``fit_generator``, a compute-bound
model, a model that waits for half of each step, a generator handed to
worker processes, and a ``Sequence`` that
spawned workers could not receive; its training runs under the ``__main__``
guard.
"""

from __future__ import annotations

import pytest

pytest.importorskip("tf_keras")
pytest.importorskip("tensorflow")

from doctor_helpers import (  # noqa: E402
    COSTED_PARTS, calls_by_line, codes_at, line_of, run_doctor, write_script)

SCRIPT = """
    import time

    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    import safeloader

""" + COSTED_PARTS + """

    class Frames(keras.utils.Sequence):  # @frames_class
        def __init__(self):
            self.stream = batches(0)

        def __len__(self):
            return 60

        def __getitem__(self, index):
            return np.zeros((16, 4), "float32"), np.zeros((16, 1), "float32")


    def main():
        net = model(0)
        net.fit(batches(0.03), steps_per_epoch=300, epochs=10, workers=3, verbose=0)  # @race
        locked = safeloader.threadsafe_generator(batches)(0.0)
        net.fit_generator(locked, 300, 10, verbose=0, workers=2)  # @legacy
        model(0.06).fit(batches(0), steps_per_epoch=300, epochs=10, verbose=0)  # @compute
        model(0.03).fit(batches(0.06), steps_per_epoch=300, epochs=10, verbose=0)  # @middle
        net.fit(batches(0), steps_per_epoch=30, workers=2, use_multiprocessing=True)  # @processes
        net.fit(Frames(), epochs=2, workers=2, use_multiprocessing=True, verbose=0)  # @sequence
        print("the script went on to its end")


    if __name__ == "__main__":
        main()
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    script = write_script(tmp_path_factory.mktemp("tf_keras"), "train.py", SCRIPT)
    return script, run_doctor(script, options=("--json",))


def test_the_race_is_found_and_defused_so_the_script_ends(run):
    script, result = run
    assert result.returncode == 1, result.stderr
    assert "the script went on to its end" in result.stderr
    assert "NOT thread-safe" not in result.stderr and "Traceback" not in result.stderr
    race = line_of(script, "race")
    call = calls_by_line(result)[race]
    assert codes_at(call) == [("SLD101", race, line_of(script, "batches"))]
    finding = call["findings"][0]
    assert finding["message"].startswith("generator 'batches' feeds fit(workers=3")
    assert "@safeloader.threadsafe_generator" in finding["message"]
    assert finding["defused"] == "the generator behind a lock"


def test_the_racing_stream_is_input_bound(run):
    script, result = run
    call = calls_by_line(result)[line_of(script, "race")]
    assert call["warmup"] == 25  # 5, plus twice tf_keras' queue of 10 for workers=3
    assert call["steps"] == 20
    assert call["input_bound"] >= 0.85  # 30 ms a batch against a step of about 1 ms


def test_fit_generator_with_a_locked_generator_is_clean(run):
    script, result = run
    call = calls_by_line(result)[line_of(script, "legacy")]
    assert call["method"] == "fit_generator"
    assert call["data"]["name"] == "ThreadSafeIterator(generator batches())"
    assert call["findings"] == []
    assert call["steps"] == 20


def test_a_compute_bound_model_does_not_wait(run):
    script, result = run
    call = calls_by_line(result)[line_of(script, "compute")]
    assert call["input_bound"] <= 0.1
    assert call["compute_seconds"] == pytest.approx(0.06, rel=0.5)


def test_between_the_ends_the_share_is_the_inputs_excess_over_the_step(run):
    script, result = run
    call = calls_by_line(result)[line_of(script, "middle")]
    # 60 ms of input read in the background (workers=1: prefetch) while a 30 ms step runs
    assert call["input_bound"] == pytest.approx((0.06 - 0.03) / 0.06, abs=0.1)
    assert call["findings"] == []


def test_a_generator_in_worker_processes_is_sld102(run):
    script, result = run
    line = line_of(script, "processes")
    call = calls_by_line(result)[line]
    assert codes_at(call) == [("SLD102", line, line_of(script, "batches"))]
    assert call["findings"][0]["defused"] == ("use_multiprocessing=False, the generator "
                                              "behind a lock")


def test_a_sequence_spawned_workers_cannot_receive_is_named_without_sld103(run):
    script, result = run
    line = line_of(script, "sequence")
    call = calls_by_line(result)[line]
    assert codes_at(call) == [("SLD102", line, line_of(script, "frames_class"))]
    assert "'Frames.stream'" in call["findings"][0]["message"]
    assert call["data"]["kind"] == "dataset"
