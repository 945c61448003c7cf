"""The tf.data service never makes the client wait forever; `safeloader service` runs its servers.

Real servers: in-process where one dispatcher suffices, `safeloader service`
subprocesses on 127.0.0.1 for the commands and the killed worker. A call
that would hang runs in a thread joined with a limit, so a regression fails
instead of hanging the suite.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

tf = pytest.importorskip("tensorflow")

from safeloader.data import tfrecord_dataset, write_tfrecords  # noqa: E402
from safeloader.data.service import ServiceTimeoutError  # noqa: E402
from safeloader.data import service_servers  # noqa: E402
from safeloader.data.service_servers import (  # noqa: E402
    run_dispatcher,
    run_worker,
    start_dispatcher,
    start_worker,
)
from safeloader.service_address import PortUnavailableError  # noqa: E402

BOUND = 3.0  # service_timeout in these tests, seconds
LIMIT = 60.0  # what counts as "never returned" here (a slow, shared CI machine)
STARTUP = 120.0  # a server subprocess imports TensorFlow before it prints its address


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outcome_within(limit: float, call) -> tuple[BaseException | None, float]:
    """Run ``call()`` in a thread; return what it raised and its duration, or fail at ``limit``."""
    found: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            found.append(None)
        except BaseException as error:  # noqa: B036 - handed to the test
            found.append(error)

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit:g} s"
    return found[0], time.monotonic() - start


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("bounds") / "r")
    return write_tfrecords(({"id": i} for i in range(240)), prefix, num_shards=8)


def test_a_dispatcher_address_where_nothing_listens_fails_within_the_bound(records):
    service = f"grpc://127.0.0.1:{free_port()}"
    error, took = outcome_within(LIMIT, lambda: tfrecord_dataset(
        records, batch_size=4, service=service, service_timeout=BOUND))
    assert isinstance(error, ServiceTimeoutError), error
    assert service in str(error) and "no tf.data service dispatcher answered" in str(error)
    assert took >= BOUND


def test_a_dispatcher_without_workers_fails_within_the_bound(records):
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer(service.DispatcherConfig(port=0))
    try:
        error, _ = outcome_within(LIMIT, lambda: tfrecord_dataset(
            records, batch_size=4, service=dispatcher.target, service_timeout=BOUND))
    finally:
        dispatcher.stop()
    assert isinstance(error, ServiceTimeoutError), error
    assert f"{dispatcher.target} has no worker after {BOUND:g} s" in str(error)


def test_a_worker_refuses_to_start_without_its_dispatcher(capsys):
    address = f"127.0.0.1:{free_port()}"
    error, _ = outcome_within(LIMIT, lambda: start_worker(address, dispatcher_timeout=BOUND))
    assert isinstance(error, ServiceTimeoutError) and address in str(error)
    # the command says so in one line, naming the option that bounds the wait
    statuses: list[int] = []
    outcome_within(LIMIT, lambda: statuses.append(run_worker(address, 0, "127.0.0.1", 1.0)))
    assert statuses == [1] and capsys.readouterr().err == (
        f"safeloader service worker: no tf.data service dispatcher answered at grpc://{address} "
        "within 1 s (--dispatcher-timeout): is `safeloader service dispatcher` running there?\n")


@pytest.mark.parametrize("service, reason", [
    ("localhost", "the port is missing"),
    ("foo:bar", "the port 'bar' is not a number"),
    ("localhost:99999", "the port 99999 is outside 1-65535"),
    ("my host:5050", "the host 'my host' is not a host name or IP address"),
])
def test_a_malformed_service_address_fails_at_once(records, service, reason):
    start = time.monotonic()
    with pytest.raises(ValueError) as raised:
        tfrecord_dataset(records, batch_size=4, service=service, service_timeout=LIMIT)
    assert time.monotonic() - start < 1.0
    assert str(raised.value).startswith(
        f"service: {service!r} is not a tf.data service address: {reason} (")


def test_a_second_dispatcher_on_a_served_port_is_refused(capsys):
    """gRPC binds with SO_REUSEPORT: TensorFlow alone would start it and split the clients."""
    service = tf.data.experimental.service
    first = service.DispatchServer(service.DispatcherConfig(port=0))
    port = int(first.target.rsplit(":", 1)[1])
    try:
        with pytest.raises(PortUnavailableError, match=f"^port {port} is in use"):
            start_dispatcher(port)
        assert run_dispatcher(port, None, "127.0.0.1", 10.0) == 1
    finally:
        first.stop()
    assert capsys.readouterr().err.startswith(
        f"safeloader service dispatcher: port {port} is in use")


def test_a_port_taken_after_the_check_is_named_too(monkeypatch):
    """The check and the start race; TensorFlow's bare error then gets the port."""
    monkeypatch.setattr(service_servers, "check_port_free", lambda port: None)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortUnavailableError, match=(
                f"^cannot listen on port {port}: Could not start gRPC server")):
            start_dispatcher(port)


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), True, "5"])
def test_service_timeout_must_be_a_positive_number(records, timeout):
    with pytest.raises(ValueError, match="service_timeout must be a positive number"):
        tfrecord_dataset(records, batch_size=4, service="grpc://127.0.0.1:1",
                         service_timeout=timeout)


class Server:
    """A `safeloader service ...` subprocess and the address it printed."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "safeloader.cli", "service", *args, "--host", "127.0.0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.address = ""

    def wait_for_address(self) -> None:
        ready, _, _ = select.select([self.process.stdout], [], [], STARTUP)
        self.address = self.process.stdout.readline().strip() if ready else ""
        if not self.address:
            self.process.kill()
            raise AssertionError(f"no address from {self.args}: {self.process.communicate()[1]}")

    def terminate(self) -> tuple[int, str]:
        """SIGTERM; return the exit status and standard error."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=LIMIT)
        finally:
            self.process.kill()
        return self.process.returncode, err


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A dispatcher (fault tolerant: its journal in a work dir) and two workers, as subprocesses.

    The tests below use it in turn: one reads through it, one kills a worker,
    one stops the rest.
    """
    work_dir = tmp_path_factory.mktemp("dispatcher")
    port = str(free_port())  # all three start at once: a worker waits for its dispatcher
    servers: list[Server] = []
    try:
        servers.append(Server("dispatcher", "--port", port, "--work-dir", str(work_dir)))
        servers += [Server("worker", "--dispatcher", f"127.0.0.1:{port}",
                           "--port", str(free_port())) for _ in range(2)]
        for server in servers:
            server.wait_for_address()
        yield work_dir, servers
    finally:
        for server in servers:
            server.process.kill()
            server.process.communicate()


def test_the_servers_print_their_address_and_serve_every_record_once(cluster, records):
    work_dir, (dispatcher, *workers) = cluster
    assert dispatcher.address == f"grpc://127.0.0.1:{dispatcher.args[2]}"
    assert all(worker.address.startswith("127.0.0.1:") for worker in workers)
    dataset = tfrecord_dataset(records, batch_size=8, service=dispatcher.address,
                               service_timeout=LIMIT)
    assert sorted(int(i) for batch in dataset for i in batch["id"]) == list(range(240))
    assert (work_dir / "tf_data_dispatcher_journal").is_dir()


def test_a_worker_killed_mid_epoch_ends_it_within_the_bound_and_a_restart_heals(
    cluster, records
):
    _, servers = cluster
    dispatcher, killed, _ = servers
    dataset = tfrecord_dataset(records, batch_size=4, service=dispatcher.address,
                               service_timeout=BOUND)
    ids: list[int] = []

    def read() -> None:
        for batch in dataset:
            if not ids:
                killed.process.send_signal(signal.SIGKILL)
                killed.process.wait()
            ids.extend(int(i) for i in batch["id"])

    error, _ = outcome_within(LIMIT, read)
    # tf.data's client never ends an epoch whose worker died (it waits for that
    # worker's task); the watchdog ends it, naming the service.
    assert isinstance(error, tf.errors.OpError), error
    assert f"tf.data service at {dispatcher.address} sent no batch" in str(error)
    # What the killed worker held is lost (its task may not even have started),
    # and nothing comes twice.
    assert 0 < len(ids) <= 240 and len(set(ids)) == len(ids)

    # The dispatcher keeps the dead worker on its list, so the next epoch would
    # wait for it too; a worker started at the same address takes its tasks over.
    servers[1] = Server(*killed.args)
    servers[1].wait_for_address()
    assert servers[1].address == killed.address
    healed = tfrecord_dataset(records, batch_size=4, service=dispatcher.address,
                              service_timeout=LIMIT)
    assert sorted(int(i) for batch in healed for i in batch["id"]) == list(range(240))


def test_the_servers_stop_cleanly_on_sigterm(cluster):
    _, (dispatcher, _, worker) = cluster
    for server, role in ((worker, "worker"), (dispatcher, "dispatcher")):
        status, err = server.terminate()
        assert status == 0 and f"safeloader service {role}: stopped" in err, err
