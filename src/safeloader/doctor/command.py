"""``safeloader doctor [options] SCRIPT [script args...]``: the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Iterator

from safeloader.doctor.interrupts import ctrl_c_handled, end_worker_processes
from safeloader.doctor.options import DEFAULT_STEPS, DEFAULT_WARMUP, DoctorOptions
from safeloader.doctor.report import EXIT_ERROR, exit_status, render_text, to_json
from safeloader.doctor.runner import run_doctor


def _count(minimum: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text!r}")
    return value


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr: the script's prints and what libraries write
    there from C alike, so that stdout holds the JSON report alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The doctor's options, then ``SCRIPT`` and the script's own arguments, untouched."""
    parser.add_argument("--steps", type=_count(1), default=DEFAULT_STEPS, metavar="N",
                        help=f"steps measured per call, after the warm-up (default "
                             f"{DEFAULT_STEPS})")
    parser.add_argument("--warmup", type=_count(0), default=DEFAULT_WARMUP, metavar="N",
                        help=f"steps left out at the start of each call (default "
                             f"{DEFAULT_WARMUP}; plus twice the queue of Keras' own workers)")
    parser.add_argument("--no-spawn", action="store_true",
                        help="skip spawn parity (pickling datasets bound for worker "
                             "processes, and SLD103)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON on stdout (the script's own output "
                             "goes to stderr)")
    parser.add_argument("--max-input-bound", type=_share, metavar="X",
                        help="exit 1 when a call waits for input more than this share of "
                             "its step time (for CI)")
    parser.add_argument("script", metavar="SCRIPT", help="the training script to run")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, metavar="...",
                        help="the script's own arguments")


def run_command(args: argparse.Namespace) -> int:
    """Run the doctor as parsed by :func:`add_arguments`; return the exit status."""
    if not os.path.isfile(args.script):
        print(f"safeloader doctor: {args.script}: no such file", file=sys.stderr)
        return EXIT_ERROR
    options = DoctorOptions(args.script, steps=args.steps, warmup=args.warmup,
                            spawn=not args.no_spawn, max_input_bound=args.max_input_bound)
    script_output = _stdout_to_stderr() if args.json else contextlib.nullcontext()
    with script_output, ctrl_c_handled():
        run = run_doctor(options, args.script_args)
    if run.status == "interrupted":
        end_worker_processes()
    sys.stdout.flush()
    if run.traceback:
        print(run.traceback, file=sys.stderr, end="", flush=True)
    if args.json:
        print(json.dumps(to_json(run), indent=2))
    else:
        print("\n" + render_text(run))
    return exit_status(run, options)
