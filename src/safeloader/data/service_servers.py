"""``safeloader service dispatcher|worker``: the tf.data service's servers with bounded settings.

Each command starts one server in this process, prints its address as the
first line of standard output (the dispatcher's ``grpc://host:port``, the
worker's ``host:port``: one line a script can read), says more on standard
error, and serves until SIGTERM or SIGINT, then stops the server and exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, TextIO

import tensorflow as tf

from safeloader.data.service import ServiceTimeoutError, dispatcher_address, wait_for_workers

WORKER_HEARTBEAT_MS = 1_000
"""How often a worker heartbeats to the dispatcher, in milliseconds."""
DEFAULT_WORKER_TIMEOUT_S = 10.0
"""Seconds without a heartbeat after which the dispatcher counts a worker as lost.

TensorFlow 2.21 acts on it for snapshots only; clients still wait for a lost
worker's task (the client's ``service_timeout`` bounds that).
"""
DISPATCHER_WAIT_S = 60.0
"""How long a starting worker waits for its dispatcher to answer."""


def start_dispatcher(port: int, work_dir: str | None = None,
                     worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S) -> Any:
    """Start a dispatcher on ``port`` (0: any free port) and return it.

    With ``work_dir`` it is fault tolerant: it journals its state there
    before answering, and a dispatcher restarted on the same directory
    resumes the registered datasets and jobs.
    """
    service = tf.data.experimental.service
    return service.DispatchServer(service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=work_dir is not None,
        worker_timeout_ms=round(worker_timeout * 1000)))


def start_worker(dispatcher: str, port: int = 0, host: str = "localhost",
                 dispatcher_wait: float = DISPATCHER_WAIT_S) -> Any:
    """Start a worker of the dispatcher at ``dispatcher`` (``host:port``) and return it.

    ``host`` is the name clients reach this worker by. tf.data's worker
    retries registering forever when nothing answers at ``dispatcher``, so
    the dispatcher is probed first: :class:`ServiceTimeoutError` naming it
    after ``dispatcher_wait`` seconds.
    """
    target = dispatcher if "://" in dispatcher else f"grpc://{dispatcher}"
    address = dispatcher_address(target)
    wait_for_workers(target, dispatcher_wait, need_worker=False)
    service = tf.data.experimental.service
    return service.WorkerServer(service.WorkerConfig(
        dispatcher_address=address, worker_address=f"{host}:%port%", port=port,
        heartbeat_interval_ms=WORKER_HEARTBEAT_MS,
        dispatcher_timeout_ms=round(dispatcher_wait * 1000)))


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
    """``safeloader service dispatcher``: start, print ``grpc://host:port``, serve."""
    server = start_dispatcher(port, work_dir, worker_timeout)
    bound_port = server.target.rsplit(":", 1)[1]
    return serve_until_stopped(server, f"grpc://{host}:{bound_port}", "dispatcher")


def run_worker(dispatcher: str, port: int, host: str) -> int:
    """``safeloader service worker``: start, print ``host:port``, serve."""
    try:
        server = start_worker(dispatcher, port, host)
    except (ServiceTimeoutError, ValueError, ConnectionError) as error:
        print(f"safeloader service worker: {error}", file=sys.stderr)
        return 1
    # TensorFlow has no public accessor for a worker's bound port (port 0 picks one).
    bound_port = server._address.rsplit(":", 1)[1]
    return serve_until_stopped(server, f"{host}:{bound_port}", "worker")
