"""The loader chapter of ``safeloader demo``: trains from TFRecords and compares its rate."""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras")

from safeloader.demo import CHAPTERS  # noqa: E402
from safeloader.demo import loader  # noqa: E402
from safeloader.demo.threads import ThreadsResult  # noqa: E402


def test_loader_comes_right_before_the_doctors_chapter():
    assert CHAPTERS[-2:] == ("safeloader.demo.loader", "safeloader.demo.doctor")


def test_chapter_trains_from_tfrecords_and_compares_with_the_threads_chapter():
    threads = ThreadsResult(failure="RuntimeError", serialised_rate=10.0, sharded_rate=25.0)
    out = io.StringIO()
    result = loader.run({"threads": threads}, out)
    text = out.getvalue()
    assert result.rate > 0
    assert result.vs_lock == pytest.approx(result.rate / 10.0)
    assert result.vs_sharded == pytest.approx(result.rate / 25.0)
    assert "write_tfrecords" in text and "tfrecord_dataset" in text
    row = re.search(r"tfrecord_dataset \(tf\.data\)\s+([\d.]+)\s+([\d.]+)x", text)
    assert row and float(row.group(1)) == pytest.approx(result.rate, abs=0.06)
    assert float(row.group(2)) == pytest.approx(result.vs_lock, abs=0.006)
    assert re.search(r"@threadsafe_generator, workers=3\s+10\.0\s+1\.00x", text)
    assert re.search(r"sharded_generator, workers=3\s+25\.0\s+2\.50x", text)


def test_table_without_the_threads_chapter_shows_no_ratio():
    table = loader.format_table(loader.LoaderResult(42.0, None, None), None)
    assert re.search(r"tfrecord_dataset \(tf\.data\)\s+42\.0\s+-$", table)
    assert "threadsafe" not in table
