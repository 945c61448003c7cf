"""The fixing chapter of ``safeloader demo``: findings, diff, clean re-lint."""

from __future__ import annotations

import io

from safeloader.demo import CHAPTERS, fixing


def test_chapter_is_registered_after_the_threads_chapter() -> None:
    assert CHAPTERS.index("safeloader.demo.fixing") == CHAPTERS.index("safeloader.demo.threads") + 1


def test_chapter_lints_fixes_and_relints_the_classic_script() -> None:
    out = io.StringIO()
    result = fixing.run({}, out)
    text = out.getvalue()

    assert result == fixing.FixingResult(("SLD301", "SLD101"), ("SLD101", "SLD301"), ())
    before, diff, after = text.split("\n$ ")
    assert before.splitlines()[1].startswith(
        "classic_script.py:25:7: SLD301 fit_generator() is deprecated"
    )
    assert before.splitlines()[2].startswith(
        "classic_script.py:25:21: SLD101 generator 'batch_generator' feeds"
    )
    assert diff.splitlines()[:3] == [
        "safeloader-fix --diff classic_script.py",
        "--- a/classic_script.py",
        "+++ b/classic_script.py",
    ]
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [
        "+from safeloader import threadsafe_generator",
        "+@threadsafe_generator",
        "-model.fit_generator(batch_generator(x, y, 8), 8, 2, verbose=0, workers=3)",
        "+model.fit(batch_generator(x, y, 8), steps_per_epoch=8, epochs=2, verbose=0, workers=3)",
    ]
    assert after.splitlines()[1] == "(no findings)"
