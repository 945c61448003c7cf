"""The last chapter of ``safeloader demo``: ``safeloader doctor`` on a slow script and its fix.

Two bundled training scripts (``doctor_slow_script.py.txt``,
``doctor_fixed_script.py.txt``) run under the doctor, in this process, as
``safeloader doctor SCRIPT`` would run them: the slow one feeds a plain
generator to three worker threads (a race, and a model that waits for its
reads), the fixed one reads three batches at once with ``sharded_generator``.
The chapter prints both reports and returns what they measured.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, TextIO

from safeloader.doctor import DoctorOptions, DoctorRun, run_doctor
from safeloader.doctor.report import render_text

TITLE = "safeloader doctor measures the slow script and its fix as they run"

SCRIPTS = {"slow": "doctor_slow_script.py", "fixed": "doctor_fixed_script.py"}


@dataclass(frozen=True)
class DoctorChapterResult:
    """What the doctor found in each script: rule codes and the input-bound share."""

    slow_codes: tuple[str, ...]
    slow_input_bound: float | None
    fixed_codes: tuple[str, ...]
    fixed_input_bound: float | None


def _codes(run: DoctorRun) -> tuple[str, ...]:
    return tuple(finding.code for site in run.sites for finding in site.findings)


def _share(run: DoctorRun) -> float | None:
    return run.sites[0].measurement.input_bound if run.sites else None


def _doctor(name: str, work: str, say: Any) -> DoctorRun:
    text = resources.files("safeloader.demo").joinpath(f"{name}.txt").read_text()
    with open(os.path.join(work, name), "w") as script:
        script.write(text)
    say(f"\n$ safeloader doctor {name}")
    with contextlib.redirect_stdout(io.StringIO()):  # the script's own output
        run = run_doctor(DoctorOptions(name))
    say(render_text(run))
    return run


def run(earlier: Mapping[str, Any], out: TextIO) -> DoctorChapterResult:
    """Run the doctor on both scripts, print its reports to ``out``, return the figures."""
    say = functools.partial(print, file=out, flush=True)
    say("Each script reads batches of 20 ms and trains a model whose step takes 10 ms.\n"
        "The doctor runs each for a few steps of one epoch, unchanged.")
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="safeloader-demo-") as work:
        os.chdir(work)  # the reports name the scripts as a user would see them
        try:
            slow = _doctor(SCRIPTS["slow"], work, say)
            fixed = _doctor(SCRIPTS["fixed"], work, say)
        finally:
            os.chdir(here)
    say("\nThe race is gone and the model no longer waits for its input: run "
        "safeloader doctor on your own script. See docs/doctor.md.")
    return DoctorChapterResult(_codes(slow), _share(slow), _codes(fixed), _share(fixed))
