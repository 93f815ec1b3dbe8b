"""The command line: parse, call the subcommand's ``main`` (one module each, in commands/), and map
errors to exit codes: 2 for bad input with the fix named, 130 for an interrupt, the command's own
code otherwise."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from isolation_harness import __version__
from isolation_harness.commands import COMMANDS
from isolation_harness.commands.common import log
from isolation_harness.errors import HarnessError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="isolation-harness", description="Replay build-isolation bugs.")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {c.NAME: c.main for c in COMMANDS}
    handler = handlers[args.command]
    try:
        return handler(args)
    except HarnessError as exc:
        log(f"error: {exc.message}")
        return exc.code
    except KeyboardInterrupt:
        log("interrupted; finished records are kept")
        return 130


if __name__ == "__main__":
    sys.exit(main())
