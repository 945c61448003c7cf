"""SLD103 through the project's other modules: a script calls, unguarded, a function whose
body starts worker processes.

``fixtures/project_mp/`` holds the project (a library that only defines functions, a
second library layer, an unguarded script and a guarded one); its markers are checked
by ``test_fixtures.py``. These tests pin the message, the bounds, what is not followed,
the flake8 front end, the unsafe fix (applied and refused), and, for real, that the
fixed script trains under ``spawn`` on tf_keras.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source, might_have_findings
from safeloader.fix.cli import main as safeloader_fix

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KERAS2 = AnalysisConfig(keras_version="2")

LIBRARY = """\
import numpy as np
import tf_keras as keras


class Batches(keras.utils.Sequence):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return np.full((4, 2), index, "float32"), np.zeros((4, 1), "float32")


def build_model():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    return model


def train(model, use_processes=True):
    model.fit(Batches(), epochs=1, verbose=0, workers=1, use_multiprocessing=use_processes)
"""

SCRIPT = """\
import multiprocessing

from lib_train import build_model, train

multiprocessing.set_start_method("spawn", force=True)
model = build_model()
train(model)
print("trained")
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")


def sld103(root: Path, name: str, config: AnalysisConfig = KERAS2) -> list[tuple[int, str]]:
    path = root / name
    config = AnalysisConfig(keras_version=config.keras_version, project_root=root)
    return [(f.line, f.message) for f in analyze_source(path.read_text(), path, config)
            if f.code == "SLD103"]


def test_the_message_names_the_function_the_loader_call_and_where_it_is(tmp_path: Path) -> None:
    write(tmp_path, {"lib_train.py": LIBRARY, "train.py": SCRIPT})
    [(line, message)] = sld103(tmp_path, "train.py")
    assert line == 7
    assert message.startswith(
        "SLD103 train(...) -> lib_train.py:20: fit(workers=1, use_multiprocessing="
        "use_processes) starts worker processes from module top level without an "
        "'if __name__ == \"__main__\":' guard")


@pytest.mark.parametrize("call", [
    "train(model, use_processes=False)",
    "train(model, False)",
    "train(model, **{'use_processes': True})",  # hidden: not guessed
    "print(train(model))",  # not a whole-statement call
])
def test_calls_that_do_not_surely_start_processes_are_not_reported(
    tmp_path: Path, call: str
) -> None:
    write(tmp_path, {"lib_train.py": LIBRARY,
                     "train.py": SCRIPT.replace("train(model)\n", call + "\n")})
    assert sld103(tmp_path, "train.py") == []


@pytest.mark.parametrize("script", [
    # the name is rebound before the call
    "from lib_train import train\n\n\ndef main():\n    train = print\n    train(1)\n\n\nmain()\n",
    # a decorated function may be replaced by its decorator
    "from lib_train import wrapped\n\nwrapped(None)\n",
    # a method, not a function
    "from lib_train import Runner\n\nRunner().train(None)\n",
])
def test_uncertain_callees_are_not_followed(tmp_path: Path, script: str) -> None:
    library = LIBRARY + textwrap.dedent("""\


        def decorate(function):
            return function


        @decorate
        def wrapped(model):
            train(model)


        class Runner:
            def train(self, model):
                train(model)
    """)
    write(tmp_path, {"lib_train.py": library, "train.py": script})
    assert sld103(tmp_path, "train.py") == []


def test_installed_packages_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path, {"site-packages/lib_train.py": LIBRARY, "train.py": SCRIPT})
    path = tmp_path / "train.py"
    config = AnalysisConfig(keras_version="2", project_root=tmp_path / "site-packages")
    assert [f for f in analyze_source(path.read_text(), path, config) if f.code == "SLD103"] == []
    write(tmp_path, {"lib_train.py": LIBRARY})
    assert len(sld103(tmp_path, "train.py")) == 1


def test_keras3_fit_takes_no_process_setting_but_a_pydataset_does(tmp_path: Path) -> None:
    library = """\
        import keras


        class Rows(keras.utils.PyDataset):
            def __len__(self):
                return 1

            def __getitem__(self, index):
                return index, index


        def train(model):
            model.fit(Rows(), epochs=1)


        def train_in_processes(model):
            model.fit(Rows(workers=2, use_multiprocessing=True), epochs=1)
    """
    script = "from lib import train, train_in_processes\n\ntrain(None)\ntrain_in_processes(None)\n"
    write(tmp_path, {"lib.py": library, "train.py": script})
    [(line, message)] = sld103(tmp_path, "train.py", AnalysisConfig(keras_version="3"))
    assert line == 4
    assert "train_in_processes(...) -> lib.py:17: fit(Rows(..., use_multiprocessing=True))" \
        in message


KERAS3_LIBRARY = """\
    import keras
    import numpy as np
    from keras import ops


    def batches():
        while True:
            yield np.zeros((4, 2)), np.zeros((4, 1))


    class Rows(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.zeros((4, 2)), np.zeros((4, 1))


    def train_generator(model):
        model.fit_generator(batches(), steps_per_epoch=2, workers=2, use_multiprocessing=True)


    def fit_generator(model):
        model.fit(batches(), steps_per_epoch=2, workers=2, use_multiprocessing=True)


    def train_rows(model, processes=False):
        model.fit(Rows(), workers=2, use_multiprocessing=processes)
"""
#: a script that runs on tf_keras, and one that imports keras (Keras 3 as declared)
SCRIPTS = ["import tf_keras\nfrom lib import {name}\n\n{call}\n",
           "import keras\nfrom lib import {name}\n\n{call}\n"]


@pytest.mark.parametrize("script", SCRIPTS, ids=["script-keras2", "script-keras3-declared"])
@pytest.mark.parametrize("name, call, reported", [
    # Keras 3 starts no process for a generator: the fixes there drop the setting
    ("train_generator", "train_generator(None)", False),
    ("fit_generator", "fit_generator(None)", False),
    # the fix of SLD302 moves the setting into Rows(...), where it starts processes
    ("train_rows", "train_rows(None, True)", True),
    ("train_rows", "train_rows(None)", False),
])
def test_the_called_modules_own_keras_target_decides_what_starts_processes(
    tmp_path: Path, script: str, name: str, call: str, reported: bool
) -> None:
    """The library imports keras.ops (Keras 3), whatever the script targets: tf_keras, or
    Keras 3 declared by the project, whose Keras 3 rules once counted the generator's
    flag of fit_generator."""
    (tmp_path / "requirements.txt").write_text("keras>=3\n", encoding="utf-8")
    write(tmp_path, {"lib.py": KERAS3_LIBRARY,
                     "train.py": script.format(name=name, call=call)})
    config = AnalysisConfig(keras_version="auto")
    found = sld103(tmp_path, "train.py", config)
    assert [line for line, _ in found] == ([4] if reported else [])
    if reported:
        assert "lib.py:31: fit(workers=2, use_multiprocessing=processes)" in found[0][1]


def test_a_keras2_module_starts_processes_for_a_script_that_targets_keras3(
    tmp_path: Path,
) -> None:
    """The library runs on tf_keras, whose fit takes use_multiprocessing; the script's
    Keras 3 (its keras.ops import) does not make the library's setting go away."""
    script = "from keras import ops\nfrom lib_train import build_model, train\n\n" \
             "train(build_model())\n"
    write(tmp_path, {"lib_train.py": LIBRARY, "train.py": script})
    [(line, message)] = sld103(tmp_path, "train.py", AnalysisConfig(keras_version="auto"))
    assert line == 4
    assert "train(...) -> lib_train.py:20: fit(workers=1, use_multiprocessing=use_processes)" \
        in message


def test_a_configured_keras_version_holds_for_every_module(tmp_path: Path) -> None:
    write(tmp_path, {"lib_train.py": LIBRARY, "train.py": SCRIPT})
    assert len(sld103(tmp_path, "train.py", AnalysisConfig(keras_version="2"))) == 1
    # configured Keras 3: Batches derives from tf_keras' Sequence, which takes no loader
    # settings, so SLD302 moves none into Batches(...), and no process starts
    assert sld103(tmp_path, "train.py", AnalysisConfig(keras_version="3")) == []


def test_cycles_between_modules_end_and_long_chains_stop_at_the_bound(tmp_path: Path) -> None:
    cycle = {
        "a.py": "import b\n\n\ndef f(model):\n    b.g(model)\n",
        "b.py": "import a\n\n\ndef g(model):\n    a.f(model)\n"
                "    model.fit(None, workers=2, use_multiprocessing=True)\n",
        "train.py": "import a\n\na.f(None)\n",
    }
    write(tmp_path, cycle)
    [(_, message)] = sld103(tmp_path, "train.py")
    assert "f(...) -> g() -> b.py:6: fit(workers=2, use_multiprocessing=True) starts" in message

    chain = {f"m{i}.py": f"import m{i + 1}\n\n\ndef f(model):\n    m{i + 1}.f(model)\n"
             for i in range(12)}
    chain["m12.py"] = "def f(model):\n    model.fit(None, workers=2, use_multiprocessing=True)\n"
    for start, found in ((12 - 7, 1), (0, 0)):  # 8 functions deep at most
        chain["train.py"] = f"import m{start}\n\nm{start}.f(None)\n"
        write(tmp_path, chain)
        assert len(sld103(tmp_path, "train.py")) == found


def test_a_script_without_any_loader_word_passes_the_prefilter_and_flake8_reports_it(
    tmp_path: Path,
) -> None:
    shutil.copytree(FIXTURES / "project_mp", tmp_path / "project_mp")
    script = "from project_mp.trainer import build_model, train\n\ntrain(build_model())\n"
    (tmp_path / "run.py").write_text(script)
    assert might_have_findings(script)
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select=SLD",
         "--safeloader-keras-version=2", "run.py", "project_mp/trainer.py",
         "project_mp/pipeline.py", "project_mp/guarded.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "project_mp/trainer.py:38:11: SLD301 fit_generator() is deprecated since TF 2.1 and "
        "removed in Keras 3; call fit() instead",
        "run.py:3:1: SLD103 train(...) -> fit_model() -> project_mp/trainer.py:25: fit("
        "workers=2, use_multiprocessing=gen_use_multiprocessing) starts worker processes "
        "from module top level without an 'if __name__ == \"__main__\":' guard; under "
        "spawn (Windows, macOS) each worker re-runs this script: move the training code "
        "under the guard",
    ]


@pytest.mark.usefixtures("outside_the_repository")
def test_the_unsafe_fix_guards_the_script_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    shutil.copytree(FIXTURES / "project_mp", tmp_path / "project_mp")
    flags = ["--keras-version", "2", "--select", "SLD103", "-j", "1"]
    assert safeloader_fix([*flags, "project_mp"]) == 0  # unsafe: nothing without the flag
    assert (tmp_path / "project_mp" / "train.py").read_text() == (
        FIXTURES / "project_mp" / "train.py").read_text()
    assert safeloader_fix([*flags, "--unsafe-fixes", "project_mp"]) == 0
    for path in sorted((tmp_path / "project_mp").glob("*.py")):
        expected = FIXTURES / "expected" / "project_mp" / path.name
        reference = expected if expected.exists() else FIXTURES / "project_mp" / path.name
        assert path.read_text() == reference.read_text(), path.name
    assert sld103(tmp_path, "project_mp/train.py") == []
    assert safeloader_fix([*flags, "--unsafe-fixes", "--check", "project_mp"]) == 0


@pytest.mark.usefixtures("outside_the_repository")
def test_one_guard_for_a_script_with_its_own_and_an_imported_process_start(
    tmp_path: Path,
) -> None:
    script = SCRIPT.replace("train(model)\n", "train(model)\nmodel.fit(None, workers=2, "
                            "use_multiprocessing=True)\n")
    write(tmp_path, {"lib_train.py": LIBRARY, "train.py": script})
    assert [line for line, _ in sld103(tmp_path, "train.py")] == [7, 8]
    assert safeloader_fix(["--keras-version", "2", "--unsafe-fixes", "-j", "1",
                           "train.py"]) == 0
    assert (tmp_path / "train.py").read_text() == textwrap.dedent("""\
        import multiprocessing

        from lib_train import build_model, train

        if __name__ == "__main__":
            multiprocessing.set_start_method("spawn", force=True)
            model = build_model()
            train(model)
            model.fit(None, workers=2, use_multiprocessing=True)
            print("trained")
    """)


@pytest.mark.usefixtures("outside_the_repository")
def test_the_fix_is_refused_when_a_kept_function_reads_a_moved_global(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(FIXTURES / "project_mp", tmp_path / "project_mp")
    script = tmp_path / "project_mp" / "refused.py"
    source = textwrap.dedent("""\
        from project_mp.trainer import build_model, train

        STEPS = int("2")


        def report(steps=STEPS):
            print("trained", steps, "steps")


        train(build_model(), steps=STEPS)
        report()
    """)
    script.write_text(source)
    assert [line for line, _ in sld103(tmp_path, "project_mp/refused.py")] == [10]
    assert safeloader_fix(["--keras-version", "2", "--unsafe-fixes", "-j", "1",
                           "project_mp/refused.py"]) == 0
    assert script.read_text() == source
    assert ("refused.py:3:1: not moved under 'if __name__ == \"__main__\":': 'report' reads "
            "'STEPS' when the module is imported") in capsys.readouterr().err


def test_the_fixed_script_trains_under_spawn_on_tf_keras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tf_keras")
    from test_keras3_migration_runs import project, run

    train = project(tmp_path, SCRIPT, {"lib_train.py": LIBRARY,
                                       "requirements.txt": "tf-keras~=2.16\n"})
    monkeypatch.chdir(tmp_path)
    assert safeloader_fix(["--unsafe-fixes", "train.py"]) == 0
    assert train.read_text() == SCRIPT.replace(
        'multiprocessing.set_start_method("spawn", force=True)\nmodel = build_model()\n'
        'train(model)\nprint("trained")\n',
        'if __name__ == "__main__":\n'
        '    multiprocessing.set_start_method("spawn", force=True)\n'
        '    model = build_model()\n    train(model)\n    print("trained")\n')
    status, output = run(train)
    assert status == 0, output
    assert "trained" in output
