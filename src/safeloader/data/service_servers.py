"""``safeloader service dispatcher|worker``: the tf.data service's servers with bounded settings.

Each command starts one server in this process, prints its address as the
first line of standard output (the dispatcher's ``grpc://host:port``, the
worker's ``host:port``: one line a script can read), says more on standard
error, and serves until SIGTERM or SIGINT, then stops the server and exits 0.
Ports, hosts and the dispatcher's address are checked (by
:mod:`safeloader.service_address`) before a server starts; a port that
cannot be served, or a dispatcher that does not answer, ends the command
with status 1 and one line on standard error.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, TextIO

import tensorflow as tf

from safeloader.data.service import wait_for_workers
from safeloader.service_address import (
    PortUnavailableError,
    check_host,
    check_port,
    check_port_free,
    check_timeout,
    parse_service_address,
)

WORKER_HEARTBEAT_MS = 1_000
"""How often a worker heartbeats to the dispatcher, in milliseconds."""
DEFAULT_WORKER_TIMEOUT_S = 10.0
"""Seconds without a heartbeat after which the dispatcher counts a worker as lost.

TensorFlow 2.21 acts on it for snapshots only; clients still wait for a lost
worker's task (the client's ``service_timeout`` bounds that).
"""
DEFAULT_DISPATCHER_TIMEOUT_S = 60.0
"""How long a starting worker waits for its dispatcher to answer, in seconds."""


def start_dispatcher(port: int, work_dir: str | None = None,
                     worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S) -> Any:
    """Start a dispatcher on ``port`` (0: any free port) and return it.

    With ``work_dir`` it is fault tolerant: it journals its state there
    before answering, and a dispatcher restarted on the same directory
    resumes the registered datasets and jobs. A bad port or timeout raises
    ``ValueError`` naming it, a port that cannot be served
    :class:`~safeloader.service_address.PortUnavailableError`, before
    anything starts.
    """
    port = check_port(port)
    worker_timeout = check_timeout(worker_timeout, "worker_timeout")
    check_port_free(port)
    service = tf.data.experimental.service
    return _started(port, lambda: service.DispatchServer(service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=work_dir is not None,
        worker_timeout_ms=round(worker_timeout * 1000))))


def start_worker(dispatcher: str, port: int = 0, host: str = "localhost",
                 dispatcher_timeout: float = DEFAULT_DISPATCHER_TIMEOUT_S) -> Any:
    """Start a worker of the dispatcher at ``dispatcher`` and return it.

    ``dispatcher`` is ``HOST:PORT`` or ``grpc://HOST:PORT``; ``host`` is the
    name clients reach this worker by. A bad address, port, host or timeout
    raises ``ValueError`` naming it, a port that cannot be served
    :class:`~safeloader.service_address.PortUnavailableError`, before
    anything starts. tf.data's worker retries registering forever when
    nothing answers at ``dispatcher``, so the dispatcher is probed first:
    :class:`~safeloader.data.service.ServiceTimeoutError` naming it after
    ``dispatcher_timeout`` seconds.
    """
    address = parse_service_address(dispatcher, name="dispatcher")
    port = check_port(port)
    host = check_host(host)
    dispatcher_timeout = check_timeout(dispatcher_timeout, "dispatcher_timeout")
    check_port_free(port)
    wait_for_workers(address.url, dispatcher_timeout, need_worker=False,
                     timeout_name="--dispatcher-timeout")
    service = tf.data.experimental.service
    return _started(port, lambda: service.WorkerServer(service.WorkerConfig(
        dispatcher_address=address.host_port, worker_address=f"{host}:%port%", port=port,
        heartbeat_interval_ms=WORKER_HEARTBEAT_MS,
        dispatcher_timeout_ms=round(dispatcher_timeout * 1000))))


def _started(port: int, start: Callable[[], Any]) -> Any:
    """``start()``'s server; TensorFlow's bare "Could not start gRPC server" (the
    port taken between the check and the start) becomes an error naming the port."""
    try:
        return start()
    except RuntimeError as error:
        if "Could not start gRPC server" not in str(error):
            raise
        raise PortUnavailableError(f"cannot listen on port {port}: {error}") from None


def serve_until_stopped(server: Any, address: str, role: str,
                        out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print ``address``, serve until SIGTERM or SIGINT, stop ``server``; return 0."""
    stop = threading.Event()
    previous: dict[int, Callable[..., Any] | int | None] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        print(address, file=out, flush=True)
        print(f"safeloader service {role}: serving at {address}; SIGTERM or Ctrl-C stops it",
              file=err, flush=True)
        stop.wait()
        server.stop()
        print(f"safeloader service {role}: stopped", file=err, flush=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def run_dispatcher(port: int, work_dir: str | None, host: str, worker_timeout: float) -> int:
    """``safeloader service dispatcher``: start, print ``grpc://host:port``, serve.

    Returns 1, with one line on standard error, when it cannot start.
    """
    try:
        host = check_host(host)
        server = start_dispatcher(port, work_dir, worker_timeout)
    except (ValueError, OSError) as error:
        return _cannot_start("dispatcher", error)
    bound_port = server.target.rsplit(":", 1)[1]
    return serve_until_stopped(server, f"grpc://{host}:{bound_port}", "dispatcher")


def run_worker(dispatcher: str, port: int, host: str,
               dispatcher_timeout: float = DEFAULT_DISPATCHER_TIMEOUT_S) -> int:
    """``safeloader service worker``: start, print ``host:port``, serve.

    Returns 1, with one line on standard error, when it cannot start (a bad
    setting, a port it cannot serve, no dispatcher answering within
    ``dispatcher_timeout`` seconds).
    """
    try:
        host = check_host(host)
        server = start_worker(dispatcher, port, host, dispatcher_timeout)
    except (ValueError, OSError) as error:  # ServiceTimeoutError is a TimeoutError
        return _cannot_start("worker", error)
    # TensorFlow has no public accessor for a worker's bound port (port 0 picks one).
    bound_port = server._address.rsplit(":", 1)[1]
    return serve_until_stopped(server, f"{host}:{bound_port}", "worker")


def _cannot_start(role: str, error: Exception) -> int:
    print(f"safeloader service {role}: {error}", file=sys.stderr, flush=True)
    return 1
