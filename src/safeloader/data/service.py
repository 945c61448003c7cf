"""The tf.data service client, bounded: an error naming the service, never an endless wait.

tf.data's own client waits without end in three cases (TensorFlow 2.21):

- nothing listens at the dispatcher's address: registering the dataset and
  creating the job are retried with no deadline (``grpc_util::Retry`` with
  ``kint64max`` in ``DataServiceClient::Initialize``);
- the dispatcher has no worker: the client waits for a task that never comes;
- a worker dies mid-epoch: the client skips the unreachable worker's task
  and retries it, and the dispatcher never removes that task from the
  iteration (its ``worker_timeout_ms`` only affects snapshots), so the epoch
  never ends, even when the other workers have delivered everything.

tf.data offers no client option that bounds these waits, so
:func:`distribute_bounded` adds two things around
``tf.data.experimental.service.distribute``:

1. before the dataset is registered, a probe over gRPC (the dispatcher's own
   protocol): the channel must connect and the dispatcher's ``GetWorkers``
   must list a worker, both within ``timeout`` seconds;
2. while iterating, a watchdog that races the service's batches in a
   parallel ``interleave``: when no batch has come for ``timeout`` seconds
   (from the start of the epoch, or since the last batch), iteration fails
   with :class:`ServiceTimeoutError` naming the service.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Iterator

import grpc
import tensorflow as tf

from safeloader.service_address import parse_service_address

DEFAULT_SERVICE_TIMEOUT = 60.0
"""Seconds without an answer or a batch after which the service counts as failed."""

# The watchdog's wait is cut in slices of this many seconds, each ending with a
# heartbeat element (dropped again): a stopped iteration (``take``, the end of
# ``fit``) waits at most one slice for the watchdog to return.
_WATCH_SLICE = 0.5

# The dispatcher's gRPC method that lists its registered workers. Its reply,
# GetWorkersResponse, has one repeated field (the workers), so its serialized
# form is empty exactly when no worker is registered: no proto class needed.
_GET_WORKERS = "/tensorflow.data.DispatcherService/GetWorkers"
# Answers that mean "not ready yet" (a dispatcher restoring its journal
# answers UNAVAILABLE): asked again until the bound.
_RETRIED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class ServiceTimeoutError(TimeoutError):
    """The tf.data service did not answer, or sent no batch, within the bound: names the service."""


def wait_for_workers(service: str, timeout: float, *, need_worker: bool = True,
                     timeout_name: str = "service_timeout") -> None:
    """Return once the dispatcher at ``service`` answers and (``need_worker``) lists a worker.

    ``service`` is ``HOST:PORT`` or ``grpc://HOST:PORT``. Raises
    :class:`ServiceTimeoutError` naming the address (and ``timeout_name``,
    the setting that gave ``timeout``) when nothing answers there, or no
    worker registers, within ``timeout`` seconds; and ``ConnectionError``
    when what answers is not a tf.data dispatcher.
    """
    address = parse_service_address(service)
    service = address.url
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address.host_port) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ServiceTimeoutError(
                f"no tf.data service dispatcher answered at {service} within {timeout:g} s "
                f"({timeout_name}): is `safeloader service dispatcher` running there?"
            ) from None
        get_workers = channel.unary_unary(_GET_WORKERS)
        while True:
            remaining = deadline - time.monotonic()
            try:
                if get_workers(b"", timeout=max(remaining, 0.001)) or not need_worker:
                    return
            except grpc.RpcError as error:
                if error.code() not in _RETRIED:
                    raise ConnectionError(
                        f"{service} did not answer as a tf.data service dispatcher: "
                        f"{error.code().name}: {error.details()}"
                    ) from None
            if remaining <= 0:
                raise ServiceTimeoutError(
                    f"the tf.data service dispatcher at {service} has no worker after "
                    f"{timeout:g} s ({timeout_name}): start one with "
                    f"`safeloader service worker --dispatcher {address.host_port}`"
                )
            time.sleep(min(0.1, remaining))


class _Watchdog:
    """How recently each running epoch got a batch; one per bounded dataset.

    Each iteration of the dataset (each epoch) takes a fresh token; the
    service branch stamps it on every batch and marks it done at its end;
    the watchdog branch waits on the condition and raises once a token has
    gone ``timeout`` seconds without a stamp.
    """

    def __init__(self, service: str, timeout: float) -> None:
        self._service = service
        self._timeout = timeout
        self._changed = threading.Condition()
        self._last: dict[int, float] = {}  # token -> time of the latest batch
        self._done: set[int] = set()
        self._tokens = itertools.count()

    def start(self) -> int:
        with self._changed:
            token = next(self._tokens)
            self._last[token] = time.monotonic()
            return token

    def stamp(self, token: Any) -> Any:
        with self._changed:  # no notify: the watchdog reads the stamp when its slice ends
            self._last[int(token)] = time.monotonic()
        return token

    def finish(self, token: Any) -> Iterator[int]:
        with self._changed:
            self._done.add(int(token))
            self._changed.notify_all()
        return iter(())

    def watch(self, token: Any) -> Iterator[int]:
        token = int(token)
        try:
            while True:
                slice_end = time.monotonic() + _WATCH_SLICE
                with self._changed:
                    while token not in self._done and time.monotonic() < slice_end:
                        self._changed.wait(slice_end - time.monotonic())
                    if token in self._done:
                        return
                    silent = time.monotonic() - self._last[token]
                if silent >= self._timeout:
                    raise ServiceTimeoutError(
                        f"the tf.data service at {self._service} sent no batch for {silent:.0f} s "
                        f"(service_timeout={self._timeout:g}): a worker died mid-epoch, or none "
                        f"is left (tf.data's client would wait for it forever)"
                    )
                yield 0  # a heartbeat, dropped after the race
        finally:
            with self._changed:
                self._last.pop(token, None)
                self._done.discard(token)


def _with_watchdog(distributed: tf.data.Dataset, service: str, timeout: float) -> tf.data.Dataset:
    """Race ``distributed`` against a watchdog that fails after ``timeout`` s without a batch.

    Both branches of the race yield ``tf.experimental.Optional`` values of
    the batches' spec (the heartbeats empty ones), so they have one element
    spec whatever the batches hold (dense, ragged or sparse).
    """
    watchdog = _Watchdog(service, timeout)
    spec = distributed.element_spec
    ticks = tf.TensorSpec([], tf.int64)

    def race(token: tf.Tensor) -> tf.data.Dataset:
        def stamped(*element: Any) -> tf.experimental.Optional:
            stamp = tf.numpy_function(watchdog.stamp, [token], tf.int64, stateful=True)
            with tf.control_dependencies([stamp]):
                element = tf.nest.map_structure(tf.identity, element)
            return tf.experimental.Optional.from_value(
                element[0] if len(element) == 1 else element)

        def heartbeats(generator: Any) -> tf.data.Dataset:
            return tf.data.Dataset.from_generator(
                generator, args=(token,), output_signature=ticks,
            ).map(lambda _: tf.experimental.Optional.empty(spec))

        batches = distributed.map(stamped).concatenate(heartbeats(watchdog.finish))
        branches = tf.data.Dataset.from_tensors(batches).concatenate(
            tf.data.Dataset.from_tensors(heartbeats(watchdog.watch)))
        return branches.interleave(lambda branch: branch, cycle_length=2,
                                   num_parallel_calls=2, deterministic=False)

    tokens = tf.data.Dataset.from_generator(lambda: iter((watchdog.start(),)),
                                            output_signature=ticks)
    return tokens.flat_map(race).filter(lambda batch: batch.has_value()).map(
        lambda batch: batch.get_value())


def distribute_bounded(
    dataset: tf.data.Dataset, service: str, timeout: float
) -> tf.data.Dataset:
    """Run ``dataset`` on the tf.data service at ``service`` (``distributed_epoch``), bounded.

    ``service`` is ``HOST:PORT`` or ``grpc://HOST:PORT``. Raises
    :class:`ServiceTimeoutError` now when the dispatcher does not answer or
    has no worker within ``timeout`` seconds; the returned dataset raises it
    (wrapped in a ``tf.errors.OpError`` whose message names the service)
    when an epoch gets no batch for ``timeout`` seconds.
    """
    service = parse_service_address(service, name="service").url
    wait_for_workers(service, timeout)
    distributed = dataset.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service=service))
    return _with_watchdog(distributed, service, timeout)
