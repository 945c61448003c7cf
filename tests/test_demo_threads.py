"""``safeloader demo``: the chapter runner, and chapter 1 run for real."""

from __future__ import annotations

import io
import sys
import types

import pytest

from safeloader.demo import CHAPTERS, chapter_name, run_demo


def _fake_chapter(monkeypatch, name, title, calls):
    module = types.ModuleType(name)
    module.TITLE = title

    def run(earlier, out):
        calls.append((name, dict(earlier)))
        print(f"{name} speaking", file=out)
        return f"result of {name}"

    module.run = run
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_chapters_run_in_order_and_see_earlier_results(monkeypatch):
    calls: list[tuple[str, dict]] = []
    first = _fake_chapter(monkeypatch, "demo_fake.first", "the first", calls)
    second = _fake_chapter(monkeypatch, "demo_fake.second", "the second", calls)
    out = io.StringIO()
    assert run_demo(out, chapters=(first, second)) == 0
    assert calls == [
        ("demo_fake.first", {}),
        ("demo_fake.second", {"first": "result of demo_fake.first"}),
    ]
    text = out.getvalue()
    assert text.index("Chapter 1: the first") < text.index("demo_fake.first speaking")
    assert text.index("demo_fake.first speaking") < text.index("Chapter 2: the second")


def test_the_threads_chapter_comes_first():
    assert CHAPTERS[0] == "safeloader.demo.threads"
    assert chapter_name(CHAPTERS[0]) == "threads"


def test_a_missing_tensorflow_is_explained(monkeypatch, tmp_path, capsys):
    (tmp_path / "demo_needs_tf.py").write_text("import tf_keras\nTITLE = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tf_keras", None)  # as if not installed
    assert run_demo(io.StringIO(), chapters=("demo_needs_tf",)) == 2
    assert "pip install 'safeloader[tf]'" in capsys.readouterr().err


def test_chapter_one_for_real():
    threads = pytest.importorskip("safeloader.demo.threads")
    out = io.StringIO()
    result = threads.run({}, out)
    text = out.getvalue()

    # The hazard was shown with Keras' own words.
    assert result.failure is not None
    assert "NOT thread-safe" in result.failure
    assert f"Keras stopped: {result.failure}" in text

    # The closing table: one row per loader, rates and ratios as measured.
    table = text[text.index("loader "):].splitlines()
    assert table[0].split() == ["loader", "batches/s", "vs", "lock"]
    assert set(table[1]) == {"-"}
    plain, locked, sharded = table[2:5]
    assert plain.startswith("plain generator, workers=3") and plain.split()[-1] == "fails"
    assert locked.startswith("@threadsafe_generator, workers=3")
    assert locked.split()[-2:] == [f"{result.serialised_rate:.1f}", "1.00x"]
    assert sharded.startswith("sharded_generator(3 shards), workers=3")
    assert sharded.split()[-2:] == [f"{result.sharded_rate:.1f}", f"{result.speedup:.2f}x"]
    assert table[5:] == []

    # Three shards reading at once beat one lock (the size of the win is
    # measured in benchmarks/, not asserted here).
    assert result.serialised_rate > 0
    assert result.sharded_rate > result.serialised_rate
