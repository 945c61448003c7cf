"""tfrecord_dataset(service=...) on a real tf.data service: a dispatcher and two workers."""

from __future__ import annotations

import socket
import time

import pytest

tf = pytest.importorskip("tensorflow")

from safeloader.data import tfrecord_dataset, write_tfrecords  # noqa: E402
from safeloader.data.service import distribute_bounded  # noqa: E402

N = 120


@pytest.fixture(scope="module")
def cluster():
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer(service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://", 1)[1]
    workers = [
        service.WorkerServer(service.WorkerConfig(
            dispatcher_address=address, worker_address="localhost:%port%",
            heartbeat_interval_ms=200))
        for _ in range(2)
    ]
    assert address.startswith("localhost:")
    yield dispatcher.target, workers
    for worker in workers:  # stopping waits for a heartbeat: hence the short interval
        worker._stop()
    dispatcher._stop()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("service") / "p")
    return write_tfrecords(({"id": i} for i in range(N)), prefix, num_shards=6)


def ids_per_epoch(dataset, epochs: int) -> list[list[int]]:
    ids = [int(i) for batch in dataset for i in batch["id"].numpy()]
    return [sorted(ids[k * N:(k + 1) * N]) for k in range(epochs)] + [ids[epochs * N:]]


@pytest.mark.parametrize("shuffle_buffer", [0, 25])
def test_every_record_once_per_epoch_through_the_service(cluster, shards, shuffle_buffer):
    target, _ = cluster
    dataset = tfrecord_dataset(shards, batch_size=8, service=target, repeat=2,
                               shuffle_buffer=shuffle_buffer, seed=5)
    first, second, rest = ids_per_epoch(dataset, 2)
    assert first == list(range(N)) and second == list(range(N)) and rest == []


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("form", [
    "{host}:{port}",
    pytest.param("[::1]:{port}", marks=pytest.mark.skipif(
        not _ipv6_loopback(), reason="no IPv6 loopback here")),
])
def test_the_service_address_without_grpc_scheme_or_in_ipv6_form(cluster, shards, form):
    host, port = cluster[0].split("://", 1)[1].rsplit(":", 1)
    dataset = tfrecord_dataset(shards, batch_size=10, service=form.format(host=host, port=port))
    assert ids_per_epoch(dataset, 1) == [list(range(N)), []]


def test_service_pipeline_fails_with_the_file_name_of_a_corrupt_record(cluster, tmp_path):
    target, _ = cluster
    paths = write_tfrecords(({"id": i} for i in range(10)), str(tmp_path / "bad"))
    data = bytearray(open(paths[0], "rb").read())
    data[60] ^= 0xFF
    open(paths[0], "wb").write(bytes(data))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bad-00000-of-00001\.tfrecord"):
        list(tfrecord_dataset(paths, batch_size=4, service=target))


def test_the_service_watchdog_runs_inside_a_tf_function(cluster, shards):
    target, _ = cluster
    dataset = tfrecord_dataset(shards, batch_size=8, service=target)

    @tf.function
    def total(data):
        return data.reduce(tf.constant(0, tf.int64),
                           lambda sum_, batch: sum_ + tf.reduce_sum(batch["id"]))

    assert int(total(dataset)) == N * (N - 1) // 2


def test_stopping_early_does_not_wait_for_the_service_timeout(cluster, shards):
    target, _ = cluster
    dataset = tfrecord_dataset(shards, batch_size=8, service=target, service_timeout=120)
    start = time.monotonic()
    assert len(list(dataset.take(2))) == 2
    assert time.monotonic() - start < 60  # the watchdog's wait is cut in half-second slices


def test_ragged_features_pass_the_service_watchdog(cluster, tmp_path):
    target, _ = cluster
    paths = write_tfrecords(({"id": i, "v": list(range(i % 3 + 1))} for i in range(30)),
                            str(tmp_path / "ragged"), num_shards=3)
    dataset = tfrecord_dataset(paths, batch_size=4, service=target)
    assert isinstance(dataset.element_spec["v"], tf.RaggedTensorSpec)
    rows = {int(i): v for batch in dataset
            for i, v in zip(batch["id"], batch["v"].to_list())}
    assert rows == {i: list(range(i % 3 + 1)) for i in range(30)}


def test_a_consumer_busy_longer_than_the_service_timeout_is_not_a_dead_service(cluster):
    from tensorflow.python.data.experimental.ops import testing  # the service's own test op

    target, _ = cluster
    # Each element takes 0.6 s on a worker; the pause is longer than the bound.
    slow = tf.data.Dataset.range(12).apply(testing.sleep(600_000))
    batches = iter(distribute_bounded(slow, target, timeout=2.5))
    seen = [int(next(batches))]
    time.sleep(6)  # a long training step or a validation pass: no batch asked for
    seen += [int(value) for value in batches]
    assert sorted(seen) == list(range(12))
