"""``safeloader bench --graph``: the loader where Keras consumes it, against the raw read.

Keras runs its training step, the fetch of the next batch included, inside a
``tf.function``: no Python runs per batch. A Python ``for`` loop over small
batches adds an eager ``next()`` (tens of microseconds) per batch, which caps
the measured rate of a fast pipeline. Here each reader is drained by a
``tf.function`` (``Dataset.reduce`` counting rows), with batches of 256 and
1,024 records, and compared with the naive pipeline (``map(parse_single_example)``
then ``batch``) and with the raw read (``TFRecordDataset.batch``: records
framed, not parsed) with tf.data's autotuning model off for both (the loader
turns it off; with it on, the raw read pays for timing every record).

``cores`` measures each reader in a fresh process pinned to the first ``n``
CPUs of this one (``os.sched_setaffinity``, which TensorFlow's thread pools
and the loader's parallelism follow): how the rate scales with cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Mapping, Sequence

import tensorflow as tf

from safeloader.data.reader import tfrecord_dataset

GRAPH_BATCH_SIZES = (256, 1024)
GRAPH_ROUNDS = 5
RAW_AUTOTUNE_ON = "raw read, tf.data defaults"
RAW = "raw read, autotuning off"
NAIVE = "naive (map(parse_single_example).batch)"
LOADER = "safeloader tfrecord_dataset"


def _autotune_off(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def graph_readers(
    files: Sequence[str], spec: Mapping[str, Any], batch_size: int
) -> dict[str, Callable[[], tf.data.Dataset]]:
    """The readers compared, each a function that builds its dataset."""
    return {
        RAW_AUTOTUNE_ON: lambda: tf.data.TFRecordDataset(list(files)).batch(batch_size),
        RAW: lambda: _autotune_off(tf.data.TFRecordDataset(list(files)).batch(batch_size)),
        NAIVE: lambda: tf.data.TFRecordDataset(list(files)).map(
            lambda record: tf.io.parse_single_example(record, spec)).batch(batch_size),
        LOADER: lambda: tfrecord_dataset(list(files), batch_size=batch_size, features=spec),
    }


def _rows(batch: Any) -> tf.Tensor:
    first = tf.nest.flatten(batch)[0]
    return tf.shape(first, out_type=tf.int64)[0]


@tf.function
def drain_in_graph(dataset: tf.data.Dataset) -> tf.Tensor:
    """Read every batch of ``dataset`` inside this ``tf.function``; return the record count."""
    return dataset.reduce(tf.constant(0, tf.int64), lambda count, batch: count + _rows(batch))


def graph_rate(build: Callable[[], tf.data.Dataset]) -> tuple[float, float]:
    """Records per second and microseconds of CPU per record of one in-graph drain of ``build()``.

    A first drain of one batch traces the function (the trace is reused for
    every dataset of the same element spec), so tracing is not timed. The
    CPU time is this process's (all threads), which other processes on a
    busy machine disturb less than the wall-clock rate.
    """
    drain_in_graph(build().take(1))
    dataset = build()  # the loader's file checks happen here, not in the timed drain
    start, cpu_start = time.perf_counter(), time.process_time()
    records = int(drain_in_graph(dataset))
    cpu = time.process_time() - cpu_start
    return records / (time.perf_counter() - start), cpu / records * 1e6


def measure_graph(
    files: Sequence[str], spec: Mapping[str, Any],
    batch_sizes: Sequence[int] = GRAPH_BATCH_SIZES, rounds: int = GRAPH_ROUNDS,
) -> dict[str, tuple[float, float]]:
    """Best records/s and least CPU µs per record of each reader and batch size.

    Over ``rounds`` interleaved rounds; keys are ``"<reader>, batch <size>"``.
    """
    measures = {f"{name}, batch {size}": build
                for size in batch_sizes
                for name, build in graph_readers(files, spec, size).items()}
    best = dict.fromkeys(measures, (0.0, float("inf")))
    for _ in range(rounds):
        for key, build in measures.items():
            rate, cpu = graph_rate(build)
            best[key] = (max(best[key][0], rate), min(best[key][1], cpu))
    return best


def pinned_child(files: Sequence[str], spec_json: str, batch_size: int, rounds: int) -> None:
    """Subprocess side of :func:`measure_cores`: print this process's rates as JSON."""
    from safeloader.data.index import spec_from_json

    spec = spec_from_json(json.loads(spec_json))
    rates = measure_graph(files, spec, batch_sizes=(batch_size,), rounds=rounds)
    print(json.dumps(rates))


def measure_cores(
    files: Sequence[str], described_spec: Any, cores: Sequence[int],
    batch_size: int = GRAPH_BATCH_SIZES[-1], rounds: int = GRAPH_ROUNDS,
) -> dict[int, dict[str, list[float]]]:
    """Rates of each reader in a fresh process pinned to the first ``n`` CPUs, for each ``n``.

    ``described_spec`` is the feature spec as the writer's index stores it.
    Core counts above what this process may use are skipped.
    """
    available = sorted(os.sched_getaffinity(0))
    code = ("import sys, json; from safeloader.data.bench_graph import pinned_child; "
            "pinned_child(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), "
            "int(sys.argv[4]))")
    found: dict[int, dict[str, list[float]]] = {}
    for count in cores:
        if count > len(available):
            continue
        pinned = set(available[:count])
        result = subprocess.run(
            [sys.executable, "-c", code, json.dumps(list(files)), json.dumps(described_spec),
             str(batch_size), str(rounds)],
            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            preexec_fn=lambda: os.sched_setaffinity(0, pinned), check=False)
        if result.returncode != 0:
            raise RuntimeError(f"the {count}-core measure failed:\n{result.stderr[-2000:]}")
        found[count] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _rate_of(found: Mapping[str, Sequence[float]], reader: str) -> float:
    return next(rate for key, (rate, _) in found.items() if key.startswith(reader))


def format_graph_report(
    records: int, rates: Mapping[str, tuple[float, float]],
    cores: Mapping[int, Mapping[str, Sequence[float]]], requested_cores: Sequence[int],
) -> str:
    """The printed tables: in-graph rates and CPU per record per batch size, then per core count."""
    lines = [f"{records} records drained inside a tf.function, best of {GRAPH_ROUNDS} rounds, "
             f"{len(os.sched_getaffinity(0))} cores",
             f"{'reader':<52}  {'records/s':>10}  {'CPU us/rec':>10}  {'vs naive':>8}  "
             f"{'vs raw (autotuning off)':>23}"]
    for key, (rate, cpu) in rates.items():
        batch = key.rsplit(", ", 1)[1]
        naive, raw = rates[f"{NAIVE}, {batch}"][0], rates[f"{RAW}, {batch}"][0]
        lines.append(f"{key:<52}  {rate:>10,.0f}  {cpu:>10.2f}  {rate / naive:>7.2f}x  "
                     f"{rate / raw:>23.0%}")
    if requested_cores:
        lines += ["", f"{'cores':>5}  {'raw rec/s':>10}  {'naive rec/s':>11}  "
                      f"{'loader rec/s':>12}  {'loader / raw':>12}  {'loader / naive':>14}"]
        for count, found in cores.items():
            raw, naive, ours = (_rate_of(found, name) for name in (RAW + ",", NAIVE, LOADER))
            lines.append(f"{count:>5}  {raw:>10,.0f}  {naive:>11,.0f}  {ours:>12,.0f}  "
                         f"{ours / raw:>12.0%}  {ours / naive:>13.2f}x")
        skipped = [count for count in requested_cores if count not in cores]
        if skipped:
            lines.append(f"not measured (this machine has fewer cores): {skipped}")
    return "\n".join(lines)
