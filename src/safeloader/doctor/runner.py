"""Run the user's script as ``python SCRIPT ARGS`` would, under the instruments.

The script runs in this process, as the module ``__main__``,
with ``sys.argv`` set to ``[SCRIPT, *ARGS]`` and ``sys.path[0]`` to the
script's directory, so its imports, its argument parsing and its
``if __name__ == "__main__":`` block behave as they would without the
doctor. A spawned worker process finds the script through
``__main__.__file__``, as it would.

How the script ends is recorded, not raised: a normal end or ``sys.exit(0)``
completes; another exit status or an exception fails (the traceback is kept
as Python prints it, less the doctor's own frames); Ctrl-C interrupts.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import traceback
import types
from typing import Sequence

from safeloader.doctor.callsite import package_root
from safeloader.doctor.options import DoctorOptions
from safeloader.doctor.results import DoctorRun
from safeloader.doctor.session import DoctorSession

_HIDDEN = (package_root(__file__),)


def run_doctor(options: DoctorOptions, argv: Sequence[str] = ()) -> DoctorRun:
    """Run ``options.script`` with ``argv`` under the instruments; return what was seen."""
    run = DoctorRun(options.script, list(argv))
    session = DoctorSession(options, run)
    saved_argv, saved_path = sys.argv, sys.path[:]
    sys.argv = [options.script, *argv]
    script_dir = os.path.dirname(os.path.abspath(options.script))
    if sys.path:
        sys.path[0] = script_dir
    else:
        sys.path.append(script_dir)
    session.install()
    try:
        run_as_main(options.script)
    except SystemExit as exit_:
        _record_exit(run, exit_)
    except KeyboardInterrupt:
        run.status = "interrupted"
    except Exception as error:  # noqa: BLE001 - the script's own failure, reported
        run.status = "failed"
        run.error = "".join(traceback.format_exception_only(type(error), error)).strip()
        run.traceback = script_traceback(error)
    finally:
        session.uninstall()
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return run


def run_as_main(script: str) -> None:
    """Execute ``script`` as the module ``__main__``, as ``python SCRIPT`` does.

    Not ``runpy.run_path``: it sets ``sys.argv[0]`` to the path it runs, and
    Python keeps the path as typed there while it runs the code under the
    absolute path (the ``__file__`` and the frames a traceback shows).
    """
    path = os.path.abspath(script)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__spec__ = None
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec", dont_inherit=True)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main  # for pickle, and for spawned workers to find the script
    try:
        exec(code, main.__dict__)  # noqa: S102 - running the user's script is the point
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _record_exit(run: DoctorRun, exit_: SystemExit) -> None:
    code = exit_.code
    if code is None or code == 0:
        return
    run.status = "failed"
    if isinstance(code, int):
        run.exit_status = code
        run.error = f"the script exited with status {code}"
    else:  # sys.exit("message"): Python prints the message and exits with 1
        run.exit_status = 1
        run.error = str(code)
        run.traceback = f"{code}\n"


def script_traceback(error: BaseException) -> str:
    """``error``'s traceback as ``python SCRIPT`` would print it: the doctor's frames
    left out, chained exceptions kept."""
    report = traceback.TracebackException.from_exception(error)
    _hide_frames(report, set())
    return "".join(report.format())


def _hide_frames(report: traceback.TracebackException, seen: set[int]) -> None:
    if id(report) in seen:
        return
    seen.add(id(report))
    kept = [frame for frame in report.stack
            if not frame.filename.startswith(_HIDDEN)
            and not os.path.abspath(frame.filename).startswith(_HIDDEN)]
    report.stack = traceback.StackSummary.from_list(kept)
    for chained in (report.__cause__, report.__context__):
        if chained is not None:
            _hide_frames(chained, seen)
