"""Running one function over many files, in a process pool or not, so that Ctrl-C
stops it between files.

On the first SIGINT the main process sets a stop event instead of raising
``KeyboardInterrupt``: no file is started after it, the files being worked on
are finished (each is written atomically, so every file is old or new), and
the caller gets the results of the files that were done. Worker processes
ignore SIGINT (a terminal sends it to the whole process group) and read the
event before each file. A second Ctrl-C raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from types import FrameType
from typing import Callable, Iterator, Sequence, TypeVar

from safeloader.fix.progress import ProgressBar

_T = TypeVar("_T")
_R = TypeVar("_R")

#: the stop event of the run that started this worker process, set by the pool's
#: initializer (a multiprocessing event can reach a worker only at its start)
_worker_stop: Event | None = None


def _start_method() -> str | None:
    """Processes start from a clean server process where the platform has one
    (forking a process that runs threads, such as a test runner that has
    imported TensorFlow, can deadlock the child)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None


class Interruptible:
    """A stop event shared with worker processes, set by Ctrl-C while :meth:`catching`."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context(_start_method())
        self.stop = self._context.Event()

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C was pressed."""
        return self.stop.is_set()

    @contextmanager
    def catching(self) -> Iterator[None]:
        """Within the block, the first SIGINT sets :attr:`stop` (in the main thread only:
        Python delivers signals there)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stop.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def pool(self, jobs: int) -> ProcessPoolExecutor:
        """A pool of ``jobs`` worker processes that know :attr:`stop`."""
        return ProcessPoolExecutor(
            jobs, mp_context=self._context, initializer=_start_worker, initargs=(self.stop,)
        )

    def map(
        self, function: Callable[[_T], _R], items: Sequence[_T], pool: ProcessPoolExecutor | None,
        jobs: int, progress: ProgressBar,
    ) -> list[_R]:
        """``[function(item) for item in items]``, in ``pool`` (of ``jobs`` processes)
        when given, stopping before the first item not started when :attr:`stop` is
        set: the results of the items done, in order (a prefix of each chunk)."""
        if pool is None:
            results = []
            for item in items:
                if self.interrupted:
                    break
                results.append(function(item))
                progress.advance()
            return results
        size = max(1, len(items) // (8 * jobs))
        futures = [
            pool.submit(_run_chunk, function, items[start:start + size])
            for start in range(0, len(items), size)
        ]
        collected: list[_R] = []
        for future in futures:
            done = future.result()
            collected.extend(done)
            progress.advance(len(done))
        return collected


def _start_worker(stop: Event) -> None:
    global _worker_stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_stop = stop


def _run_chunk(function: Callable[[_T], _R], chunk: Sequence[_T]) -> list[_R]:
    results = []
    for item in chunk:
        if _worker_stop is not None and _worker_stop.is_set():
            break
        results.append(function(item))
    return results
