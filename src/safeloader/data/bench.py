"""``safeloader bench``: the TFRecord loader against what users would otherwise write.

On one TFRecord set (synthetic, or ``--data DIR``) and in one run, it measures:

- records per second of four readers, interleaved over several rounds (the
  best round counts, which filters out noise from other processes): the raw
  read ceiling (``TFRecordDataset(files).batch(b)``: records framed, not
  parsed), the naive pipeline (``map(parse_single_example)`` then ``batch``),
  :func:`~safeloader.data.tfrecord_dataset`, and a Python generator behind
  :func:`~safeloader.threadsafe_generator` drained by three threads;
- peak memory (``VmHWM``) of each reader in a process of its own, and of the
  loader with a shuffle buffer on a tenth of the records and on all of them;
- tf_keras ``fit`` steps per second of a tiny model fed by the loader and by
  the locked generator with ``workers=3``;
- Keras 3 ``fit`` steps per second of a larger model on whatever device its
  backend trains on (a GPU with ``KERAS_BACKEND=jax`` where there is one), fed
  by in-memory arrays, the loader and the naive pipeline, and the share of
  step time each pipeline leaves the model waiting for input;
- the same Python generator through :func:`~safeloader.data.from_generator`
  with one shard and with three (its decoding holds the GIL: this shows how
  little threads give such a generator), and a generator whose items are
  GIL-free waits (:data:`WAIT_SECONDS` each, like reading files) with one
  shard and with :data:`WAIT_SHARDS`, where the shard threads overlap;
- threads against processes (``from_generator(..., processes=True)``): a
  generator doing Python work that holds the GIL and one of GIL-free waits
  (:mod:`safeloader.runtime.shard_workloads`), with one shard, :data:`PROCESS_SHARDS`
  thread shards and as many process shards.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from safeloader import threadsafe_generator
from safeloader.data.bench_graph import format_graph_report, measure_cores, measure_graph
from safeloader.data.bench_input_wait import (
    CEILING,
    input_bound_share,
    keras_device,
    measure_input_wait,
)
from safeloader.data.files import check_file, resolve_files
from safeloader.data.generators import from_generator
from safeloader.data.index import spec_from_json
from safeloader.data.reader import tfrecord_dataset
from safeloader.data.writer import write_tfrecords
from safeloader.runtime.shard_workloads import ITEM_FLOATS, python_work, waits

BATCH_SIZE = 256
NUM_FILES = 16
FEATURE_FLOATS = 240  # float32 values per record: about 1 KiB with the framing
CLASSES = 10
ROUNDS = 5
THREADS = 3
SHUFFLE_BUFFER = 10_000
SLOW_LIMIT = 20_000  # records per round for the two slow readers
FIT_STEPS = 60  # timed fit steps (fewer when the records give fewer batches)
KERAS3_STEPS = 200  # timed Keras 3 fit steps of the input-wait measure (likewise)
KERAS3_HIDDEN = 1024  # width of that model's two hidden layers
WAIT_SECONDS = 0.02  # the GIL-free generator's wait an item
WAIT_SHARDS = 4
WAIT_ITEMS = 60  # items a round of the GIL-free generator
WAIT_ROUNDS = 2
PROCESS_SHARDS = 2  # thread or process shards against one shard
PROCESS_ITEMS = 40  # items timed a round, after one from each shard (start-up excluded)
PROCESS_ROUNDS = 2
PYTHON_STEPS = 20_000  # math calls in Python an item of the GIL-bound generator

RAW, NAIVE, LOADER, GENERATOR = (
    "raw read (TFRecordDataset.batch)",
    "naive (map(parse_single_example).batch)",
    "safeloader tfrecord_dataset",
    f"threadsafe_generator, {THREADS} threads",
)


def synthetic_records(count: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``count`` records of about 1 KiB: ``x`` (240 float32) and a class ``y``."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield {"x": rng.random(FEATURE_FLOATS, dtype=np.float32), "y": i % CLASSES}


def _spec_of(files: list[str]) -> dict[str, Any]:
    described = check_file(files[0], "auto").features
    if not described:
        raise ValueError(
            f"{files[0]!r} has no index with a feature spec: --data expects files "
            f"written by safeloader.data.write_tfrecords"
        )
    return spec_from_json(described)


def _raw(files: list[str], spec: Mapping[str, Any]) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(files).batch(BATCH_SIZE)


def _naive(files: list[str], spec: Mapping[str, Any]) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(files).map(
        lambda record: tf.io.parse_single_example(record, spec)).batch(BATCH_SIZE)


def _loader(files: list[str], spec: Mapping[str, Any], **options: Any) -> tf.data.Dataset:
    return tfrecord_dataset(files, batch_size=BATCH_SIZE, features=spec, **options)


def _python_batches(files: list[str], forever: bool = False) -> Iterator[dict[str, np.ndarray]]:
    """What a generator user writes: read records, decode each in Python, stack a batch.

    Every pass over the files ends with its last, shorter batch.
    """
    while True:
        rows: dict[str, list] = {}
        for record in tf.data.TFRecordDataset(files).as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                rows.setdefault(name, []).append(getattr(feature, kind).value)
            if len(rows[next(iter(rows))]) == BATCH_SIZE:
                yield {name: np.asarray(values) for name, values in rows.items()}
                rows = {}
        if rows:
            yield {name: np.asarray(values) for name, values in rows.items()}
        if not forever:
            return


def _python_xy(files: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for batch in _python_batches(files, forever=True):
        yield batch["x"], batch["y"][:, 0]


def _rows(batch: Any) -> int:
    return int(len(next(iter(batch.values())) if isinstance(batch, dict) else batch))


def _dataset_rate(dataset: tf.data.Dataset, limit: int | None) -> float:
    if limit is not None:
        dataset = dataset.take(math.ceil(limit / BATCH_SIZE))
    start, rows = time.perf_counter(), 0
    for batch in dataset:
        rows += _rows(batch)
    return rows / (time.perf_counter() - start)


def _threaded_generator_rate(files: list[str], limit: int) -> float:
    batches = threadsafe_generator(_python_batches)(files)
    counts = [0] * THREADS

    def drain(slot: int) -> None:
        for batch in batches:
            counts[slot] += _rows(batch)
            if sum(counts) >= limit:
                return

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def measure_rates(files: list[str], spec: Mapping[str, Any], records: int) -> dict[str, float]:
    """Records per second of the four readers: best of :data:`ROUNDS` interleaved rounds."""
    slow = min(records, SLOW_LIMIT)
    measures: dict[str, Callable[[], float]] = {
        RAW: lambda: _dataset_rate(_raw(files, spec), None),
        NAIVE: lambda: _dataset_rate(_naive(files, spec), slow),
        LOADER: lambda: _dataset_rate(_loader(files, spec), None),
        GENERATOR: lambda: _threaded_generator_rate(files, slow),
    }
    best = dict.fromkeys(measures, 0.0)
    for _ in range(ROUNDS):
        for name, measure in measures.items():
            best[name] = max(best[name], measure())
    return best


def measure_from_generator(files: list[str], records: int) -> dict[str, float]:
    """Records per second of the Python generator through ``from_generator``: 1 vs 3 shards.

    Each shard decodes its own files (``files[i::n]``); best of :data:`ROUNDS`.
    """
    signature = (tf.TensorSpec([None, FEATURE_FLOATS], tf.float32),
                 tf.TensorSpec([None], tf.int64))

    def shard(shard_index: int, num_shards: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in _python_batches(files[shard_index::num_shards]):
            yield batch["x"].astype(np.float32), batch["y"][:, 0]

    limit = min(records, SLOW_LIMIT)
    best = {f"from_generator, {n} shard{'s' if n > 1 else ''}": 0.0 for n in (1, THREADS)}
    for _ in range(ROUNDS):
        for name, shards in zip(best, (1, THREADS)):
            dataset = from_generator(shard, signature, num_shards=shards, deterministic=False)
            start, rows = time.perf_counter(), 0
            for x, _ in dataset.take(math.ceil(limit / BATCH_SIZE)):
                rows += int(x.shape[0])
            best[name] = max(best[name], rows / (time.perf_counter() - start))
    return best


def measure_waiting_generator() -> dict[str, float]:
    """Items per second of a GIL-free generator through ``from_generator``: 1 vs 4 shards.

    Counted after the first item (the threads' start-up and tf.data's own
    iterator creation excluded); best of :data:`WAIT_ROUNDS`.
    """
    def shard(shard_index: int, num_shards: int) -> Iterator[int]:
        for index in range(shard_index, WAIT_ITEMS, num_shards):
            time.sleep(WAIT_SECONDS)  # releases the GIL, like a file read
            yield index

    best = {f"from_generator, {n} shard{'s' if n > 1 else ''}, "
            f"{WAIT_SECONDS * 1e3:.0f} ms waits": 0.0 for n in (1, WAIT_SHARDS)}
    for _ in range(WAIT_ROUNDS):
        for name, shards in zip(best, (1, WAIT_SHARDS)):
            items = iter(from_generator(shard, tf.TensorSpec([], tf.int64), num_shards=shards))
            next(items)
            start = time.perf_counter()
            count = sum(1 for _ in items)
            best[name] = max(best[name], count / (time.perf_counter() - start))
    return best


def measure_threads_vs_processes() -> dict[str, dict[str, float]]:
    """Items per second through ``from_generator``: one shard, thread shards, process shards.

    For a GIL-bound and a GIL-free generator; counted after one item from
    each shard (the processes' start-up excluded); best of :data:`PROCESS_ROUNDS`.
    """
    workloads = {
        f"Python work, {PYTHON_STEPS:,} math calls an item (holds the GIL)":
            functools.partial(python_work, steps=PYTHON_STEPS),
        f"{WAIT_SECONDS * 1e3:.0f} ms waits an item (GIL released)":
            functools.partial(waits, seconds=WAIT_SECONDS),
    }
    variants = [("1 shard", 1, False), (f"{PROCESS_SHARDS} thread shards", PROCESS_SHARDS, False),
                (f"{PROCESS_SHARDS} process shards", PROCESS_SHARDS, True)]
    signature = tf.TensorSpec([ITEM_FLOATS], tf.float32)
    results = {}
    for label, work in workloads.items():
        best = {name: 0.0 for name, _, _ in variants}
        for _ in range(PROCESS_ROUNDS):
            for name, shards, processes in variants:
                fn = functools.partial(work, items=shards + PROCESS_ITEMS)
                items = iter(from_generator(fn, signature, num_shards=shards, processes=processes))
                for _ in range(shards):
                    next(items)
                start = time.perf_counter()
                count = sum(1 for _ in items)
                best[name] = max(best[name], count / (time.perf_counter() - start))
        results[label] = best
    return results


def format_processes_report(results: Mapping[str, Mapping[str, float]]) -> str:
    """The threads-against-processes table: items/s and the ratio to one shard."""
    width = 44
    lines = [f"{'generators via from_generator':<{width}}  {'items/s':>10}  {'vs 1':>8}"]
    for label, rates in results.items():
        one = rates["1 shard"]
        lines.append(label)
        lines += [f"  {name:<{width - 2}}  {rate:>10,.1f}  {rate / one:>7.2f}x"
                  for name, rate in rates.items()]
    return "\n".join(lines)


def _vm_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+)", status.read()).group(1))


def memory_probe(variant: str, files: list[str]) -> None:
    """Drain one reader over ``files`` and print its peak memory as JSON (subprocess side)."""
    spec = _spec_of(files)
    readers: dict[str, Callable[[], Any]] = {
        RAW: lambda: _raw(files, spec),
        NAIVE: lambda: _naive(files, spec),
        LOADER: lambda: _loader(files, spec, shuffle_buffer=SHUFFLE_BUFFER),
        GENERATOR: lambda: threadsafe_generator(_python_batches)(files),
    }
    source = readers[variant]()
    baseline = _vm_kib("VmRSS")
    for _ in source:
        pass
    print(json.dumps({"baseline_mib": baseline / 1024, "peak_mib": _vm_kib("VmHWM") / 1024}))


def _start_probe(variant: str, files: list[str]) -> subprocess.Popen:
    code = "import sys, json; from safeloader.data.bench import memory_probe; " \
           "memory_probe(sys.argv[1], json.loads(sys.argv[2]))"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-c", code, variant, json.dumps(files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def measure_memory(files: list[str], tenth: list[str]) -> dict[str, dict[str, float]]:
    """Peak memory of each reader, each in a fresh process; the loader on a tenth and on all.

    The probes run at the same time: each reports its own process's peak.
    """
    probes = {name: _start_probe(name, files) for name in (RAW, NAIVE, GENERATOR)}
    for label, subset in (("1/10 of the data", tenth), ("all the data", files)):
        mib = sum(os.path.getsize(path) for path in subset) / 2**20
        probes[f"{LOADER}, shuffle {SHUFFLE_BUFFER}, {label} ({mib:,.0f} MiB)"] = _start_probe(
            LOADER, subset)
    found = {}
    for name, probe in probes.items():
        stdout, stderr = probe.communicate()
        if probe.returncode != 0:
            raise RuntimeError(f"memory probe {name!r} failed:\n{stderr[-2000:]}")
        found[name] = json.loads(stdout.strip().splitlines()[-1])
    return found


def measure_fit(files: list[str], spec: Mapping[str, Any], steps: int) -> dict[str, float]:
    """tf_keras ``fit`` steps per second: the loader vs the locked generator with workers=3."""
    import tf_keras

    def model() -> Any:
        tf_keras.utils.set_random_seed(0)
        net = tf_keras.Sequential([
            tf_keras.layers.Dense(16, activation="relu", input_shape=(FEATURE_FLOATS,)),
            tf_keras.layers.Dense(CLASSES, activation="softmax"),
        ])
        net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return net

    def steps_per_second(source: Callable[[], Any], **fit_options: Any) -> float:
        net = model()
        net.fit(source(), steps_per_epoch=3, epochs=1, verbose=0, **fit_options)  # trace
        start = time.perf_counter()
        net.fit(source(), steps_per_epoch=steps, epochs=1, verbose=0, **fit_options)
        return steps / (time.perf_counter() - start)

    def loader() -> tf.data.Dataset:
        dataset = _loader(files, spec, label_key="y", repeat=True, shuffle_buffer=SHUFFLE_BUFFER)
        return dataset.map(lambda features, label: (features["x"], label))

    generator_rate = steps_per_second(lambda: threadsafe_generator(_python_xy)(files),
                                      workers=THREADS, use_multiprocessing=False)
    return {
        f"fit, {GENERATOR.split(',')[0]}, workers={THREADS}": generator_rate,
        f"fit, {LOADER}": steps_per_second(loader),
    }


def measure_keras3_fit(files: list[str], spec: Mapping[str, Any], steps: int) -> dict[str, float]:
    """Keras 3 ``fit`` steps per second: in-memory arrays, the loader, the naive pipeline."""
    def loader() -> tf.data.Dataset:
        dataset = _loader(files, spec, label_key="y", repeat=True, shuffle_buffer=SHUFFLE_BUFFER)
        return dataset.map(lambda features, label: (features["x"], label))

    def naive() -> tf.data.Dataset:
        return _naive(files, spec).map(lambda features: (features["x"], features["y"])).repeat()

    return measure_input_wait({LOADER: loader, NAIVE: naive}, batch_size=BATCH_SIZE,
                              steps=steps, inputs=FEATURE_FLOATS, classes=CLASSES,
                              hidden=KERAS3_HIDDEN, skip=min(20, steps))


def format_report(
    records: int, rates: Mapping[str, float], memory: Mapping[str, Mapping[str, float]],
    fit: Mapping[str, float], generators: Mapping[str, float],
    keras3: Mapping[str, float], device: str, waits: Mapping[str, float],
) -> str:
    """The printed tables: rates and ratios, peak memory, fit steps/s, input wait, generators."""
    naive, raw, ours = rates[NAIVE], rates[RAW], rates[LOADER]
    width = max(len(name) for name in [*rates, *memory, *fit, *keras3])
    lines = [f"{records} records, batch {BATCH_SIZE}, best of {ROUNDS} rounds",
             f"{'reader':<{width}}  {'records/s':>10}  {'vs naive':>8}  {'vs raw':>7}"]
    lines += [f"{name:<{width}}  {rate:>10,.0f}  {rate / naive:>7.2f}x  {rate / raw:>6.0%}"
              for name, rate in rates.items()]
    lines += [f"targets: loader >= 8x naive ({ours / naive:.1f}x), "
              f">= 70% of raw ({ours / raw:.0%})", "",
              f"{'peak memory (own process)':<{width}}  {'peak MiB':>10}  {'growth':>8}"]
    lines += [f"{name:<{width}}  {m['peak_mib']:>10.0f}  {m['peak_mib'] - m['baseline_mib']:>8.0f}"
              for name, m in memory.items()]
    (generator_name, generator_rate), (loader_name, loader_rate) = fit.items()
    lines += ["", f"{'tf_keras fit, tiny model':<{width}}  {'steps/s':>10}"]
    lines += [f"{name:<{width}}  {rate:>10.1f}" for name, rate in fit.items()]
    lines.append(f"target: loader >= 3x the locked generator ({loader_rate / generator_rate:.1f}x)")
    model = f"{FEATURE_FLOATS}-{KERAS3_HIDDEN}-{KERAS3_HIDDEN}-{CLASSES}"
    lines += ["", f"Keras 3 fit, MLP {model}, {device}",
              f"{'feeding the model':<{width}}  {'steps/s':>10}  {'waiting for input':>17}"]
    for name, rate in keras3.items():
        waiting = "" if name == CEILING else f"{input_bound_share(rate, keras3[CEILING]):.0%}"
        lines.append(f"{name:<{width}}  {rate:>10.1f}  {waiting:>17}".rstrip())
    one = next(iter(generators.values()))
    lines += ["", f"{'Python generator via from_generator':<{width}}  {'records/s':>10}  "
                  f"{'vs 1':>8}"]
    lines += [f"{name:<{width}}  {rate:>10,.0f}  {rate / one:>7.2f}x"
              for name, rate in generators.items()]
    one = next(iter(waits.values()))
    lines += ["", f"{'GIL-free generator via from_generator':<{width}}  {'items/s':>10}  "
                  f"{'vs 1':>8}"]
    lines += [f"{name:<{width}}  {rate:>10,.1f}  {rate / one:>7.2f}x"
              for name, rate in waits.items()]
    return "\n".join(lines)


def write_plot(path: str, rates: Mapping[str, float], fit: Mapping[str, float]) -> None:
    """Write a bar chart of records/s and fit steps/s to ``path`` (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError as error:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from error
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FuncFormatter

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 4.5),
                                            gridspec_kw={"width_ratios": [2, 1]})
    left.barh(list(rates), list(rates.values()), color="tab:blue")
    left.set_xlabel("records per second")
    left.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:,.0f}k"))
    left.invert_yaxis()
    right.barh(list(fit), list(fit.values()), color="tab:orange")
    right.set_xlabel("tf_keras fit steps per second")
    right.invert_yaxis()
    figure.suptitle("safeloader bench")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def run_bench(records: int = 100_000, data_dir: str | None = None, plot: str | None = None,
              graph: bool = False, cores: Sequence[int] = ()) -> int:
    """Run ``safeloader bench``; print the report; return the exit status.

    ``graph`` (or ``cores``) measures only the loader against the raw read
    inside a ``tf.function`` (see :mod:`safeloader.data.bench_graph`).
    """
    if records < 10 * NUM_FILES and data_dir is None:
        print(f"safeloader bench: --records must be at least {10 * NUM_FILES}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="safeloader-bench-") as work:
        if data_dir is None:
            print(f"writing {records} records of about 1 KiB into {NUM_FILES} files...",
                  flush=True)
            files = write_tfrecords(synthetic_records(records), os.path.join(work, "all"),
                                    num_shards=NUM_FILES)
            tenth = write_tfrecords(synthetic_records(records // 10, seed=1),
                                    os.path.join(work, "tenth"), num_shards=NUM_FILES)
        else:
            files = resolve_files(os.path.join(data_dir, "*.tfrecord"))
            tenth = files[:max(1, len(files) // 10)]
            records = sum(check_file(path, "auto").records for path in files)
        spec = _spec_of(files)
        if graph or cores:
            in_graph = measure_graph(files, spec)
            per_cores = measure_cores(files, check_file(files[0], "auto").features, cores)
            print(format_graph_report(records, in_graph, per_cores, cores), flush=True)
            return 0
        rates = measure_rates(files, spec, records)
        memory = measure_memory(files, tenth)
        fit = measure_fit(files, spec, steps=min(FIT_STEPS, max(5, records // BATCH_SIZE)))
        keras3 = measure_keras3_fit(files, spec,
                                    steps=min(KERAS3_STEPS, max(5, records // BATCH_SIZE)))
        generators = measure_from_generator(files, records)
    waits = measure_waiting_generator()
    processes = measure_threads_vs_processes()
    print(format_report(records, rates, memory, fit, generators, keras3, keras_device(), waits),
          flush=True)
    print("\n" + format_processes_report(processes), flush=True)
    if plot:
        try:
            write_plot(plot, rates, fit)
        except RuntimeError as error:
            print(f"safeloader bench: {error}", file=sys.stderr)
            return 2
        print(f"plot written to {plot}")
    return 0
