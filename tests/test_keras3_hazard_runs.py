"""The Keras 3 data hazards, run for real: the original fails on Keras 3 as the rule
says, the fixed program trains, and where Keras 2 gave a number (steps run, batches
per epoch) the comparison is made on real tf_keras.

The scripts (``keras3_hazard_programs.py``) sit in a project that declares
``keras>=3``; ``safeloader-fix`` fixes them as a user would run it. One Keras 3
interpreter runs every original and every fixed script, one tf_keras interpreter
the Keras 2 twins, both at once (starting TensorFlow is most of the cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keras3_hazard_programs import KERAS2_PROGRAMS, KERAS3_PROGRAMS

from safeloader.analysis import analyze_source
from safeloader.fix.cli import main as safeloader_fix

pytest.importorskip("keras")
pytest.importorskip("tf_keras")

SRC = Path(__file__).resolve().parent.parent / "src"
RUN_LIMIT_S = 240

#: runs each script given in one interpreter; prints one ``RUN`` line (JSON) per script
RUNNER = '''\
import contextlib, io, json, runpy, sys
for path in sys.argv[1:]:
    out = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    results = [json.loads(line[7:]) for line in out.getvalue().splitlines()
               if line.startswith("RESULT ")]
    print("RUN " + json.dumps({"path": path, "error": error, "results": results}), flush=True)
'''


def _start(scripts: list[Path], runner: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(runner), *map(str, scripts)], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _collect(process: subprocess.Popen[str]) -> dict[str, dict[str, Any]]:
    try:
        out, err = process.communicate(timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    runs = {}
    for line in out.splitlines():
        if line.startswith("RUN "):
            run = json.loads(line[4:])
            runs[Path(run["path"]).stem] = run
    assert process.returncode == 0, err[-3000:]
    return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Fix the Keras 3 project, then run originals, fixed scripts and Keras 2 twins."""
    root = tmp_path_factory.mktemp("keras3_hazards")
    project, originals, keras2 = root / "project", root / "originals", root / "keras2"
    for folder in (project, originals, keras2):
        folder.mkdir()
    (project / ".git").mkdir()  # the project ends here: nothing above it is read
    (project / "requirements.txt").write_text("keras>=3.3\n", encoding="utf-8")
    for name, script in KERAS3_PROGRAMS.items():
        (project / f"{name}.py").write_text(script, encoding="utf-8")
        (originals / f"original_{name}.py").write_text(script, encoding="utf-8")
    for name, script in KERAS2_PROGRAMS.items():
        (keras2 / f"keras2_{name}.py").write_text(script, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)  # no flake8 configuration but the project's own
        fixed_status = safeloader_fix(["-j", "1", "."])
        check_status = safeloader_fix(["--check", "-j", "1", "."])
    runner = root / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    keras3 = _start([*sorted(originals.glob("*.py")),
                     *(project / f"{name}.py" for name in KERAS3_PROGRAMS)], runner)
    tf_keras = _start(sorted(keras2.glob("*.py")), runner)
    return {"fixed_status": fixed_status, "check_status": check_status, "project": project,
            "keras3": _collect(keras3), "keras2": _collect(tf_keras)}


def _fixed(runs: dict[str, Any], name: str) -> str:
    return (runs["project"] / f"{name}.py").read_text(encoding="utf-8")


def test_one_fixer_pass_leaves_nothing_to_fix(runs: dict[str, Any]) -> None:
    assert runs["fixed_status"] == 0
    assert runs["check_status"] == 0


def test_a_lock_wrapper_fails_on_keras3_until_safeloader_replaces_it(
        runs: dict[str, Any]) -> None:
    original = runs["keras3"]["original_lock_wrapper"]
    assert original["error"].startswith("ValueError: Unrecognized data type")
    fixed = runs["keras3"]["lock_wrapper"]
    assert fixed["error"] is None
    assert fixed["results"] == [["loss", "val_loss"]]  # trained and validated
    text = _fixed(runs, "lock_wrapper")
    assert "class threadsafe_iterator" not in text and "import threading" not in text
    assert ("from safeloader import ThreadSafeIterator as threadsafe_iterator, "
            "threadsafe_generator\n") in text


def test_list_batches_fail_on_keras3_until_they_are_tuples(runs: dict[str, Any]) -> None:
    original = runs["keras3"]["original_list_batches"]
    assert original["error"].startswith("TypeError") and "output_signature" in original["error"]
    assert runs["keras3"]["list_batches"] == {
        "path": str(runs["project"] / "list_batches.py"), "error": None, "results": [1, 1]}
    fixed = _fixed(runs, "list_batches")
    assert "return (left, left * 2), (np.zeros((4, 1), \"float32\"),)\n" in fixed
    assert "return tuple(base * scale for scale in (1, 2)), np.zeros(" in fixed


def test_float_steps_run_on_keras3_exactly_as_keras2_counted_them(runs: dict[str, Any]) -> None:
    original = runs["keras3"]["original_float_steps"]
    assert original["error"] == ("TypeError: 'float' object cannot be interpreted as an "
                                 "integer")
    keras2 = runs["keras2"]["keras2_float_steps"]
    fixed = runs["keras3"]["float_steps"]
    assert keras2["error"] is None and fixed["error"] is None
    # tf_keras' fit_generator/evaluate_generator/predict_generator with the same floats:
    # 2 epochs of ceil(10 / 4) = 3 steps; validation ceil(1.5) = 2 per epoch, then
    # evaluate ceil(10 * 0.7 // 2) = 3; predict ceil(10 / 3) = 4
    assert keras2["results"] == [{"train": 6, "test": 7, "predict": 4}]
    assert fixed["results"] == keras2["results"]
    text = _fixed(runs, "float_steps")
    assert "steps_per_epoch=math.ceil(SAMPLES / BATCH)" in text
    assert "validation_steps=2)" in text and "steps=math.ceil(SAMPLES / 3)" in text


def test_steps_beyond_the_length_shrink_keras3_epochs(runs: dict[str, Any]) -> None:
    text = _fixed(runs, "steps_beyond_length")
    assert text == KERAS3_PROGRAMS["steps_beyond_length"]  # reported, never rewritten
    codes = [finding.code for finding in analyze_source(text, runs["project"] / "x.py")]
    assert codes == ["SLD306"]
    # Keras 2's workers looped the 3-batch Sequence for 6 steps an epoch; Keras 3 stops at 3
    assert runs["keras2"]["keras2_steps_beyond_length"]["results"] == [[6, 6]]
    assert runs["keras3"]["steps_beyond_length"]["results"] == [[3, 3]]


def test_the_runner_reports_every_script(runs: dict[str, Any]) -> None:
    assert set(runs["keras3"]) == {*KERAS3_PROGRAMS, *(f"original_{n}" for n in KERAS3_PROGRAMS)}
    assert set(runs["keras2"]) == {f"keras2_{name}" for name in KERAS2_PROGRAMS}
