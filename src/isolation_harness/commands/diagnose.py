"""``diagnose``: what a project's isolated build saw in the user's environment, and in a clean one."""

from __future__ import annotations

import argparse
import json
import shutil

from isolation_harness import frontends
from isolation_harness.commands import common
from isolation_harness.errors import InputError

NAME = "diagnose"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diag = sub.add_parser(NAME, help="what did a project's isolated build see, in your environment and a clean one")
    diag.add_argument("project", help="a project folder, an sdist, or a git+URL")
    diag.add_argument("--env-python", default=None, help="the environment to diagnose (default: python3 on PATH)")
    choices = frontends.names(diagnose=True)
    diag.add_argument("--frontend", default="pip", choices=choices, help=f"one of {', '.join(choices)} (default pip)")
    diag.add_argument("--pip", default=None, help="pip release for the clean build (default: the environment's)")
    diag.add_argument(
        "--python", default=None, metavar="X.Y", help="Python for the clean build (default: the environment's)"
    )
    diag.add_argument("--json", action="store_true", help="print the diagnosis as a JSON record")
    common.engine_options(diag)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.diagnose import account, run_diagnosis

    env_python = args.env_python or shutil.which("python3") or shutil.which("python")
    if env_python is None:
        raise InputError("--env-python: no python3 on PATH; name the environment's interpreter")
    engine = common.engine(args, None)
    diagnosis = run_diagnosis(
        args.project,
        env_python=env_python,
        python=args.python,
        pip=args.pip,
        engine=engine,
        wheelhouse=common.wheelhouse(args),
        frontend=args.frontend,
    )
    print(json.dumps(diagnosis.record(), indent=1, default=str) if args.json else account(diagnosis))
    return 0 if diagnosis.verdict.value == "held" else 1
