"""``safeloader bench`` on a tiny record count: its tables, its plot, its errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("matplotlib")

from safeloader.cli import main  # noqa: E402
from safeloader.data import write_tfrecords  # noqa: E402
from safeloader.data.bench import NUM_FILES, synthetic_records  # noqa: E402
from safeloader.data.bench_input_wait import (  # noqa: E402
    CEILING, input_bound_share, measure_input_wait)

NUMBER = r"[\d,.]+"


def test_bench_prints_rates_ratios_memory_and_fit_and_writes_a_plot(tmp_path, capsys):
    plot = tmp_path / "bench.png"
    assert main(["bench", "--records", "320", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    for reader in ("raw read", "naive", "safeloader tfrecord_dataset",
                   "threadsafe_generator, 3 threads"):
        assert re.search(rf"^{re.escape(reader)}.*\s{NUMBER}\s+{NUMBER}x\s+\d+%$", out, re.M), out
    assert re.search(r"^raw read .*\s100%$", out, re.M)
    assert re.search(r"^naive .*\s1\.00x\s", out, re.M)
    assert re.search(rf"targets: loader >= 8x naive \({NUMBER}x\), >= 70% of raw \(\d+%\)", out)
    memory_rows = re.findall(r"^(.*?)\s+(\d+)\s+(-?\d+)$", out.split("peak memory")[1]
                             .split("tf_keras fit")[0], re.M)
    assert len(memory_rows) == 5 and all(int(peak) > 0 for _, peak, _ in memory_rows)
    assert any("1/10 of the data" in name for name, _, _ in memory_rows)
    assert re.search(rf"^fit, threadsafe_generator, workers=3\s+{NUMBER}$", out, re.M)
    assert re.search(rf"^fit, safeloader tfrecord_dataset\s+{NUMBER}$", out, re.M)
    assert re.search(rf"target: loader >= 3x the locked generator \({NUMBER}x\)", out)
    assert re.search(r"^Keras 3 fit, MLP 240-1024-1024-10, tensorflow on CPU$", out, re.M)
    assert re.search(rf"^in-memory arrays \(input costs nothing\)\s+{NUMBER}$", out, re.M)
    for fed in ("safeloader tfrecord_dataset", r"naive \(map"):
        assert re.search(rf"^{fed}.*\s{NUMBER}\s+\d+%$", out.split("Keras 3 fit")[1], re.M), out
    assert re.search(rf"^from_generator, 1 shard\s+{NUMBER}\s+1\.00x$", out, re.M)
    # 320 records in 3 shards: no shard fills a batch of 256, each yields its shorter last one
    assert re.search(rf"^from_generator, 3 shards\s+[1-9][\d,]*\s+{NUMBER}x$", out, re.M)
    assert re.search(rf"^from_generator, 1 shard, 20 ms waits\s+{NUMBER}\s+1\.00x$", out, re.M)
    assert re.search(rf"^from_generator, 4 shards, 20 ms waits\s+{NUMBER}\s+{NUMBER}x$", out, re.M)
    threads_vs_processes = out.split("generators via from_generator")[1]
    for workload in ("Python work", "20 ms waits"):
        rows = threads_vs_processes.split(workload)[1]
        assert re.search(rf"^  1 shard\s+{NUMBER}\s+1\.00x$", rows, re.M), out
        for shards in ("2 thread shards", "2 process shards"):
            assert re.search(rf"^  {shards}\s+{NUMBER}\s+{NUMBER}x$", rows, re.M), out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_input_wait_is_near_zero_for_a_fast_pipeline_and_large_for_a_slow_one():
    def batches(delay: float):
        def build():
            rows = tf.data.Dataset.from_tensors(
                (tf.zeros([32, 4]), tf.zeros([32], tf.int64))).repeat()
            if delay:
                rows = rows.map(lambda x, y: (tf.numpy_function(
                    lambda v: time.sleep(delay) or v, [x], tf.float32, stateful=True), y))
            return rows.map(lambda x, y: (tf.ensure_shape(x, [32, 4]), y))
        return build

    rates = measure_input_wait({"fast": batches(0), "slow": batches(0.05)}, batch_size=32,
                               steps=10, inputs=4, classes=2, hidden=8, skip=2)
    assert list(rates) == [CEILING, "fast", "slow"]
    assert rates["slow"] < 21  # at most one batch per 50 ms
    assert input_bound_share(rates["slow"], rates[CEILING]) > 0.5
    assert input_bound_share(rates["fast"], rates[CEILING]) < input_bound_share(
        rates["slow"], rates[CEILING])
    assert input_bound_share(2.0, 1.0) == 0.0


def test_bench_refuses_too_few_records(capsys):
    assert main(["bench", "--records", str(NUM_FILES)]) == 2
    assert "--records must be at least" in capsys.readouterr().err


def test_bench_data_dir_needs_files_written_by_write_tfrecords(tmp_path):
    write_tfrecords(synthetic_records(20), str(tmp_path / "d"), num_shards=2)
    for name in os.listdir(tmp_path):
        if name.endswith(".index.json"):
            os.remove(tmp_path / name)
    with pytest.raises(ValueError, match="no index with a feature spec"):
        main(["bench", "--data", str(tmp_path)])


def test_import_safeloader_does_not_import_tensorflow():
    code = ("import sys, safeloader, safeloader.cli; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bench_graph_drains_inside_a_tf_function_and_pins_cores(capsys):
    assert main(["bench", "--graph", "--records", "320", "--cores", "1,4096"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^320 records drained inside a tf\.function, best of 5 rounds", out, re.M)
    measured = rf"\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x\s+"  # rec/s, CPU us/rec, vs naive
    for batch in (256, 1024):
        for reader in ("raw read, tf.data defaults", "safeloader tfrecord_dataset"):
            assert re.search(rf"^{reader}, batch {batch}{measured}\d+%$", out, re.M), out
        assert re.search(rf"^raw read, autotuning off, batch {batch}{measured}100%$",
                         out, re.M), out
        assert re.search(rf"^naive \(map\(parse_single_example\)\.batch\), batch {batch}"
                         rf"\s+{NUMBER}\s+{NUMBER}\s+1\.00x\s+\d+%$", out, re.M), out
    assert re.search(rf"^\s+1(\s+{NUMBER}){{3}}\s+\d+%\s+{NUMBER}x$", out, re.M), out
    assert "not measured (this machine has fewer cores): [4096]" in out


def test_the_in_graph_drain_counts_every_record_of_dict_and_tuple_batches():
    from safeloader.data.bench_graph import drain_in_graph, graph_rate

    for element in ({"x": tf.zeros([10, 3])}, (tf.zeros([10]), tf.zeros([10]))):
        build = lambda: tf.data.Dataset.from_tensor_slices(element).batch(4)  # noqa: E731
        assert int(drain_in_graph(build())) == 10
        rate, cpu_per_record = graph_rate(build)
        assert rate > 0 and cpu_per_record >= 0


@pytest.mark.parametrize("cores", ["0", "1,x", ""])
def test_bench_cores_must_be_positive_counts(cores, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--graph", "--cores", cores])
    assert exit_.value.code == 2 and "expected core counts" in capsys.readouterr().err
