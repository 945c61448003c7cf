"""The ``safeloader`` command: ``demo``, ``rule CODE``, ``lint PATH...``,
``keras-version PATH...``, ``bench``, ``doctor SCRIPT`` and ``service``."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Sequence

from safeloader import __version__
from safeloader.analysis.config import KERAS_VERSIONS
from safeloader.doctor.command import add_arguments as add_doctor_arguments
from safeloader.service_address import (
    MAX_PORT,
    PortUnavailableError,
    ServiceAddressError,
    check_host,
    check_port,
    check_port_free,
    check_timeout,
    parse_service_address,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``safeloader`` command."""
    parser = argparse.ArgumentParser(
        prog="safeloader",
        description="Safe and fast feeding of training data to Keras.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="show the thread-safety hazard, its fixes and the faster loaders"
    )
    rule = commands.add_parser("rule", help="print the documentation of a rule")
    rule.add_argument("code", help="a rule code such as SLD101, or 'all'")
    from safeloader.lint import add_lint_arguments

    add_lint_arguments(commands.add_parser(
        "lint", help="report the SLD findings of Python files and notebooks, as flake8 "
                     "decides what to report"))
    keras = commands.add_parser(
        "keras-version", help="say which Keras each file is checked against, and why"
    )
    keras.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")
    keras.add_argument("--keras-version", choices=KERAS_VERSIONS,
                       help="as flake8's --safeloader-keras-version (default: the flake8 "
                       "configuration's, else auto)")
    bench = commands.add_parser("bench", help="measure the TFRecord loader against alternatives")
    bench.add_argument("--records", type=int, default=100_000, help="records to write")
    bench.add_argument("--data", help="read TFRecords from DIR instead of writing a synthetic set")
    bench.add_argument("--plot", help="write a bar chart to FILE.png")
    bench.add_argument("--graph", action="store_true",
                       help="only the loader against the raw read, drained inside a "
                            "tf.function (where Keras consumes it), autotuning off for both")
    bench.add_argument("--cores", type=_core_counts, default=(), metavar="N,N,...",
                       help="with --graph: also each reader pinned to 1, 2, ... cores "
                            "(a fresh process each), e.g. 1,2,4,8,16")
    doctor = commands.add_parser(
        "doctor", help="run a training script briefly: input-bound share and run-time hazards")
    add_doctor_arguments(doctor)
    _add_service_parser(commands)
    return parser


def _core_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected core counts such as 1,2,4, got {text!r}")
    return counts


def _add_service_parser(commands: argparse._SubParsersAction) -> None:
    service = commands.add_parser(
        "service", help="run a tf.data service dispatcher or worker (prints its address, "
                        "stops on SIGTERM)")
    servers = service.add_subparsers(dest="server", required=True)
    dispatcher = servers.add_parser("dispatcher", help="start a tf.data service dispatcher")
    dispatcher.add_argument("--port", type=_port, required=True,
                            help=f"port to serve on, 0-{MAX_PORT} (0: any free port)")
    dispatcher.add_argument("--work-dir", help="journal the state here: a restarted dispatcher "
                                               "resumes it (fault-tolerant mode)")
    dispatcher.add_argument("--worker-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                            help="a worker silent this long counts as lost (default 10)")
    worker = servers.add_parser("worker", help="start a tf.data service worker")
    worker.add_argument("--dispatcher", required=True, type=_dispatcher,
                        metavar="HOST:PORT",
                        help="the dispatcher's address: HOST:PORT or grpc://HOST:PORT "
                             "(an IPv6 host in brackets: [::1]:5050)")
    worker.add_argument("--port", type=_port, default=0,
                        help=f"port to serve on, 0-{MAX_PORT} (default 0: any free port)")
    worker.add_argument("--dispatcher-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                        help="give up when the dispatcher has not answered after this long "
                             "(default 60)")
    for parser in (dispatcher, worker):
        parser.add_argument("--host", type=_host, default=socket.gethostname(),
                            help="the name clients reach this server by (default: this "
                                 "machine's host name)")


# argparse turns the ValueError of these checks into "invalid ... value" without
# the reason, so each one reports its check's own message.
def _port(text: str) -> int:
    try:
        return check_port(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number: give 0 to {MAX_PORT} (0: any free port)") from None


def _host(text: str) -> str:
    try:
        return check_host(text)
    except ServiceAddressError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a host name or IP address") from None


def _dispatcher(text: str) -> str:
    try:
        return parse_service_address(text).url
    except ServiceAddressError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(text: str) -> float:
    try:
        return check_timeout(float(text), "SECONDS")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of seconds") from None


def _run_service(args: argparse.Namespace) -> int:
    # A port that cannot be served is told before TensorFlow loads (seconds, and
    # its start-up chatter on standard error); the servers check it again.
    try:
        check_port_free(args.port)
    except PortUnavailableError as error:
        print(f"safeloader service {args.server}: {error}", file=sys.stderr)
        return 1
    from safeloader.data import service_servers

    if args.server == "dispatcher":
        return service_servers.run_dispatcher(args.port, args.work_dir, args.host,
                                              args.worker_timeout)
    return service_servers.run_worker(args.dispatcher, args.port, args.host,
                                      args.dispatcher_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``safeloader`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from safeloader.demo import run_demo

        return run_demo()
    if args.command == "rule":
        from safeloader.rules import print_rule_docs

        return print_rule_docs(args.code)
    if args.command == "service":
        return _run_service(args)
    if args.command == "lint":
        from safeloader.lint import lint

        return lint(args)
    if args.command == "doctor":
        from safeloader.doctor.command import run_command

        return run_command(args)
    if args.command == "keras-version":
        from safeloader.keras_version_cli import report_keras_versions

        return report_keras_versions(args.paths, args.keras_version)
    from safeloader.data.bench import run_bench

    return run_bench(records=args.records, data_dir=args.data, plot=args.plot,
                     graph=args.graph, cores=args.cores)


if __name__ == "__main__":
    sys.exit(main())
