"""The ``swiftspike`` command line. Each sub-module registers its own sub-commands."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..errors import SwiftSpikeError
from . import asynch, baseline, bench, convert, topspark, tune


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swiftspike",
        description="Spiking neural networks that decide fast with few spikes.",
    )
    parser.add_argument("--version", action="version", version="swiftspike 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (baseline, bench, asynch, convert, topspark, tune):
        module.register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SwiftSpikeError as e:
        print(f"swiftspike: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("swiftspike: interrupted (checkpoints are complete; rerun with --resume to continue)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
