"""The harness's own faults, each with the exit code and a message that says how to fix it.

A reproduced bug is a result, never an exception: these are for bad input and broken set-ups only.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A fault of the harness or its input; the CLI prints the message and exits with ``code``."""

    code = 2

    def __init__(self, message: str) -> None:
        # Always one line, even when it quotes a key or value that holds a line break (found by the
        # property tests): a user reads the error, a CI log greps it.
        message = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
        super().__init__(message)
        self.message = message


class ConfigError(HarnessError):
    """A scenario or matrix file that cannot be used; the message names the file and the key."""


class InputError(HarnessError):
    """A command-line option that cannot be used (unknown pip release, Python without interpreter)."""


class EngineUnavailable(HarnessError):
    """The chosen engine cannot run here; the message says how to start or install it."""
