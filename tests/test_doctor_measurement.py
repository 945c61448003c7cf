"""The doctor's arithmetic and bookkeeping, on made-up step times (no Keras needed)."""

from __future__ import annotations

import itertools
import threading

import pytest

from safeloader.doctor.advice import advice, parallel_batches
from safeloader.doctor.callsite import SourcePosition
from safeloader.doctor.findings import RuntimeFinding, rule_message
from safeloader.doctor.measurement import (InputAlone, Measurement, Step, StepTimes,
                                           input_bound_share, steady_window)
from safeloader.doctor.options import DoctorOptions
from safeloader.doctor.report import exit_status, render_text, to_json
from safeloader.doctor.results import CallSiteReport, DoctorRun
from safeloader.rules import RULES


def steps(durations, callbacks=0.0, batches_per_step=1):
    """StepTimes whose cycles last ``durations`` (seconds), ``callbacks`` of each in
    the user's hooks, ``batches_per_step`` batches per step."""
    times = StepTimes()
    clock = 0.0
    for index, duration in enumerate([*durations, 0.0]):
        first = index * batches_per_step
        times.steps.append(Step(first, clock, begin_last=clock + callbacks / 2,
                                end_first=clock + duration - callbacks / 2,
                                end_last=clock + duration, last_batch=first + batches_per_step - 1))
        clock += duration
    return times


def test_the_window_skips_the_warmup_and_takes_the_mean_step():
    times = steps([5.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1])
    window = steady_window(times, warmup=2, limit=6)
    assert (window.batches, window.warmup) == (6, 2)
    assert window.step_seconds == pytest.approx(0.15)  # every slow batch counts
    assert window.steps_per_second == pytest.approx(1 / 0.15)


def test_bursts_of_a_queue_count_at_their_rate():
    # Keras' worker threads deliver a batch every 20 ms in bursts: a long wait, then two
    window = steady_window(steps([0.058, 0.001, 0.001] * 8), warmup=0, limit=24)
    assert window.step_seconds == pytest.approx(0.02)


def test_the_users_callbacks_are_left_out_of_the_step_but_not_of_the_throughput():
    window = steady_window(steps([0.03] * 10, callbacks=0.01), warmup=2, limit=5)
    assert window.step_seconds == pytest.approx(0.02)
    assert window.wall_seconds == pytest.approx(0.03)


def test_steps_of_several_batches_count_per_batch():
    window = steady_window(steps([0.4] * 10, batches_per_step=4), warmup=8, limit=12)
    assert window.batches == 12
    assert window.step_seconds == pytest.approx(0.1)


def test_a_short_call_is_measured_after_its_first_step_or_not_at_all():
    short = steady_window(steps([2.0, 0.1, 0.1, 0.1]), warmup=5, limit=20)
    assert (short.batches, short.warmup) == (3, 1)
    assert steady_window(steps([2.0, 0.1]), warmup=5, limit=20) is None


def test_input_bound_share_is_clamped():
    assert input_bound_share(0.04, 0.01) == pytest.approx(0.75)
    assert input_bound_share(0.01, 0.012) == 0.0
    assert input_bound_share(0.0, 0.01) == 0.0


def test_step_times_from_the_clocks_stamps():
    times = StepTimes()
    times.stamp_end(0, first=True)  # an end with no begin is ignored
    times.stamp_begin(0, first=True)
    times.stamp_begin(0, first=False)
    times.stamp_end(1, first=True)
    times.stamp_end(1, first=False)
    assert times.batches() == 2
    assert times.steps[0].callbacks_seconds >= 0


def test_a_message_is_the_registrys_template_filled_and_a_drifted_field_fails_loudly():
    fields = {"call": "fit", "setting": "use_multiprocessing=True"}
    assert rule_message("SLD103", fields) == RULES["SLD103"].message.format(**fields)
    with pytest.raises(KeyError):
        rule_message("SLD103", {"call": "fit"})


def site(share_step=0.04, ceiling=0.01, kind="generator", findings=()):
    report = CallSiteReport(SourcePosition("train.py", 12), "fit", "3.15.1 (tensorflow)",
                            calls=1, feed_kind=kind, feed="generator batches()")
    report.measurement = Measurement(
        window=steady_window(steps([share_step] * 30), warmup=5, limit=20),
        ceiling_seconds=ceiling, input_alone=InputAlone(0.031, "timed"))
    report.findings = list(findings)
    return report


def test_advice_names_the_costs_above_the_threshold_and_stays_calm_below():
    loud = advice(site())
    assert loud.startswith("fit at train.py:12: 75% of step time waits for input")
    assert "31 ms a batch" in loud and "sharded_generator(fn, " in loud
    assert "keeps up" in advice(site(share_step=0.011))
    assert "keeps up" in advice(site(share_step=0.0008, ceiling=0.0004))  # a tiny step
    assert "workers=" in advice(site(kind="dataset"))
    assert "num_parallel_calls" in advice(site(kind="tf.data"))


def test_parallel_batches_is_the_cost_ratio_within_bounds():
    assert parallel_batches(0.031, 0.01) == min(4, parallel_batches(1.0, 0.001))
    assert parallel_batches(0.001, 0.01) == 2


FINDING = RuntimeFinding("SLD101", "generator 'batches' feeds ...", SourcePosition("train.py", 12),
                         SourcePosition("data.py", 3), "the generator behind a lock")


def test_the_json_document_has_the_promised_fields():
    run = DoctorRun("train.py", ["--epochs", "3"], sites=[site(findings=[FINDING])],
                    keras=["3.15.1 (tensorflow)"])
    document = to_json(run)
    call = document["calls"][0]
    assert document["keras"] == "3.15.1 (tensorflow)"
    assert {key: call[key] for key in ("file", "line", "method", "steps", "input_bound")} == {
        "file": "train.py", "line": 12, "method": "fit", "steps": 20, "input_bound": 0.75}
    assert call["findings"] == [{
        "code": "SLD101", "message": "generator 'batches' feeds ...", "file": "train.py",
        "line": 12, "definition": {"file": "data.py", "line": 3},
        "defused": "the generator behind a lock"}]


def test_the_text_report_has_one_block_with_a_table_per_call_site():
    run = DoctorRun("train.py", [], sites=[site(findings=[FINDING])], keras=["2.21.0 (tf_keras)"])
    text = render_text(run)
    assert text.splitlines()[0] == "safeloader doctor: train.py (keras 2.21.0 (tf_keras))"
    assert "fit at train.py:12 (1 call; data: generator batches())" in text
    assert "  input_bound       0.75" in text
    assert ("  SLD101 train.py:12: generator 'batches' feeds ... (defined at data.py:3; the "
            "doctor ran it with the generator behind a lock)") in text
    assert text.endswith("1 call site, 1 hazard.")


@pytest.mark.parametrize("status, findings, limit, expected", [
    ("completed", [], None, 0),
    ("completed", [FINDING], None, 1),
    ("completed", [], 0.5, 1),  # 0.75 is over it
    ("completed", [], 0.8, 0),
    ("failed", [], None, 2),
    ("interrupted", [FINDING], None, 130),
])
def test_exit_status(status, findings, limit, expected):
    run = DoctorRun("train.py", [], sites=[site(findings=findings)], status=status)
    assert exit_status(run, DoctorOptions("train.py", max_input_bound=limit)) == expected


def test_a_note_about_capped_predictions_shows_only_when_the_script_failed():
    run = DoctorRun("train.py", [], status="failed", error="ValueError: shapes")
    run.add_note("predict at train.py:9 returns the predictions of at most 26 batches")
    run.add_note("predict at train.py:9 returns the predictions of at most 26 batches")
    assert render_text(run).count("Note: predict at train.py:9") == 1
    assert to_json(run)["notes"] == run.notes
    assert to_json(DoctorRun("train.py", [], notes=list(run.notes)))["notes"] == []


def test_item_times_are_safe_to_record_from_threads():
    from safeloader.doctor.feeds import ItemTimes, timed

    times = ItemTimes()
    source = timed(iter(range(1000)), times)
    lock = threading.Lock()

    def drain():
        while True:
            with lock:
                item = next(source, None)
            if item is None:
                return

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times.durations) == 1000 and times.last == 999
    assert list(itertools.islice(source, 1)) == []
