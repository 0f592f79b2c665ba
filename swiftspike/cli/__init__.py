"""The ``swiftspike`` command line. Each sub-module registers its own sub-commands; every shared
option, argument check and runtime setting lives in :mod:`swiftspike.cli.common`.

Exit codes: 0 success, 2 bad input (one ``error:`` line on stderr, never a traceback), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence

from .._version import __version__
from . import asynch, baseline, bench, convert, files, topspark, tune
from .common import Parser, UsageError, add_runtime_flags, check_args, error_line, runtime


def _leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command parser under ``parser`` that has no sub-commands of its own (``bench lif``, ``train``, ...)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    seen: set[int] = set()
    for action in subs:
        for child in action.choices.values():
            if id(child) not in seen:  # aliases share a parser
                seen.add(id(child))
                yield from _leaves(child)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="swiftspike",
        description="Spiking neural networks that decide fast with few spikes.",
    )
    parser.add_argument("--version", action="version", version=f"swiftspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (baseline, bench, asynch, convert, topspark, tune, files):
        module.register(sub)
    for leaf in _leaves(parser):  # the runtime options, defined once, on every command
        if leaf is not parser:
            add_runtime_flags(leaf)
            leaf.set_defaults(prog=leaf.prog)
    return parser


def _interrupted(args: argparse.Namespace | None) -> str:
    hint = getattr(args, "interrupt_hint", None) if args is not None else None
    if hint:
        return f"interrupted; {hint}"
    if args is not None and getattr(args, "checkpoint", None) and hasattr(args, "resume"):
        return f"interrupted; the last completed epoch is in {args.checkpoint}: add --resume to continue"
    return "interrupted"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        check_args(args)
        with runtime(args):
            return int(args.func(args) or 0)
    except UsageError as e:
        print(f"{e.prog}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"swiftspike: {_interrupted(args)}", file=sys.stderr)
        return 130
    except Exception as e:
        line = error_line(e)
        if line is None:
            raise  # a bug, not bad input: keep the traceback
        print(f"swiftspike: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
