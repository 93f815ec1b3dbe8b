"""``images``: build the docker images the matrix needs (reused when present)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from isolation_harness.commands import common

NAME = "images"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    images = sub.add_parser(NAME, help="build the docker images the matrix needs (reused when present)")
    images.add_argument("--python", action="append", default=[], metavar="X.Y", help="only these Pythons")
    images.add_argument("--matrix", type=Path, default=None, help=common.MATRIX_HELP)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.engines.docker import DockerEngine

    pythons = args.python or list(common.Inputs.of(args).matrix().pythons)
    engine = DockerEngine(log=common.log)
    for python in pythons:
        start = time.monotonic()
        image = engine.images.get(python)
        took = time.monotonic() - start
        print(f"{image.tag}  {image.id[:19]}  Python {image.version}  ({image.recipe}, {took:.1f} s)")
    return 0
