"""``safeloader doctor`` on real Keras 3 scripts, each run once in a subprocess.

One clean script (its own arguments, three calls of known input and compute
costs, a spawn-safe PyDataset in worker processes under the ``__main__``
guard) and one hazardous script (the loader settings on ``fit``, a
hand-written iterator, a spawn-unsafe PyDataset started at module level).
"""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from doctor_helpers import (  # noqa: E402
    COSTED_PARTS, calls_by_line, codes_at, line_of, run_doctor, write_script)
from lock_wrappers import forum_wrapper  # noqa: E402

#: The costs, in seconds: a generator sleeping INPUT a batch; a model sleeping COMPUTE a
#: step; the middle case, a generator of SLOW_INPUT and a model of HALF. Long enough that
#: a busy machine's few milliseconds of scheduling delay stay well under a tenth.
INPUT, COMPUTE, SLOW_INPUT, HALF = 0.04, 0.06, 0.06, 0.03

CLEAN = """
    import argparse
    import sys
    import time

    import keras
    import numpy as np
    import tensorflow as tf

""" + COSTED_PARTS + f"""

    class Frames(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rows = 16

        def __len__(self):
            return 1000

        def __getitem__(self, index):
            return np.zeros((self.rows, 4), "float32"), np.zeros((self.rows, 1), "float32")


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, required=True)
        args = parser.parse_args()
        print("own arguments:", sys.argv[1:], "name:", __name__, "path:", sys.path[0])
        steps = dict(steps_per_epoch=500, epochs=args.epochs)
        model(0).fit(batches({INPUT}), verbose=0, **steps)  # @input
        model({COMPUTE}).fit(batches(0), verbose=0, **steps)  # @compute
        model({HALF}).fit(batches({SLOW_INPUT}), **steps)  # @middle
        frames = Frames(workers=2, use_multiprocessing=True)
        model(0).fit(frames, epochs=args.epochs, verbose=0)  # @processes


    if __name__ == "__main__":
        main()
"""


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    script = write_script(tmp_path_factory.mktemp("keras3"), "train.py", CLEAN)
    return script, run_doctor(script, "--epochs", "100", options=("--json",))


def test_the_script_runs_as_main_with_its_own_arguments(clean_run):
    script, result = clean_run
    assert result.returncode == 0, result.stderr
    assert f"own arguments: ['--epochs', '100'] name: __main__ path: {script.parent}" \
        in result.stderr  # with --json the script's output goes to stderr
    document = __import__("json").loads(result.stdout)
    assert document["argv"] == ["--epochs", "100"]
    assert document["status"] == "completed"
    assert document["keras"].startswith("3.") and document["keras"].endswith("(tensorflow)")


def test_each_call_runs_a_capped_epoch_and_is_reported_at_its_line(clean_run):
    script, result = clean_run
    calls = calls_by_line(result)
    lines = [line_of(script, name) for name in ("input", "compute", "middle", "processes")]
    assert sorted(calls) == lines
    for line in lines[:3]:
        call = calls[line]
        assert (call["file"], call["method"], call["calls"]) == ("train.py", "fit", 1)
        assert call["steps"] == 20 and call["warmup"] == 5
        assert call["data"] == {"kind": "generator", "name": "generator batches()",
                                "definition": {"file": "train.py",
                                               "line": line_of(script, "batches")}}
        assert call["findings"] == []


def test_input_bound_is_within_a_tenth_of_the_truth_at_both_ends_and_between(clean_run):
    script, result = clean_run
    calls = calls_by_line(result)
    # a generator of 40 ms a batch, a model of well under 1 ms: nearly all waiting
    input_bound = calls[line_of(script, "input")]
    assert input_bound["input_bound"] >= 0.9 - 0.1
    assert input_bound["input_seconds_per_batch"] == pytest.approx(INPUT, rel=0.5)
    assert "sharded_generator" in input_bound["advice"]
    # an instant generator, a model of 60 ms a step: no waiting
    compute = calls[line_of(script, "compute")]
    assert compute["input_bound"] <= 0.1
    assert compute["compute_seconds"] == pytest.approx(COMPUTE, rel=0.5)
    assert "keeps up" in compute["advice"]
    # 60 ms of input read in the background while a 30 ms step runs: (60 - 30) / 60
    middle = calls[line_of(script, "middle")]
    assert middle["input_bound"] == pytest.approx((SLOW_INPUT - HALF) / SLOW_INPUT, abs=0.1)


def test_a_guarded_spawn_safe_pydataset_in_processes_gives_no_finding(clean_run):
    script, result = clean_run
    call = calls_by_line(result)[line_of(script, "processes")]
    assert call["data"]["kind"] == "dataset"
    assert call["data"]["name"] == "Frames (workers=2, use_multiprocessing=True)"
    assert call["warmup"] == 25  # 5, plus twice the workers' queue of 10
    assert call["findings"] == []


HAZARDS = """
    import threading

    import keras
    import numpy as np


    def batches():
        while True:
            yield np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")


""" + textwrap.indent(forum_wrapper("LockedIter", "iterator", marker="locked_class"), "    ") + """


    class Frames(keras.utils.PyDataset):  # @frames_class
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stream = batches()

        def __len__(self):
            return 100

        def __getitem__(self, index):
            return np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")


    class Stream(keras.utils.PyDataset):  # @stream_class
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.source = batches()

        def __len__(self):
            return 40

        def __getitem__(self, index):
            return next(self.source)


    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(batches(), steps_per_epoch=50, workers=4, verbose=0)  # @workers
    model.fit(LockedIter(batches()), steps_per_epoch=50.0, verbose=0)  # @locked
    model.fit(Frames(workers=2, use_multiprocessing=True), verbose=0)  # @frames
    model.fit(Stream(workers=3), verbose=0)  # @stream
    print("the script went on to its end")
"""


@pytest.fixture(scope="module")
def hazards_run(tmp_path_factory):
    script = write_script(tmp_path_factory.mktemp("keras3_hazards"), "train.py", HAZARDS)
    return script, run_doctor(script, options=("--json",))


def test_keras3_rejections_become_findings_and_the_run_goes_on(hazards_run):
    script, result = hazards_run
    assert result.returncode == 1, result.stderr
    assert "the script went on to its end" in result.stderr
    assert "Traceback" not in result.stderr
    calls = calls_by_line(result)
    workers = line_of(script, "workers")
    assert codes_at(calls[workers]) == [("SLD302", workers, None)]
    finding = calls[workers]["findings"][0]
    assert "'workers'" in finding["message"] and "Keras 3" in finding["message"]
    assert "in the background" in finding["message"]  # the remedy for a generator
    assert finding["defused"] == "called without workers=4"
    locked = line_of(script, "locked")
    assert codes_at(calls[locked]) == [("SLD303", locked, line_of(script, "locked_class")),
                                       ("SLD305", locked, None)]
    messages = " ".join(f["message"] for f in calls[locked]["findings"])
    assert "LockedIter" in messages and "steps_per_epoch=50.0" in messages
    assert calls[locked]["steps"] == 20  # it trained, wrapped in a generator


def test_spawn_parity_names_the_attribute_and_the_missing_guard(hazards_run):
    script, result = hazards_run
    frames = line_of(script, "frames")
    call = calls_by_line(result)[frames]
    assert codes_at(call) == [("SLD102", frames, line_of(script, "frames_class")),
                              ("SLD103", frames, frames)]
    spawn, guard = sorted(call["findings"], key=lambda finding: finding["code"])
    assert "'Frames.stream'" in spawn["message"]
    assert "__main__" in guard["message"]


def test_a_pydataset_that_shares_a_generator_between_worker_threads_is_sld104(hazards_run):
    script, result = hazards_run
    stream = line_of(script, "stream")
    call = calls_by_line(result)[stream]
    assert codes_at(call) == [("SLD104", stream, line_of(script, "stream_class"))]
    finding = call["findings"][0]
    assert finding["message"].startswith("Stream.__getitem__ uses self.source, a generator")
    assert finding["defused"] == "self.source behind a lock"
    assert call["steps"] > 0  # it trained instead of racing


def test_no_spawn_skips_spawn_parity(tmp_path):
    import keras

    from safeloader.doctor.arguments import CallArguments
    from safeloader.doctor.callsite import SourcePosition
    from safeloader.doctor.flavours import Flavour
    from safeloader.doctor.hazards import HazardCheck, check_call

    from doctor_datasets import StreamFrames
    flavour = Flavour("keras", keras)
    fit = next(spec for spec in flavour.methods if spec.name == "fit")
    found = {}
    for spawn in (True, False):
        check = HazardCheck(flavour, fit, SourcePosition("train.py", 9), spawn,
                            str(tmp_path / "train.py"))
        data = StreamFrames(workers=2, use_multiprocessing=True)
        check_call(check, CallArguments(keras.Model.fit, object(), (data,), {}))
        found[spawn] = [(finding.code, finding.message) for finding in check.findings]
    assert [code for code, _ in found[True]] == ["SLD102"]
    assert "'StreamFrames.stream'" in found[True][0][1]
    assert found[False] == []


def test_an_in_process_run_puts_keras_argv_and_warnings_back(tmp_path):
    import sys
    import warnings

    import keras

    from safeloader.doctor import DoctorOptions, run_doctor

    before = (keras.Model.fit, keras.Model.predict, sys.argv[:], sys.path[:],
              warnings.filters[:], sys.modules["__main__"])
    script = write_script(tmp_path, "tiny.py", """
        import keras
        import numpy as np

        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(np.zeros((4000, 2)), np.zeros((4000, 1)), epochs=50, verbose=0)
        assert len(history.history["loss"]) == 1, "one epoch"
        assert model.optimizer.iterations.numpy() == 26, "warm-up, steps, and one to close"
        assert model.history is history
    """)
    run = run_doctor(DoctorOptions(str(script)), ["--flag"])
    assert (run.status, run.error) == ("completed", None)
    assert [(site.method, site.feed_kind) for site in run.sites] == [("fit", "arrays")]
    assert run.sites[0].measurement.input_bound is not None
    after = (keras.Model.fit, keras.Model.predict, sys.argv, sys.path, warnings.filters,
             sys.modules["__main__"])
    assert all(a is b or a == b for a, b in zip(before, after))
    assert "fit" not in keras.Model.__dict__


def test_the_ceiling_leaves_the_model_as_it_found_it():
    import keras
    import numpy as np

    from safeloader.doctor.ceiling import ceiling_step_seconds

    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3), dtype=np.float32), rng.random((64, 1), dtype=np.float32)
    history = model.fit(x, y, epochs=1, verbose=0)
    state = [v.numpy() for v in (*model.variables, *model.optimizer.variables)]
    metrics = model.get_metrics_result()
    seconds = ceiling_step_seconds(keras.Model.fit, model, "train", (x[:8], y[:8]),
                                   callback_base=keras.callbacks.Callback, use_tf_data=True,
                                   verbose=0, warmup=2, steps=4)
    assert seconds is not None and seconds > 0
    after = [v.numpy() for v in (*model.variables, *model.optimizer.variables)]
    assert all(np.array_equal(a, b) for a, b in zip(state, after))
    assert model.history is history
    assert model.get_metrics_result() == metrics


def test_the_clocks_stamp_their_loop_only_and_define_every_batch_end_hook():
    import keras

    from safeloader.doctor.clocks import step_clocks
    from safeloader.doctor.measurement import StepTimes

    times = StepTimes()
    first, last = step_clocks(keras.callbacks.Callback, "test", times)
    left_alone = keras.callbacks.Callback()
    for loop in ("train", "test", "predict"):
        # Keras 3 moves a loop's batch-end hooks to a thread unless a callback defines
        # them; ``_is_default`` is how it marks the hooks a callback left alone
        hook = f"on_{loop}_batch_end"
        assert getattr(getattr(left_alone, hook), "_is_default", False)
        assert not getattr(getattr(first, hook), "_is_default", False)
        if loop != "test":
            for clock in (first, last):
                getattr(clock, f"on_{loop}_batch_begin")(0)
                getattr(clock, hook)(0, logs={})
    assert times.steps == []  # not the clocks' loop
    for clock in (first, last):
        clock.on_test_batch_begin(3)
    first.on_test_batch_end(3, {})
    last.on_test_batch_end(3)
    (step,) = times.steps
    assert (step.first_batch, step.last_batch) == (3, 3)
    assert step.begin_first <= step.begin_last <= step.end_first <= step.end_last


def test_keras3_on_jax_when_jax_is_installed(tmp_path):
    pytest.importorskip("jax")
    script = write_script(tmp_path, "train.py", """
        import time

        import keras
        import numpy as np


        def batches():
            while True:
                time.sleep(0.03)
                yield np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")


        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(batches(), steps_per_epoch=100, epochs=5, verbose=0)  # @fit
    """)
    result = run_doctor(script, options=("--json",), env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr
    assert __import__("json").loads(result.stdout)["keras"].endswith("(jax)")
    call = calls_by_line(result)[line_of(script, "fit")]
    assert call["input_bound"] >= 0.8  # JAX pulls the generator in Python, between steps
