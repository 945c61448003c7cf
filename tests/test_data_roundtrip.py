"""Write then read TFRecords with safeloader.data: every record exactly once, in every mode."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from safeloader.data import (  # noqa: E402
    from_generator, tfrecord_dataset, tfrecord_dataset_fn, write_tfrecords)

N = 103  # not a multiple of any batch size or shard count used below


def make_records(n: int = N):
    for i in range(n):
        yield {"id": i, "x": np.full((2, 3), i, np.float32), "name": f"r{i}",
               "raw": bytes([i % 256])}


def ids_of(dataset) -> list[int]:
    return [int(i) for batch in dataset for i in batch["id"].numpy()]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("plain") / "part")
    return write_tfrecords(make_records(), prefix, num_shards=4)


def test_writer_names_shards_and_infers_the_spec(tmp_path):
    paths, spec = write_tfrecords(make_records(5), str(tmp_path / "s"), num_shards=2,
                                  return_spec=True)
    assert [os.path.basename(p) for p in paths] == [
        "s-00000-of-00002.tfrecord", "s-00001-of-00002.tfrecord"]
    assert spec["id"] == tf.io.FixedLenFeature([], tf.int64)
    assert spec["x"] == tf.io.FixedLenFeature([2, 3], tf.float32)
    assert spec["name"] == tf.io.FixedLenFeature([], tf.string)
    assert spec["raw"] == tf.io.FixedLenFeature([], tf.string)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(p) for p in paths] + [os.path.basename(p) + ".index.json" for p in paths])


def test_values_of_varying_shape_come_back_ragged(tmp_path):
    records = [{"tokens": np.arange(i, dtype=np.int64), "y": float(i)} for i in range(1, 6)]
    paths, spec = write_tfrecords(records, str(tmp_path / "r"), return_spec=True)
    assert isinstance(spec["tokens"], tf.io.RaggedFeature)
    batch = next(iter(tfrecord_dataset(paths, batch_size=5, deterministic=True)))
    assert batch["tokens"].to_list() == [list(range(i)) for i in range(1, 6)]
    assert batch["y"].numpy().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("compression, shuffle_buffer",
                         [(None, 0), (None, 40), ("GZIP", 40), ("ZLIB", 0)])
def test_every_record_once_per_epoch(tmp_path, compression, shuffle_buffer):
    paths = write_tfrecords(make_records(), str(tmp_path / "c"), num_shards=3,
                            compression=compression)
    dataset = tfrecord_dataset(str(tmp_path / "c-*"), batch_size=10, repeat=2,
                               shuffle_buffer=shuffle_buffer, seed=3)
    ids = ids_of(dataset)
    assert sorted(ids) == sorted(list(range(N)) * 2)
    assert sorted(ids[:N]) == list(range(N)), "an epoch must not mix with the next"
    first = next(iter(tfrecord_dataset(paths, batch_size=N)))
    assert first["x"].shape == (N, 2, 3)
    assert {int(i): float(x[0, 0]) for i, x in zip(first["id"], first["x"])} == {
        i: float(i) for i in range(N)}
    assert sorted(n.decode() for n in first["name"].numpy()) == sorted(f"r{i}" for i in range(N))


def test_shuffle_changes_order_and_seed_repeats_it(shards):
    def order(seed):
        return ids_of(tfrecord_dataset(shards, batch_size=8, shuffle_buffer=50, seed=seed,
                                       deterministic=True))
    plain = ids_of(tfrecord_dataset(shards, batch_size=8, deterministic=True))
    assert order(1) == order(1)
    assert order(1) != plain and sorted(order(1)) == sorted(plain)


def test_deterministic_order_interleaves_files_by_batch(shards):
    first = ids_of(tfrecord_dataset(shards, batch_size=5, deterministic=True))
    assert first == ids_of(tfrecord_dataset(shards, batch_size=5, deterministic=True))
    assert sorted(first) == list(range(N))


def test_files_may_be_a_list_of_paths_and_globs(shards):
    pattern = shards[0].replace("00000-of", "0000[12]-of")
    dataset = tfrecord_dataset([shards[0], pattern], batch_size=7)
    expected = [i for i in range(N) if i % 4 in (0, 1, 2)]
    assert sorted(ids_of(dataset)) == expected


def test_globs_skip_indexes_and_unfinished_writes(shards):
    folder = os.path.dirname(shards[0])
    open(os.path.join(folder, "part-00009-of-00010.tfrecord.tmp-123"), "wb").close()
    open(os.path.join(folder, "x.index.json.tmp-45"), "wb").close()
    try:
        assert sorted(ids_of(tfrecord_dataset(os.path.join(folder, "*"), batch_size=50))) == \
            list(range(N))
    finally:
        os.remove(os.path.join(folder, "part-00009-of-00010.tfrecord.tmp-123"))
        os.remove(os.path.join(folder, "x.index.json.tmp-45"))


def test_batches_have_batch_size_and_drop_remainder_drops_the_tail(shards):
    sizes = [len(b["id"]) for b in tfrecord_dataset(shards, batch_size=10)]
    assert sizes == [10] * 10 + [3]
    sizes = [len(b["id"]) for b in tfrecord_dataset(shards, batch_size=10, drop_remainder=True)]
    assert sizes == [10] * 10
    shuffled = tfrecord_dataset(shards, batch_size=10, shuffle_buffer=20, drop_remainder=True)
    assert [len(b["id"]) for b in shuffled] == [10] * 10


def test_no_empty_batch_in_any_mode(tmp_path, shards):
    # Each file's reader ends with an empty marker batch: no mode may pass it on.
    ragged = write_tfrecords(({"id": i, "v": np.arange(i % 4, dtype=np.int64)} for i in range(N)),
                             str(tmp_path / "ragged"), num_shards=3)
    modes = [
        tfrecord_dataset(shards, batch_size=10, deterministic=True),
        tfrecord_dataset(shards, batch_size=10, label_key="id"),
        tfrecord_dataset(ragged, batch_size=10),
        tfrecord_dataset(shards[:1], batch_size=10, num_shards=2, shard_index=1),
        tfrecord_dataset(shards, batch_size=10, parse_fn=lambda r: tf.io.parse_single_example(
            r, {"id": tf.io.FixedLenFeature([], tf.int64)})),
    ]
    for dataset in modes:
        sizes = [len(tf.nest.flatten(batch)[0]) for batch in dataset]
        assert sizes and all(size > 0 for size in sizes), sizes
        # Not deterministic: the parse map may hand on the short batch early.
        assert sorted(sizes, reverse=True)[:-1] == [10] * (len(sizes) - 1), sizes


def test_label_key_gives_feature_label_tuples(shards):
    features, label = next(iter(tfrecord_dataset(shards, batch_size=4, label_key="id")))
    assert "id" not in features and set(features) == {"x", "name", "raw"}
    assert np.array_equal(features["x"][:, 0, 0].numpy(), label.numpy().astype(np.float32))


def test_explicit_features_select_what_is_parsed(shards):
    spec = {"id": tf.io.FixedLenFeature([], tf.int64)}
    batch = next(iter(tfrecord_dataset(shards, batch_size=4, features=spec)))
    assert set(batch) == {"id"}


def test_parse_fn_parses_each_record(shards):
    def parse(record):
        parsed = tf.io.parse_single_example(record, {"id": tf.io.FixedLenFeature([], tf.int64)})
        return {"id": parsed["id"], "double": parsed["id"] * 2}

    batches = list(tfrecord_dataset(shards, batch_size=9, parse_fn=parse, label_key="double"))
    ids = [int(i) for features, _ in batches for i in features["id"]]
    doubles = [int(d) for _, label in batches for d in label]
    assert sorted(ids) == list(range(N)) and sorted(doubles) == [2 * i for i in range(N)]


@pytest.mark.parametrize("shuffle_buffer", [0, 30])
def test_cache_in_memory_and_on_disk_keeps_every_record(shards, tmp_path, shuffle_buffer):
    for cache in (True, str(tmp_path / "cache")):
        dataset = tfrecord_dataset(shards, batch_size=16, cache=cache, repeat=3,
                                   shuffle_buffer=shuffle_buffer)
        assert sorted(ids_of(dataset)) == sorted(list(range(N)) * 3)
    assert any(name.startswith("cache") for name in os.listdir(tmp_path))


@pytest.mark.parametrize("num_shards", [2, 4, 3, 7])
def test_shards_split_every_record_exactly_once(shards, num_shards):
    # 4 files: by file for 2, 3 and 4 shards, by record for 7.
    parts = [ids_of(tfrecord_dataset(shards, batch_size=8, num_shards=num_shards,
                                     shard_index=i)) for i in range(num_shards)]
    assert sorted(i for part in parts for i in part) == list(range(N))
    assert all(parts), "every shard gets records"


@pytest.mark.parametrize("kwargs, batches", [
    ({}, 11), ({"drop_remainder": True}, 10), ({"shuffle_buffer": 9}, 11),
    ({"num_shards": 2, "shard_index": 0}, 6), ({"num_shards": 7, "shard_index": 6}, 2),
])
def test_the_epoch_length_is_known(shards, kwargs, batches):
    dataset = tfrecord_dataset(shards, batch_size=10, **kwargs)
    assert int(dataset.cardinality()) == batches == len(list(dataset))


def test_sharding_by_file_reads_whole_files(shards):
    part = ids_of(tfrecord_dataset(shards, batch_size=8, num_shards=2, shard_index=1))
    assert sorted(part) == [i for i in range(N) if i % 4 in (1, 3)]


def test_sharding_by_record_is_balanced(shards):
    sizes = [len(ids_of(tfrecord_dataset(shards[:1], batch_size=4, num_shards=3,
                                         shard_index=i))) for i in range(3)]
    assert sum(sizes) == 26 and max(sizes) - min(sizes) <= 1


def test_prefetch_to_device_auto_is_a_no_op_without_gpu(shards):
    assert not tf.config.list_logical_devices("GPU")
    auto = tfrecord_dataset(shards, batch_size=8, prefetch_to_device="auto")
    assert sorted(ids_of(auto)) == list(range(N))
    assert type(auto).__name__ == "_PrefetchDataset"


def test_prefetch_to_an_explicit_device(shards):
    dataset = tfrecord_dataset(shards, batch_size=8, prefetch_to_device="/cpu:0")
    assert type(dataset._input_dataset).__name__ == "_CopyToDeviceDataset"
    assert sorted(ids_of(dataset)) == list(range(N))


def test_files_from_other_writers_are_walked_and_compression_detected(tmp_path):
    for codec in ("", "GZIP"):
        path = str(tmp_path / f"foreign{codec}.tfrecord")
        with tf.io.TFRecordWriter(path, options=codec) as writer:
            for i in range(20):
                example = tf.train.Example(features=tf.train.Features(feature={
                    "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}))
                writer.write(example.SerializeToString())
    dataset = tfrecord_dataset(str(tmp_path / "foreign*"), batch_size=6,
                               features={"id": tf.io.FixedLenFeature([], tf.int64)})
    assert sorted(ids_of(dataset)) == sorted(list(range(20)) * 2)


def test_interrupted_write_leaves_no_shard(tmp_path):
    def failing():
        yield from make_records(10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_tfrecords(failing(), str(tmp_path / "w"), num_shards=2)
    assert os.listdir(tmp_path) == []


def test_from_generator_runs_every_shard(tmp_path):
    def fn(shard_index, num_shards):
        assert isinstance(shard_index, int) and isinstance(num_shards, int)
        for i in range(shard_index, 20, num_shards):
            yield i

    signature = tf.TensorSpec([], tf.int64)
    ordered = [int(i) for i in from_generator(fn, signature, num_shards=3)]
    assert ordered[:6] == [0, 1, 2, 3, 4, 5]
    assert sorted(ordered) == list(range(20))
    loose = from_generator(fn, signature, num_shards=3, deterministic=False)
    assert sorted(int(i) for i in loose) == list(range(20))


def test_dataset_fn_reads_each_input_pipelines_share(shards):
    dataset_fn = tfrecord_dataset_fn(shards, global_batch_size=8)
    parts = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        batches = list(dataset_fn(context))
        assert max(len(b["id"]) for b in batches) == 4, "per-replica batch: 8 / 2 replicas"
        parts.append(sorted(int(i) for b in batches for i in b["id"].numpy()))
    assert parts[0] == [i for i in range(N) if i % 4 in (0, 2)]
    assert sorted(parts[0] + parts[1]) == list(range(N))


def test_autotune_model_is_off_and_users_can_turn_it_back_on(shards):
    dataset = tfrecord_dataset(shards, batch_size=8)
    assert dataset.options().autotune.enabled is False
    assert dataset.options().deterministic is False
    options = tf.data.Options()
    options.autotune.enabled = True
    tuned = dataset.map(lambda batch: batch, num_parallel_calls=tf.data.AUTOTUNE)
    tuned = tuned.with_options(options)
    assert tuned.options().autotune.enabled is True
    assert sorted(ids_of(tuned)) == list(range(N))


def test_bytes_and_str_keep_trailing_nul_bytes(tmp_path):
    # NumPy's S and U dtypes strip trailing NULs: the writer must not use them.
    packed = np.array([[1, 0], [2, 0]], np.uint8).tobytes()
    record = {"one": b"ab\x00\x00", "packed": packed, "many": [b"a\x00", b"\x00", b""],
              "text": "x\x00"}
    (path,) = write_tfrecords([record, record], str(tmp_path / "nul"))
    batch = next(iter(tfrecord_dataset(path, batch_size=2)))
    assert batch["one"].numpy().tolist() == [b"ab\x00\x00"] * 2
    assert batch["packed"].numpy().tolist() == [packed] * 2
    assert np.frombuffer(batch["packed"].numpy()[0], np.uint8).tolist() == [1, 0, 2, 0]
    assert batch["many"].numpy().tolist() == [[b"a\x00", b"\x00", b""]] * 2
    assert batch["text"].numpy().tolist() == [b"x\x00"] * 2


def test_bools_are_stored_as_int64(tmp_path):
    records = [{"flag": True, "flags": np.array([True, False])},
               {"flag": False, "flags": np.array([False, False])}]
    paths, spec = write_tfrecords(records, str(tmp_path / "b"), return_spec=True)
    assert spec["flag"] == tf.io.FixedLenFeature([], tf.int64)
    batch = next(iter(tfrecord_dataset(paths, batch_size=2)))
    assert batch["flag"].numpy().tolist() == [1, 0]
    assert batch["flags"].numpy().tolist() == [[1, 0], [0, 0]]


def test_integers_at_the_ends_of_int64_are_kept(tmp_path):
    record = {"u": np.array([0, 2**63 - 1], np.uint64), "p": [2**63 - 1, -2**63],
              "small": np.array([255, 0], np.uint8)}
    (path,) = write_tfrecords([record], str(tmp_path / "i"))
    batch = next(iter(tfrecord_dataset(path, batch_size=1)))
    assert batch["u"].numpy().tolist() == [[0, 2**63 - 1]]
    assert batch["p"].numpy().tolist() == [[2**63 - 1, -2**63]]
    assert batch["small"].numpy().tolist() == [[255, 0]]


def test_a_second_write_under_a_prefix_replaces_the_first(tmp_path):
    prefix = str(tmp_path / "p")
    first = write_tfrecords(make_records(100), prefix, num_shards=4)
    second = write_tfrecords(({"id": 1000 + i} for i in range(10)), prefix, num_shards=2)
    assert sorted(os.listdir(tmp_path)) == sorted(
        name for path in second for name in (os.path.basename(path),
                                             os.path.basename(path) + ".index.json"))
    assert not any(os.path.exists(path) for path in first)
    dataset = tfrecord_dataset(prefix + "-*.tfrecord", batch_size=64)
    assert sorted(ids_of(dataset)) == list(range(1000, 1010))
    # Same shard count: the files are replaced, their indexes too.
    write_tfrecords(({"id": 2000 + i} for i in range(6)), prefix, num_shards=2)
    assert len(os.listdir(tmp_path)) == 4
    assert sorted(ids_of(tfrecord_dataset(prefix + "-*.tfrecord", batch_size=64))) == \
        list(range(2000, 2006))


def test_another_prefix_in_the_same_folder_is_left_alone(tmp_path):
    write_tfrecords(make_records(8), str(tmp_path / "train"), num_shards=2)
    write_tfrecords(make_records(4), str(tmp_path / "train-extra"), num_shards=1)
    write_tfrecords(make_records(6), str(tmp_path / "train"), num_shards=3)
    assert sorted(ids_of(tfrecord_dataset(str(tmp_path / "train-extra-*"), batch_size=9))) == \
        [0, 1, 2, 3]
    assert len(os.listdir(tmp_path)) == 2 * (1 + 3)


@pytest.mark.parametrize("earlier_shards", [0, 2, 4])
def test_a_failed_commit_keeps_the_earlier_write_and_leaves_no_temporary(
        tmp_path, monkeypatch, earlier_shards):
    prefix = str(tmp_path / "p")
    if earlier_shards:
        write_tfrecords(({"id": 500 + i} for i in range(8)), prefix, num_shards=earlier_shards)
    before = sorted(os.listdir(tmp_path))
    rename = tf.io.gfile.rename

    def rename_failing_at_shard_1(source, destination, overwrite=False):
        if source.endswith(f"-00001-of-00002.tfrecord.tmp-{os.getpid()}"):
            raise tf.errors.PermissionDeniedError(None, None, f"cannot rename to {destination}")
        rename(source, destination, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", rename_failing_at_shard_1)
    with pytest.raises(tf.errors.PermissionDeniedError, match="00001-of-00002"):
        write_tfrecords(make_records(10), prefix, num_shards=2)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == before
    if earlier_shards:
        assert sorted(ids_of(tfrecord_dataset(prefix + "-*.tfrecord", batch_size=9))) == \
            list(range(500, 508))


def test_temporaries_of_a_dead_writer_are_removed_by_the_next_write(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid now names no process
    dead, alive = child.pid, os.getppid()
    left = [f"p-00000-of-00002.tfrecord.tmp-{dead}",
            f"p-00001-of-00002.tfrecord.index.json.tmp-{dead}",
            f"p-00000-of-00001.tfrecord.replaced.tmp-{dead}"]
    kept = [f"p-00000-of-00002.tfrecord.tmp-{alive}",  # a writer still running
            f"q-00000-of-00002.tfrecord.tmp-{dead}"]  # another prefix
    for name in left + kept:
        (tmp_path / name).write_bytes(b"partial")
    paths = write_tfrecords(make_records(4), str(tmp_path / "p"))
    names = set(os.listdir(tmp_path))
    assert not names & set(left)
    assert names == set(kept) | {os.path.basename(paths[0]),
                                 os.path.basename(paths[0]) + ".index.json"}


def test_paths_with_glob_characters_open_as_they_are(tmp_path):
    folder = tmp_path / "run[1]"
    paths = write_tfrecords(make_records(6), str(folder / "part"), num_shards=2)
    assert sorted(ids_of(tfrecord_dataset(paths, batch_size=4))) == list(range(6))
    assert sorted(ids_of(tfrecord_dataset(paths[0], batch_size=4))) == [0, 2, 4]
    escaped = str(tmp_path / "run[[]1]" / "part-*.tfrecord")
    assert sorted(ids_of(tfrecord_dataset(escaped, batch_size=4))) == list(range(6))
    with pytest.raises(FileNotFoundError, match=r"match a real '\[' with '\[\[\]'"):
        tfrecord_dataset(str(folder / "part-*.tfrecord"), batch_size=4)


def test_cache_file_is_checked_before_reading(shards, tmp_path):
    folder = tmp_path / "cache-folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"cache=.*cache-folder' is a directory: give a "
                                                r"file name inside it, such as .*train\.cache"):
        tfrecord_dataset(shards, batch_size=8, cache=str(folder))
    with pytest.raises(FileNotFoundError, match=r"the directory .*absent' does not exist"):
        tfrecord_dataset(shards, batch_size=8, cache=str(tmp_path / "absent" / "c"))
    cache = str(folder / "train.cache")
    assert sorted(ids_of(tfrecord_dataset(shards, batch_size=8, cache=cache))) == list(range(N))
    assert sorted(os.listdir(folder)) == ["train.cache.data-00000-of-00001", "train.cache.index"]
    assert os.listdir(tmp_path) == ["cache-folder"]


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs Linux's read-only /sys")
def test_cache_in_a_directory_nobody_can_write_is_refused(shards):
    # /sys refuses new files even to root, for whom os.access would say yes.
    with pytest.raises(PermissionError, match=r"cache='/sys/train.cache': cannot write in "
                                              r"the directory '/sys'"):
        tfrecord_dataset(shards, batch_size=8, cache="/sys/train.cache")
