"""Ctrl-C while a script trains: stop it, and leave no worker process behind.

Left to itself, Ctrl-C in a terminal sends ``SIGINT`` to the whole process
group: Keras' pool workers die with ``KeyboardInterrupt`` while the main
thread waits, inside TensorFlow's C++ code, for a batch that no worker will
now deliver, and the run hangs. So while the script runs, the doctor blocks
``SIGINT`` in its threads (before TensorFlow starts any, so theirs and the
workers' inherit the block) and receives it in a thread of its own:

1. the first Ctrl-C is forwarded to the main thread (``_thread.interrupt_main``,
   which runs the script's ``SIGINT`` handler, by default a
   ``KeyboardInterrupt``) at its next Python instruction: workers still alive,
   the step in progress ends and the script unwinds through its ``finally``
   blocks;
2. if the run has not ended :data:`GRACE_SECONDS` later, or at a second
   Ctrl-C, the worker processes are terminated (killed if they linger) and
   the doctor exits with status 130 at once.

Processes the script starts inherit the block (``fork`` and ``exec`` both keep
it): worker processes are ended by the doctor, not by Ctrl-C.
"""

from __future__ import annotations

import _thread
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from typing import Iterator

#: How long the script may take to unwind after the first Ctrl-C.
GRACE_SECONDS = 10.0
#: How long terminated workers get before they are killed.
_TERMINATE_SECONDS = 3.0


def end_worker_processes() -> None:
    """Terminate this process's ``multiprocessing`` children; kill those that linger."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(_TERMINATE_SECONDS)
        if child.is_alive():
            child.kill()
            child.join(_TERMINATE_SECONDS)


def _force_exit() -> None:
    print("\nsafeloader doctor: interrupted; stopping worker processes", file=sys.stderr,
          flush=True)
    end_worker_processes()
    os._exit(130)


@contextlib.contextmanager
def ctrl_c_handled() -> Iterator[None]:
    """Receive ``SIGINT`` in a thread of the doctor's for the duration of the block.

    Outside the main thread, or where threads cannot wait for signals, the
    block runs with Python's own handling.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "sigwait"
    ):
        yield
        return
    done = threading.Event()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def receive() -> None:
        received = 0
        timer: threading.Timer | None = None
        while True:
            signal.sigwait({signal.SIGINT})
            if done.is_set():
                if timer is not None:
                    timer.cancel()
                return
            received += 1
            if received == 1:
                _thread.interrupt_main(signal.SIGINT)
                timer = threading.Timer(GRACE_SECONDS, _force_exit)
                timer.daemon = True
                timer.start()
            else:
                _force_exit()

    receiver = threading.Thread(target=receive, name="safeloader-doctor-ctrl-c", daemon=True)
    receiver.start()
    try:
        yield
    finally:
        done.set()
        signal.pthread_kill(receiver.ident, signal.SIGINT)  # type: ignore[arg-type]
        receiver.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
