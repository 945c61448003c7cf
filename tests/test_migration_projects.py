"""Issue 15's proof by running: three Keras 2 projects, migrated by one fixer pass.

``fixtures/migration/`` holds three small projects of our own, each modelled on
a public Keras 2 repository and declaring Keras 3 as someone migrating does:

* ``detector`` (``requirements.txt``: ``keras>=3.3``), after a YOLOv3
  repository: a ``keras.utils.Sequence`` whose ``__getitem__`` returns
  multi-input list batches and calls a helper that assigns ``self.net_size``
  (SLD104, which has no fix), and ``fit_generator(generator=..., workers=4,
  max_queue_size=8, use_multiprocessing=False)`` with float step counts
  (``(n * 0.7) // batch``) and validation;
* ``video_classifier`` (``pyproject.toml``: ``keras>=3``), after a video
  classification repository and laid out as it is: ``data.py`` has the
  forum's lock wrapper class and decorator under names of its own, on a
  generator *method*; ``train.py`` imports the data class and hands what
  the method returns to ``fit_generator(..., workers=3)`` (SLD303 follows
  the import, and its fix is made in ``data.py``);
* ``segmentation`` (``setup.py``: ``keras>=3``), after a segmentation
  library: ``segkit.train(model, data, epochs, gen_workers=1,
  gen_use_multiprocessing=False)`` passes its arguments to
  ``fit_generator(workers=..., use_multiprocessing=...)``; a script calls it
  with two workers.

Each project is fixed by one run of the real ``safeloader-fix`` (a
subprocess, default safe fixes). Its fixed files must equal
``fixtures/expected/migration/keras3/``; ``--check`` (with and without
``--unsafe-fixes``) then has nothing to do, a run with ``--unsafe-fixes``
from the start gives the same files (the projects have nothing that only an
unsafe fix changes), and the real ``flake8`` reports exactly SLD104, the
report-only finding docs/keras3-migration.md tells the user about. Then the
fixed projects train on the real Keras 3 (TensorFlow backend, CPU), and the
unfixed ones fail there.

The same projects declaring Keras 2 (``tensorflow>=2.12,<2.16`` for two of
them, ``keras>=2.12,<3`` for the library) get their own one pass
(``fixtures/expected/migration/keras2/``) and keep training on tf_keras with
the behaviour they had: the same batches per epoch, the same data.

How "Keras 2" runs. The projects ``import keras``, as Keras 2.x-era code
did. In the environment a Keras 2 declaration installs (TensorFlow 2.15 or
earlier with its Keras 2.x, or ``keras<3``), that import gives Keras 2; in
our virtual environment it gives Keras 3, and Keras 2 lives on as
``tf_keras`` (the same code base, continued). Rewriting the Keras 2 variants
to ``import tf_keras as keras`` would test other files than the ones
declared, and ``TF_USE_LEGACY_KERAS=1`` only changes ``tf.keras``. So the
Keras 2 interpreter makes ``keras`` name ``tf_keras`` before anything runs
(``sys.modules["keras"] = tf_keras``): the projects run byte for byte as
declared, and each run reports which package it trained with.

The programs count: a callback counts each epoch's training and validation
batches, and a pass-through layer (the models run eagerly) notes the data
each training batch carried (instance or batch ids). One Keras 3 interpreter
and two tf_keras interpreters (fixed, unfixed) run all the programs, at once
(starting TensorFlow is most of the cost, and tf_keras' ``Sequence`` loader
idles a few seconds at the end of each epoch). The unfixed library is not
run on tf_keras: its plain generator under ``workers=2`` is the race SLD101
reports, and whether it fails depends on thread timing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("keras", minversion="3")
pytest.importorskip("tf_keras")

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "fixtures" / "migration"
EXPECTED = ROOT / "fixtures" / "expected" / "migration"
SRC = ROOT / "src"
NAMES = ("detector", "video_classifier", "segmentation")
#: each project's entry script
SCRIPTS = {"detector": "train.py", "video_classifier": "train.py",
           "segmentation": "train_segmentation.py"}
#: each project's Keras 2 declaration: (file, its Keras 3 requirement, the Keras 2 one)
KERAS2_DECLARATIONS = {
    "detector": ("requirements.txt", "keras>=3.3", "tensorflow>=2.12,<2.16"),
    "video_classifier": ("pyproject.toml", '"keras>=3"', '"tensorflow>=2.12,<2.16"'),
    "segmentation": ("setup.py", '"keras>=3"', '"keras>=2.12,<3"'),
}
RUN_LIMIT_S = 300
#: a flake8 report line
REPORT = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):\d+: (?P<code>[A-Z]+\d+) ", re.M)

#: runs the scripts given, each in its own folder, in one interpreter; ``tf_keras``
#: first makes ``import keras`` give tf_keras; prints one ``RUN`` line (JSON) per script
RUNNER = '''\
import contextlib, io, json, os, runpy, sys
if sys.argv[1] == "tf_keras":
    import tf_keras
    sys.modules["keras"] = tf_keras
import keras
for path in sys.argv[2:]:
    folder = os.path.dirname(path)
    loaded = set(sys.modules)
    sys.path.insert(0, folder)
    out = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - loaded:  # the project's own modules
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(folder):
                del sys.modules[name]
    results = [json.loads(line[7:]) for line in out.getvalue().splitlines()
               if line.startswith("RESULT ")]
    print("RUN " + json.dumps({"path": path, "keras": keras.__name__, "error": error,
                               "results": results}), flush=True)
'''


def _python(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *arguments], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=RUN_LIMIT_S, check=False)


def _copy_projects(target: Path, keras2: bool) -> None:
    """The three projects under ``target``, each a repository of its own."""
    for name in NAMES:
        project = target / name
        shutil.copytree(PROJECTS / name, project,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (project / ".git").mkdir()  # the project ends here: nothing above it is read
        if keras2:
            file, keras3_requirement, keras2_requirement = KERAS2_DECLARATIONS[name]
            declared = project / file
            text = declared.read_text(encoding="utf-8")
            assert keras3_requirement in text
            declared.write_text(text.replace(keras3_requirement, keras2_requirement),
                                encoding="utf-8")


def _fix(tree: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return _python("-m", "safeloader.fix.cli", *flags, *NAMES, cwd=tree)


def _flake8(tree: Path) -> set[tuple[str, int, str]]:
    """``(file, line, code)`` of everything the real flake8 (every plugin, the
    defaults) reports in the three projects under ``tree``."""
    done = _python("-m", "flake8", *NAMES, cwd=tree)
    assert done.returncode in (0, 1), done.stderr
    return {(Path(found["path"]).as_posix(), int(found["line"]), found["code"])
            for found in REPORT.finditer(done.stdout)}


def _files(tree: Path) -> dict[str, str]:
    return {path.relative_to(tree).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(tree.rglob("*")) if path.is_file() and ".git" not in path.parts}


def _start(flavour: str, scripts: list[Path], runner: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(runner), flavour, *map(str, scripts)],
                            env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _collect(process: subprocess.Popen[str], root: Path) -> dict[str, dict[str, Any]]:
    """``{"keras3/fixed/detector": run, ...}`` from a runner's output."""
    try:
        out, err = process.communicate(timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, err[-3000:]
    runs = {}
    for line in out.splitlines():
        if line.startswith("RUN "):
            run = json.loads(line[4:])
            runs[Path(run["path"]).parent.relative_to(root).as_posix()] = run
    return runs


@pytest.fixture(scope="module")
def migration(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Fix each flavour's projects in one pass (and, apart, with unsafe fixes), lint
    them before and after, then run the fixed and unfixed programs."""
    root = tmp_path_factory.mktemp("migration")
    outcome: dict[str, Any] = {"root": root}
    for flavour in ("keras3", "keras2"):
        for variant in ("original", "fixed", "unsafe"):
            _copy_projects(root / flavour / variant, keras2=flavour == "keras2")
        fixed, unsafe = root / flavour / "fixed", root / flavour / "unsafe"
        outcome[flavour] = {
            "flake8_before": _flake8(root / flavour / "original"),
            "fix": _fix(fixed),
            "unsafe": _fix(unsafe, "--unsafe-fixes"),
            "check": _fix(fixed, "--check"),
            "unsafe_check": _fix(fixed, "--check", "--unsafe-fixes"),
            "flake8_after": _flake8(fixed),
            "files": _files(fixed),
            "unsafe_files": _files(unsafe),
        }
    runner = root / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    keras3 = _start("keras", [root / "keras3" / variant / name / SCRIPTS[name]
                              for variant in ("fixed", "original") for name in NAMES], runner)
    # two tf_keras interpreters: its Sequence enqueuer idles seconds at each epoch's end
    keras2 = [_start("tf_keras", [root / "keras2" / variant / name / SCRIPTS[name]
                                  for name in NAMES
                                  if (variant, name) != ("original", "segmentation")], runner)
              for variant in ("fixed", "original")]
    outcome["runs"] = {key: run for process in (keras3, *keras2)
                       for key, run in _collect(process, root).items()}
    return outcome


#: what flake8 reports in the unfixed projects, by flavour: (file, line, code)
FLAKE8_BEFORE = {
    "keras3": {
        ("detector/generator.py", 14, "SLD105"),
        ("detector/generator.py", 29, "SLD104"),
        ("detector/generator.py", 39, "SLD304"),
        ("detector/train.py", 83, "SLD301"),
        ("detector/train.py", 85, "SLD305"),
        ("detector/train.py", 89, "SLD305"),
        ("video_classifier/train.py", 68, "SLD301"),
        ("video_classifier/train.py", 69, "SLD303"),
        ("video_classifier/train.py", 74, "SLD303"),
        ("segmentation/segkit/train.py", 10, "SLD301"),
    },
    "keras2": {
        ("detector/generator.py", 29, "SLD104"),
        ("detector/train.py", 83, "SLD301"),
        ("video_classifier/train.py", 68, "SLD301"),
        ("segmentation/segkit/train.py", 10, "SLD301"),
        ("segmentation/segkit/train.py", 10, "SLD101"),
    },
}
#: what remains after the pass: SLD104 has no fix (docs/keras3-migration.md, step 4)
FLAKE8_AFTER = {
    "keras3": {("detector/generator.py", 30, "SLD104")},
    "keras2": {("detector/generator.py", 29, "SLD104")},
}


@pytest.mark.parametrize("flavour", ["keras3", "keras2"])
def test_one_pass_fixes_every_project_as_expected(migration: dict[str, Any],
                                                  flavour: str) -> None:
    done = migration[flavour]
    assert migration[flavour]["flake8_before"] == FLAKE8_BEFORE[flavour]
    assert done["fix"].returncode == 0, done["fix"].stderr
    assert "more with --unsafe-fixes" not in done["fix"].stderr
    expected = EXPECTED / flavour
    changed = {path.relative_to(expected).as_posix() for path in expected.rglob("*.py")}
    assert changed
    originals = _files(migration["root"] / flavour / "original")
    for path, text in done["files"].items():
        reference = expected / path if path in changed else None
        wanted = reference.read_text(encoding="utf-8") if reference else originals[path]
        assert text == wanted, path
    assert done["check"].returncode == 0, done["check"].stdout + done["check"].stderr
    assert done["unsafe_check"].returncode == 0, done["unsafe_check"].stderr
    # --unsafe-fixes from the start adds nothing: no unguarded processes, no generator
    # handed to processes
    assert done["unsafe"].returncode == 0, done["unsafe"].stderr
    assert done["unsafe_files"] == done["files"]
    assert done["flake8_after"] == FLAKE8_AFTER[flavour]


def test_the_fixer_names_what_the_user_still_does(migration: dict[str, Any]) -> None:
    keras3, keras2 = migration["keras3"]["fix"].stderr, migration["keras2"]["fix"].stderr
    # the library's loader parameters are kept for its callers, and said to be unused
    for parameter in ("gen_workers", "gen_use_multiprocessing"):
        assert ("segmentation/segkit/train.py:6:" in keras3
                and f"parameter '{parameter}' of train() is no longer used" in keras3)
    # a project that imports safeloader now is told to declare it
    assert re.search(r"video_classifier/data\.py imports safeloader now.*add safeloader to "
                     r".*video_classifier/pyproject\.toml", keras3)
    assert re.search(r"segkit/data_loader\.py imports safeloader now.*add safeloader to "
                     r".*segmentation/setup\.py", keras2)
    assert keras3.endswith("fixes: SLD105 x1, SLD301 x3, SLD303 x2, SLD304 x2, SLD305 x2\n")
    assert keras2.endswith("fixes: SLD101 x1, SLD301 x3\n")


def test_the_unfixed_projects_fail_on_keras3(migration: dict[str, Any]) -> None:
    for name in NAMES:
        run = migration["runs"][f"keras3/original/{name}"]
        assert run["keras"] == "keras"
        assert run["error"] == "AttributeError: 'Functional' object has no attribute " \
                               "'fit_generator'", name


def test_the_fixed_detector_trains_on_keras3_as_on_keras2(migration: dict[str, Any]) -> None:
    runs = migration["runs"]
    keras3, keras2 = runs["keras3/fixed/detector"], runs["keras2/fixed/detector"]
    original = runs["keras2/original/detector"]
    assert (keras3["keras"], keras2["keras"], original["keras"]) == (
        "keras", "tf_keras", "tf_keras")
    assert keras3["error"] is keras2["error"] is original["error"] is None
    # 28 training instances in 7 batches of 4 (steps_per_epoch: ceil(28.0 // 4)), 12 to
    # validate in 3; every epoch trains on each instance once, whatever the order
    every_instance = list(range(28))
    expected = {"train_batches": [7, 7], "valid_batches": [3, 3],
                "instances": [every_instance, every_instance]}
    assert keras3["results"] == keras2["results"] == original["results"] == [expected]


@pytest.mark.parametrize("name, valid_batches", [("video_classifier", [2, 2]),
                                                 ("segmentation", None)])
def test_the_fixed_generators_train_on_keras3_as_on_keras2(
        migration: dict[str, Any], name: str, valid_batches: list[int] | None) -> None:
    runs = migration["runs"]
    keras3, keras2 = runs[f"keras3/fixed/{name}"], runs[f"keras2/fixed/{name}"]
    compared = [keras3, keras2]
    if name == "video_classifier":
        compared.append(runs[f"keras2/original/{name}"])
    for run in compared:
        assert run["error"] is None, run
        [result] = run["results"]
        assert result["train_batches"] == [4, 4]
        assert result.get("valid_batches") == valid_batches
        ids = result["batch_ids"]
        # each batch once (the lock holds under tf_keras' threads); which ones Keras 2
        # trains on near an epoch's end depends on which thread queued first
        assert len(ids) == len(set(ids)) == 8 and all(i % 2 == 0 for i in ids)
    assert [run["keras"] for run in compared] == ["keras", *["tf_keras"] * (len(compared) - 1)]
    # Keras 3 reads the generator from one thread: the first eight batches, in order
    assert keras3["results"][0]["batch_ids"] == list(range(0, 16, 2))


DOC = ROOT / "docs" / "keras3-migration.md"
#: a shell session in the doc: the command after ``$ ``, then its output
_SESSION = re.compile(r"```text\n\$ (?P<command>[^\n]+)\n(?P<output>.*?)\n```", re.S)
#: how each command of the worked example runs here
COMMANDS = {
    "safeloader keras-version .": ("-m", "safeloader", "keras-version", "."),
    "flake8": ("-m", "flake8"),
    "safeloader-fix --diff .": ("-m", "safeloader.fix.cli", "--diff", "."),
    "safeloader-fix .": ("-m", "safeloader.fix.cli", "."),
}


def test_the_worked_example_shows_what_the_tools_print(
        migration: dict[str, Any], tmp_path: Path) -> None:
    """docs/keras3-migration.md, step 4: each command, run in order on a fresh copy of
    the detector project, prints what the doc shows (``python train.py``: what the
    fixed project printed on Keras 3 above)."""
    section = DOC.read_text(encoding="utf-8").split("## 4. The whole flow on a project\n")[1]
    sessions = [(m["command"], m["output"])
                for m in _SESSION.finditer(section.split("\n## ")[0])]
    assert [command for command, _ in sessions] == [
        "safeloader keras-version .", "flake8", "safeloader-fix --diff .", "safeloader-fix .",
        "python train.py", "flake8"]
    project = tmp_path / "detector"
    shutil.copytree(PROJECTS / "detector", project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".git").mkdir()
    for command, output in sessions:
        if command == "python train.py":
            [result] = migration["runs"]["keras3/fixed/detector"]["results"]
            assert output == "RESULT " + json.dumps(result)
            continue
        done = _python(*COMMANDS[command], cwd=project)
        assert (done.stdout + done.stderr).rstrip("\n") == output, command
