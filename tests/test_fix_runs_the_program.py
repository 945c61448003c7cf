"""The fixes that change how data reaches Keras, run for real with tf_keras: SLD101's
wrap of a generator expression and SLD102's unsafe fix (threads instead of
processes, plus the lock), and SLD102's word on a ``Sequence`` argument.

(The other fixes run elsewhere: SLD101's decoration and SLD301 in
test_fix_end_to_end.py; SLD105, SLD201, SLD202 and SLD203 in test_fixes_classes.py.)
"""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import pytest

from safeloader.analysis import analyze_source
from safeloader.fix.cli import main

pytestmark = pytest.mark.usefixtures("outside_the_repository")

SCRIPT = textwrap.dedent('''\
    import os
    import time

    import numpy as np
    import tf_keras

    PRODUCERS = []


    def batch(index):
        time.sleep(0.02)  # a disk read: a second worker thread always finds it running
        return np.full((4, 1), index, "float32"), np.zeros((4, 1), "float32")


    def batches(count):
        for index in range(count):
            PRODUCERS.append(os.getpid())
            yield batch(index)


    def main():
        model = tf_keras.Sequential([tf_keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit((batch(i) for i in range(24)), steps_per_epoch=6, workers=3, verbose=0)
        model.fit(batches(24), steps_per_epoch=6, workers=3, use_multiprocessing=True,
                  verbose=0)
        print("trained; batches made in this process:",
              sum(pid == os.getpid() for pid in PRODUCERS))


    if __name__ == "__main__":
        main()
''')


def test_wrapped_expression_and_threads_instead_of_processes_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tf_keras")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    # run as a script in this process (tf_keras imported once); the original fails at
    # its first fit, before the one that would start worker processes
    with pytest.raises(Exception, match="NOT thread-safe"):
        runpy.run_path(str(script), run_name="__main__")

    assert main(["--unsafe-fixes", str(script)]) == 0
    fixed = script.read_text()
    assert "model.fit(ThreadSafeIterator((batch(i) for i in range(24))), " in fixed
    assert "@threadsafe_generator\ndef batches(count):" in fixed
    assert "workers=3, use_multiprocessing=False,\n" in fixed

    capsys.readouterr()
    runpy.run_path(str(script), run_name="__main__")
    # the generator now runs in this process (threads), not replayed by forked copies
    made = int(capsys.readouterr().out.split(":")[-1])
    assert made >= 6


SEQUENCE_BESIDE = textwrap.dedent('''\
    import tf_keras


    class Validation(tf_keras.utils.Sequence):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return index


    def batches():
        yield 1


    def main(model):
        model.fit(batches(), validation_data=Validation(), workers=2,
                  use_multiprocessing=True)
''')


def test_sld102_says_what_turning_processes_off_costs_a_sequence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = ("use_multiprocessing=False also loads 'Validation()' in threads, though a "
            "Sequence is safe under processes")
    [finding] = [f for f in analyze_source(SEQUENCE_BESIDE) if f.code == "SLD102"]
    assert finding.message.endswith(
        "set use_multiprocessing=False and decorate 'batches' with "
        f"@safeloader.threadsafe_generator; {note}"
    )
    script = tmp_path / "train.py"
    script.write_text(SEQUENCE_BESIDE)
    assert main(["--unsafe-fixes", str(script)]) == 0
    assert f"{script}:18:35: {note}\n" in capsys.readouterr().err
    plain = SEQUENCE_BESIDE.replace("validation_data=Validation(), ", "")
    [finding] = [f for f in analyze_source(plain) if f.code == "SLD102"]
    assert "Sequence" not in finding.message


ALREADY_WRAPPED = textwrap.dedent('''\
    import tf_keras
    from safeloader import threadsafe_generator as locked
    from tf_keras.utils import data_utils
    from team.utils import guarded


    def make():
        yield 1


    gen = locked(make)
    legacy = data_utils.threadsafe_generator(make)
    teams = guarded(make)


    def main(model):
        model.fit(gen(), workers=2, use_multiprocessing=True)
        model.fit(legacy(), workers=2, use_multiprocessing=True)
        model.fit(teams(), workers=2, use_multiprocessing=True)
        model.fit(make(), workers=2, use_multiprocessing=True)
''')


def test_a_generator_wrapped_through_an_alias_gets_no_second_wrapper(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(ALREADY_WRAPPED)
    # a module-qualified configured guard counts under its plain name too
    assert main(["--unsafe-fixes", "--guards", "team.utils.guarded", str(script)]) == 0
    fixed = script.read_text()
    assert fixed.count("use_multiprocessing=False") == 4
    # make() itself is wrapped where it is used: decorating make would wrap gen,
    # legacy and teams a second time
    assert "def make" in fixed and "@threadsafe_generator" not in fixed
    assert "model.fit(ThreadSafeIterator(make()), workers=2" in fixed
    for name in ("gen", "legacy", "teams"):
        assert f"model.fit({name}(), workers=2, use_multiprocessing=False)" in fixed
