"""The ``safeloader`` command: ``demo``, ``rule CODE`` and ``bench``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from safeloader import __version__


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
    bench = commands.add_parser("bench", help="measure the TFRecord loader against alternatives")
    bench.add_argument("--records", type=int, default=100_000, help="records to write")
    bench.add_argument("--data", help="read TFRecords from DIR instead of writing a synthetic set")
    bench.add_argument("--plot", help="write a bar chart to FILE.png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``safeloader`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from safeloader.demo import run_demo

        return run_demo()
    if args.command == "rule":
        from safeloader.rules import print_rule_docs

        return print_rule_docs(args.code)
    from safeloader.data.bench import run_bench

    return run_bench(records=args.records, data_dir=args.data, plot=args.plot)


if __name__ == "__main__":
    sys.exit(main())
