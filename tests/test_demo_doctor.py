"""The doctor's chapter of ``safeloader demo``: the slow script and its fix, measured."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras")

from safeloader.demo import CHAPTERS  # noqa: E402
from safeloader.demo import doctor  # noqa: E402


def test_the_doctors_chapter_is_the_last():
    assert CHAPTERS[-1] == "safeloader.demo.doctor"


def test_the_chapter_finds_the_race_and_the_wait_then_neither_in_the_fix():
    out = io.StringIO()
    result = doctor.run({}, out)
    text = out.getvalue()
    assert result.slow_codes == ("SLD101",)
    assert result.slow_input_bound >= 0.3  # 20 ms reads, one at a time, for a 10 ms step
    assert result.fixed_codes == ()
    assert result.fixed_input_bound <= 0.2  # three at once: under 7 ms a batch
    assert "$ safeloader doctor doctor_slow_script.py" in text
    assert "fit at doctor_slow_script.py:41 (1 call; data: generator batches()" in text
    assert "SLD101 doctor_slow_script.py:41: generator 'batches' feeds fit(workers=3" in text
    assert "safeloader doctor: doctor_fixed_script.py (keras" in text
    assert "1 call site, 0 hazards." in text
