"""Bad input to safeloader.data: a clear error naming the culprit, nothing silently lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from safeloader.data import (  # noqa: E402
    RecordsSkippedWarning, from_generator, tfrecord_dataset, tfrecord_dataset_fn, write_tfrecords)

N = 40


def records(n: int = N):
    return ({"id": i, "x": np.full(3, i, np.float32)} for i in range(n))


def ids_of(dataset) -> list[int]:
    return sorted(int(i) for batch in dataset for i in batch["id"].numpy())


@pytest.fixture
def shards(tmp_path):
    return write_tfrecords(records(), str(tmp_path / "d"), num_shards=2)


def flip_byte(path: str, offset: int) -> None:
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(data)


def cut(path: str, keep: int) -> None:
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:keep])


def test_no_match_names_the_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        tfrecord_dataset(str(tmp_path / "nothing-here-*.tfrecord"), batch_size=2)


def test_missing_listed_file_is_named(shards, tmp_path):
    missing = str(tmp_path / "gone.tfrecord")
    with pytest.raises(FileNotFoundError, match="gone.tfrecord"):
        tfrecord_dataset([shards[0], missing], batch_size=2)


def test_a_directory_is_refused_with_a_hint(tmp_path, shards):
    with pytest.raises(IsADirectoryError, match=r"\*\.tfrecord"):
        tfrecord_dataset(str(tmp_path), batch_size=2)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"batch_size": 2, "num_shards": 2}, "shard_index"),
    ({"batch_size": 2, "num_shards": 2, "shard_index": 2}, "shard_index must be < num_shards"),
    ({"batch_size": 2, "num_shards": 0, "shard_index": 0}, "num_shards"),
    ({"batch_size": 2, "compression": "lz4"}, "compression"),
    ({"batch_size": 2, "shuffle_buffer": -1}, "shuffle_buffer"),
    ({"batch_size": 2, "repeat": 0}, "repeat"),
    ({"batch_size": 2, "service": "localhost"}, "grpc://"),
    ({"batch_size": 2, "service": "grpc://h:1", "num_shards": 2, "shard_index": 0}, "service"),
    ({"batch_size": 2, "parse_fn": len, "features": {}}, "not both"),
    ({"batch_size": 2**63}, "batch_size must be an integer from 1 to 2"),
    ({"batch_size": 2, "shuffle_buffer": 2**63}, "shuffle_buffer must be an integer from 0"),
    ({"batch_size": 2, "repeat": 2**63}, "repeat"),
])
def test_bad_arguments_raise_value_error_before_reading(tmp_path, kwargs, message):
    # The path does not exist: the argument error must come first.
    with pytest.raises(ValueError, match=message):
        tfrecord_dataset(str(tmp_path / "never-read-*"), **kwargs)


def test_unknown_label_key_is_named(shards):
    with pytest.raises(ValueError, match="label_key 'nope' is not in features"):
        tfrecord_dataset(shards, batch_size=2, label_key="nope")


def test_compression_that_contradicts_the_index_is_refused(shards):
    with pytest.raises(ValueError, match="GZIP"):
        tfrecord_dataset(shards, batch_size=2, compression="GZIP")


def test_no_spec_anywhere_asks_for_features(tmp_path):
    path = str(tmp_path / "bare.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(b"not an example")
    with pytest.raises(ValueError, match="features="):
        tfrecord_dataset(path, batch_size=2)


def test_truncated_file_raises_naming_it(shards):
    cut(shards[1], os.path.getsize(shards[1]) // 2 + 5)
    with pytest.raises(tf.errors.DataLossError,
                       match=r"d-00001-of-00002\.tfrecord' is damaged: file ends inside"):
        tfrecord_dataset(shards, batch_size=4)


def test_file_cut_between_records_is_caught_by_its_index(shards):
    data = open(shards[0], "rb").read()
    second_record = 16 + int.from_bytes(data[:8], "little")
    cut(shards[0], second_record)
    with pytest.raises(tf.errors.DataLossError, match=r"d-00000-of-00002\.tfrecord.*1 records, "
                                                      r"but its index says \d+ bytes and 20"):
        tfrecord_dataset(shards, batch_size=4)


def test_truncated_compressed_file_raises_naming_it(tmp_path):
    paths = write_tfrecords(records(), str(tmp_path / "z"), compression="GZIP")
    os.remove(paths[0] + ".index.json")  # foreign file: the walk decompresses it
    cut(paths[0], os.path.getsize(paths[0]) - 20)
    with pytest.raises(tf.errors.DataLossError, match=r"z-00000-of-00001\.tfrecord"):
        tfrecord_dataset(paths, batch_size=4)


def test_truncated_file_with_ignore_errors_warns_and_reads_the_intact_records(shards):
    cut(shards[0], os.path.getsize(shards[0]) - 10)
    with pytest.warns(RecordsSkippedWarning, match=r"d-00000-of-00002.*ends inside") as caught:
        dataset = tfrecord_dataset(shards, batch_size=4, ignore_errors=True)
    assert caught[0].filename == __file__
    assert ids_of(dataset) == [i for i in range(N) if i != N - 2]


def test_corrupt_record_raises_naming_file_and_offset_when_iterated(shards):
    flip_byte(shards[1], 100)
    dataset = tfrecord_dataset(shards, batch_size=4)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"d-00001-of-00002\.tfrecord is corrupt or changed: read 0 of 20 "
                             r"records; a record from byte offset 0 on fails its checksum"):
        ids_of(dataset)


def test_corrupt_record_deep_in_a_file_gives_the_offset_of_its_read_batch(tmp_path):
    (path,) = write_tfrecords(records(1100), str(tmp_path / "big"))
    data = open(path, "rb").read()
    offsets = [0]
    while offsets[-1] < len(data):
        offsets.append(offsets[-1] + 16 + int.from_bytes(data[offsets[-1]:offsets[-1] + 8],
                                                         "little"))
    flip_byte(path, offsets[1050] + 20)  # reads are batched 512 records at a time
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"big-00000-of-00001\.tfrecord is corrupt or changed: read 1024 "
                             rf"of 1100 records; a record from byte offset {offsets[1024]} on"):
        ids_of(tfrecord_dataset(path, batch_size=100))


def test_corrupt_record_with_ignore_errors_warns_with_counts(shards):
    flip_byte(shards[1], 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = tfrecord_dataset(shards, batch_size=4, ignore_errors=True)
    (warning,) = caught
    assert warning.category is RecordsSkippedWarning
    assert warning.filename == __file__
    text = str(warning.message)
    assert "d-00001-of-00002.tfrecord" in text and "record #1" in text
    assert "lost 19 records" in text and "bytes" in text
    assert ids_of(dataset) == sorted([i for i in range(N) if i % 2 == 0] + [1])


def test_file_damaged_after_the_dataset_was_built_fails_inside_model_fit(shards):
    keras = pytest.importorskip("keras")
    spec = {"x": tf.io.FixedLenFeature([3], tf.float32),
            "id": tf.io.FixedLenFeature([], tf.int64)}
    dataset = tfrecord_dataset(shards, batch_size=4, features=spec, label_key="id")
    dataset = dataset.map(lambda features, label: (features["x"], label))
    flip_byte(shards[0], 300)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"d-00000-of-00002\.tfrecord"):
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)


def test_missing_feature_is_named(shards):
    spec = {"id": tf.io.FixedLenFeature([], tf.int64),
            "weight": tf.io.FixedLenFeature([], tf.float32)}
    with pytest.raises(tf.errors.InvalidArgumentError, match="weight"):
        ids_of(tfrecord_dataset(shards, batch_size=4, features=spec))


def test_feature_of_the_wrong_type_is_named(shards):
    spec = {"id": tf.io.FixedLenFeature([], tf.int64), "x": tf.io.FixedLenFeature([3], tf.int64)}
    with pytest.raises(tf.errors.InvalidArgumentError, match="Key: x"):
        ids_of(tfrecord_dataset(shards, batch_size=4, features=spec))


def test_writer_rejects_records_that_disagree(tmp_path):
    with pytest.raises(ValueError, match=r"record #1: features differ .*missing \['x'\]"):
        write_tfrecords([{"id": 1, "x": 1.0}, {"id": 2}], str(tmp_path / "a"))
    with pytest.raises(TypeError, match=r"record #1, feature 'x': float32 values"):
        write_tfrecords([{"x": 1}, {"x": 1.5}], str(tmp_path / "b"))
    with pytest.raises(TypeError, match=r"record #0, feature 'x'"):
        write_tfrecords([{"x": object()}], str(tmp_path / "c"))
    with pytest.raises(ValueError, match="empty"):
        write_tfrecords([], str(tmp_path / "d"))
    with pytest.raises(ValueError, match="compression"):
        write_tfrecords([{"x": 1}], str(tmp_path / "e"), compression="bz2")
    assert os.listdir(tmp_path) == []


def test_distribute_helper_checks_its_arguments(shards, tmp_path):
    with pytest.raises(ValueError, match="global_batch_size"):
        tfrecord_dataset_fn(shards, global_batch_size=0)
    with pytest.raises(ValueError, match="batch_size is set from the input context"):
        tfrecord_dataset_fn(shards, global_batch_size=4, batch_size=2)
    with pytest.raises(FileNotFoundError, match="absent"):
        tfrecord_dataset_fn(str(tmp_path / "absent*"), global_batch_size=4)


def test_from_generator_checks_its_arguments():
    signature = tf.TensorSpec([], tf.int64)
    with pytest.raises(ValueError, match="num_shards must be a positive integer, got 0"):
        from_generator(lambda i, n: iter([i]), signature, num_shards=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        from_generator([1, 2], signature)


@pytest.mark.parametrize("written, given, says", [
    ("GZIP", None, "is GZIP-compressed"), ("ZLIB", "GZIP", "is ZLIB-compressed"),
    (None, "GZIP", "is not compressed"),
])
@pytest.mark.parametrize("ignore_errors", [False, True])
def test_compression_that_does_not_match_the_file_says_so(tmp_path, written, given, says,
                                                          ignore_errors):
    (path,) = write_tfrecords(records(), str(tmp_path / "c"), compression=written)
    spec = {"id": tf.io.FixedLenFeature([], tf.int64)}
    healthy = ids_of(tfrecord_dataset(path, batch_size=8, features=spec))
    os.remove(path + ".index.json")  # a file from another writer: no index to tell
    with pytest.raises(ValueError, match=rf"c-00000-of-00001\.tfrecord' {says} .*40 records "
                                         rf"read that way.*compression={given!r}"):
        tfrecord_dataset(path, batch_size=8, features=spec, compression=given,
                         ignore_errors=ignore_errors)
    assert healthy == list(range(N))


def test_truncated_gzip_file_with_ignore_errors_counts_what_it_lost(tmp_path):
    (path,) = write_tfrecords(({"id": i, "x": np.arange(50.0) * i} for i in range(200)),
                              str(tmp_path / "z"), compression="GZIP")
    cut(path, os.path.getsize(path) // 2)
    with pytest.warns(RecordsSkippedWarning) as caught:
        dataset = tfrecord_dataset(path, batch_size=64, ignore_errors=True)
    read = ids_of(dataset)
    assert read == list(range(len(read))) and 0 < len(read) < 200
    assert f"Read its first {len(read)} records; lost {200 - len(read)} records of 200" in str(
        caught[0].message)


def test_truncated_file_with_its_index_counts_what_it_lost(shards):
    cut(shards[0], os.path.getsize(shards[0]) // 2)
    with pytest.warns(RecordsSkippedWarning) as caught:
        dataset = tfrecord_dataset(shards, batch_size=4, ignore_errors=True)
    read = len([i for i in ids_of(dataset) if i % 2 == 0])
    assert f"lost {20 - read} records of 20 and " in str(caught[0].message)


def test_a_shuffle_buffer_larger_than_the_data_is_capped(shards):
    # Before the cap, tf.data tried to reserve the buffer and the process
    # died (SIGSEGV): run it in a child process.
    script = textwrap.dedent(f"""
        from safeloader.data import tfrecord_dataset
        dataset = tfrecord_dataset({shards!r}, batch_size=16, shuffle_buffer=10**12, seed=1)
        print(sorted(int(i) for batch in dataset for i in batch["id"].numpy()))
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=240)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == str(list(range(N)))


@pytest.mark.parametrize("value, message", [
    (np.uint64(2**64 - 1), "18446744073709551615 does not fit in int64"),
    (2**70, "1180591620717411303424 does not fit in int64"),
    ([1, -2**63 - 1], "-9223372036854775809 does not fit in int64"),
    (1e300, "1e\\+300 does not fit in float32"),
])
def test_writer_names_the_record_and_feature_of_a_value_out_of_range(tmp_path, value, message):
    with pytest.raises(ValueError, match=rf"record #1, feature 'v': {message}"):
        write_tfrecords([{"v": 0}, {"v": value}], str(tmp_path / "r"))
    assert os.listdir(tmp_path) == []


def test_writer_names_the_record_with_a_key_that_is_not_a_string(tmp_path):
    with pytest.raises(TypeError, match=r"record #1: feature names must be str, got 7 \(int\)"):
        write_tfrecords([{"v": 0}, {7: 0}], str(tmp_path / "k"))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["folder/", ""])
def test_writer_refuses_a_prefix_without_a_file_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"path_prefix {name!r} has no file name part"):
        write_tfrecords(records(), name)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs", [{}, {"shuffle_buffer": 8}, {"label_key": "id"}])
@pytest.mark.parametrize("wrong", [
    {"x": tf.io.FixedLenFeature([4], tf.float32)},
    {"x": tf.io.RaggedFeature(tf.int64)},
])
def test_a_wrong_feature_spec_names_the_file(shards, kwargs, wrong):
    spec = {"id": tf.io.FixedLenFeature([], tf.int64), **wrong}
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Name: \S*d-0000[01]-of-00002\.tfrecord, Key: x"):
        ids_of(tfrecord_dataset(shards, batch_size=4, features=spec, **kwargs))
