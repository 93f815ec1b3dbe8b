"""One module per subcommand: ``add(subparsers)`` declares its options, ``main(args)`` does it.

The command line (cli.py) only parses, calls the subcommand's ``main`` and maps errors to exit codes;
what the subcommands share (inputs, engine, progress) is in common.py.
"""

from __future__ import annotations

from isolation_harness.commands import (
    bench,
    bisect,
    cache,
    catalogue,
    compare,
    diagnose,
    images,
    listing,
    merge,
    replay,
    report,
    repro,
    run,
    shards,
    table,
    validate,
)

# In the order `isolation-harness --help` lists them.
COMMANDS = (
    run,
    listing,
    images,
    table,
    report,
    catalogue,
    compare,
    repro,
    bisect,
    validate,
    shards,
    merge,
    cache,
    diagnose,
    bench,
    replay,
)
