"""A rehearsal of the GitHub workflows and the composite action, run for real on this machine.

``python -m tests.rehearse`` (or ``nox -s rehearse``) executes ``.github/workflows/regression.yml``,
``.github/workflows/ci.yml`` and ``action.yml`` (through the caller snippet in README.md). The ``run:``
steps are read from the YAML files, never retyped, and run in job order with the ``env:``, inputs and
``${{ }}`` expressions the workflow sets, ``bash -e`` as GitHub runs them. ``uses:`` steps get local
stand-ins with the same effect (see ``STANDINS``); a ``gh`` stand-in on ``PATH`` serves the previous
baseline and records ``issue create`` / ``issue comment``. Every construct the rehearsal does not know
(an expression form, a step key, an action) is an error, never silently ignored.

Each job gets a fresh workspace: a ``git clone`` of the repository's HEAD, so the rehearsal tests
committed code. It asserts what the workflows promise (see ``main``) and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "isolation-harness/isolation-harness"  # github.repository, and the composite action's name
SERVER_URL = "https://github.com"
ISSUE_TITLE = "isolation-harness: build-isolation regression"

# The regression run the rehearsal dispatches: two shards of a few cells each.
DISPATCH_INPUTS = {"scenarios": "metapath", "pythons": "3.11 3.12", "pip": "26.3"}
# The composite action's run, narrowed through its inputs (the README snippet may show the same).
ACTION_INPUTS = {"scenarios": "metapath", "pythons": "3.11"}
ACTION_PIP_RELEASE = "25.0"  # the local pip checkout is made from this release's sdist
ACTION_REGRESSION_HOOKS = "1.0.0"  # overlaid on that pip: metapath goes from leaked back to broke

# The runner's environment on top of this machine's: what a runner has, plus the rehearsal's deviations.
RUNNER_ENV = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "RUNNER_OS": "Linux",
    "RUNNER_ARCH": "X64",
    # No registry here: the slim recipe builds on a local offline stand-in of python:X.Y-slim.
    "ISOLATION_HARNESS_SLIM_BASE": "standin",
}
# ci.yml's `nox -s tests` in the rehearsal: no engine, docker or rehearsal tests (the outer CI runs
# them; running them here would recurse and double CI's time).
CI_PYTEST_ADDOPTS = '-m "not engine and not docker and not rehearsal"'


class RehearsalError(Exception):
    """The rehearsal cannot go on: a construct it does not know, or a stand-in used in a way it does not serve."""


class ExpressionError(RehearsalError):
    """A ``${{ }}`` expression the rehearsal's evaluator does not know, or one that names nothing."""


# ---------------------------------------------------------------------------------------------------
# Expressions: exactly the forms the workflows and action.yml use.
#   inputs.X, matrix.X, needs.J.outputs.X, needs.J.result, steps.S.outputs.X, steps.S.outcome,
#   github.X, env.X, fromJSON(x), always(), success(), ==, !=, &&, ||, ( ), 'string literals'

Node = tuple[Any, ...]
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||[(),.])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))\s*")
_FUNCTIONS = {"fromjson": 1, "always": 0, "success": 0}
_STATUS_FUNCTIONS = {"always", "success", "failure", "cancelled"}
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@dataclass
class JobOutcome:
    result: str  # success, failure or skipped
    outputs: dict[str, str]
    folders: list[Path] = field(default_factory=list)  # each run's folder (work/ is its workspace)


@dataclass
class StepOutcome:
    outcome: str  # success, failure or skipped
    outputs: dict[str, str]


@dataclass
class Context:
    """What an expression can see."""

    github: dict[str, str]
    env: dict[str, str]
    inputs: dict[str, str] | None = None
    matrix: dict[str, Any] | None = None
    needs: dict[str, JobOutcome] = field(default_factory=dict)
    steps: dict[str, StepOutcome] = field(default_factory=dict)
    step_ids: frozenset[str] = frozenset()  # ids declared in the job (or action): others are errors
    success: bool = True  # success(): no earlier step (or needed job) failed


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unsupported syntax at {text[pos:]!r} in ${{{{ {text.strip()} }}}}")
        kind = match.lastgroup
        if kind is None:  # only whitespace left
            break
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.tokens = _tokens(text)
        self.i = 0

    def _error(self, what: str) -> ExpressionError:
        return ExpressionError(f"{what} in ${{{{ {self.text} }}}} (the rehearsal evaluates only the forms it lists)")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise self._error("unexpected end")
        self.i += 1
        return token

    def _expect(self, op: str) -> None:
        if self._take() != ("op", op):
            raise self._error(f"expected {op!r}")

    def parse(self) -> Node:
        node = self._or()
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return node

    def _or(self) -> Node:
        node = self._and()
        while self._peek() == ("op", "||"):
            self.i += 1
            node = ("||", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._compare()
        while self._peek() == ("op", "&&"):
            self.i += 1
            node = ("&&", node, self._compare())
        return node

    def _compare(self) -> Node:
        left = self._primary()
        token = self._peek()
        if token is not None and token in (("op", "=="), ("op", "!=")):
            self.i += 1
            return (token[1], left, self._primary())
        return left

    def _primary(self) -> Node:
        kind, value = self._take()
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"))
        if (kind, value) == ("op", "("):
            node = self._or()
            self._expect(")")
            return node
        if kind != "name":
            raise self._error(f"unexpected {value!r}")
        if self._peek() == ("op", "("):
            self.i += 1
            if value.lower() not in _FUNCTIONS:
                raise self._error(f"unsupported function {value}()")
            args: list[Node] = []
            if self._peek() != ("op", ")"):
                args.append(self._or())
                while self._peek() == ("op", ","):
                    self.i += 1
                    args.append(self._or())
            self._expect(")")
            if len(args) != _FUNCTIONS[value.lower()]:
                raise self._error(f"{value}() takes {_FUNCTIONS[value.lower()]} argument(s)")
            return ("call", value.lower(), args)
        parts = [value]
        while self._peek() == ("op", "."):
            self.i += 1
            kind, part = self._take()
            if kind != "name":
                raise self._error(f"unexpected {part!r} after '.'")
            parts.append(part)
        if len(parts) == 1:
            raise self._error(f"unsupported bare name {value!r}")
        return ("path", parts)


def parse_expression(text: str) -> Node:
    return _Parser(text).parse()


def _one(mapping: dict[str, Any] | None, rest: list[str], what: str) -> Any:
    if mapping is None:
        raise ExpressionError(f"{what}: no such context here")
    if len(rest) != 1:
        raise ExpressionError(f"{what}.{'.'.join(rest)}: the rehearsal reads one level of {what}")
    if rest[0] not in mapping:
        raise ExpressionError(f"{what}.{rest[0]}: not defined (known: {', '.join(sorted(mapping)) or 'none'})")
    return mapping[rest[0]]


def _unsupported(parts: list[str]) -> ExpressionError:
    return ExpressionError(f"{'.'.join(parts)}: unsupported context or property")


def _needs_context(rest: list[str], ctx: Context, parts: list[str]) -> Any:
    if not rest or rest[0] not in ctx.needs:
        raise ExpressionError(f"needs.{'.'.join(rest)}: not a job this job needs ({', '.join(ctx.needs)})")
    job = ctx.needs[rest[0]]
    if rest[1:] == ["result"]:
        return job.result
    if len(rest) == 3 and rest[1] == "outputs":
        if rest[2] not in job.outputs:
            raise ExpressionError(f"needs.{rest[0]}.outputs.{rest[2]}: the job declares no such output")
        return job.outputs[rest[2]]
    raise _unsupported(parts)


def _steps_context(rest: list[str], ctx: Context, parts: list[str]) -> Any:
    if not rest or rest[0] not in ctx.step_ids:
        raise ExpressionError(f"steps.{'.'.join(rest)}: no step with that id ({', '.join(sorted(ctx.step_ids))})")
    step = ctx.steps.get(rest[0], StepOutcome("skipped", {}))  # not run (yet): GitHub's null
    if rest[1:] in (["outcome"], ["conclusion"]):
        return step.outcome
    if len(rest) == 3 and rest[1] == "outputs":
        return step.outputs.get(rest[2], "")  # an output a step did not set is empty on GitHub too
    raise _unsupported(parts)


def _lookup(parts: list[str], ctx: Context) -> Any:
    root, rest = parts[0], parts[1:]
    flat = {"inputs": ctx.inputs, "matrix": ctx.matrix, "github": ctx.github, "env": ctx.env}
    if root in flat:
        return _one(flat[root], rest, root)
    if root == "needs":
        return _needs_context(rest, ctx, parts)
    if root == "steps":
        return _steps_context(rest, ctx, parts)
    raise _unsupported(parts)


def truthy(value: Any) -> bool:
    return value not in (None, False, "", 0)


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _equal(left: Any, right: Any) -> bool:
    if left is None:
        left = ""
    if right is None:
        right = ""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()  # GitHub compares strings ignoring case
    if type(left) is type(right):
        return bool(left == right)
    raise ExpressionError(f"comparing {type(left).__name__} with {type(right).__name__} is not supported")


def _evaluate(node: Node, ctx: Context) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return _lookup(node[1], ctx)
    if kind == "call":
        name, args = node[1], node[2]
        if name == "always":
            return True
        if name == "success":
            return ctx.success
        text = to_text(_evaluate(args[0], ctx))
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpressionError(f"fromJSON: not JSON: {text!r} ({exc})") from None
    if kind in ("&&", "||"):
        left = _evaluate(node[1], ctx)
        if kind == "&&":
            return _evaluate(node[2], ctx) if truthy(left) else left
        return left if truthy(left) else _evaluate(node[2], ctx)
    equal = _equal(_evaluate(node[1], ctx), _evaluate(node[2], ctx))
    return equal if kind == "==" else not equal


def evaluate(text: str, ctx: Context) -> Any:
    return _evaluate(parse_expression(text), ctx)


def _has_status_call(node: Node) -> bool:
    if node[0] == "call":
        return node[1] in _STATUS_FUNCTIONS or any(_has_status_call(a) for a in node[2])
    if node[0] in ("&&", "||", "==", "!="):
        return _has_status_call(node[1]) or _has_status_call(node[2])
    return False


def interpolate(value: Any, ctx: Context) -> str:
    """A string with every ``${{ }}`` replaced by its value; other YAML scalars as GitHub writes them."""
    if not isinstance(value, str):
        return to_text(value)
    return _EXPR.sub(lambda m: to_text(evaluate(m.group(1), ctx)), value)


def value_of(value: Any, ctx: Context) -> Any:
    """A value that is one whole expression keeps its type (``matrix: ${{ fromJSON(...) }}``)."""
    if isinstance(value, str):
        whole = _EXPR.fullmatch(value.strip())
        if whole:
            return evaluate(whole.group(1), ctx)
        return interpolate(value, ctx)
    return value


def condition(raw: Any, ctx: Context) -> bool:
    """An ``if:``: without a status function GitHub prepends ``success() &&``."""
    if raw is None:
        return ctx.success
    if isinstance(raw, bool):
        return ctx.success and raw
    text = str(raw).strip()
    whole = _EXPR.fullmatch(text)
    if whole:
        text = whole.group(1)
    node = parse_expression(text)
    value = truthy(_evaluate(node, ctx))
    return value if _has_status_call(node) else ctx.success and value


# ---------------------------------------------------------------------------------------------------
# Runner file commands ($GITHUB_OUTPUT, $GITHUB_ENV): name=value and name<<DELIMITER ... DELIMITER


def parse_file_commands(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            start = i
            while i < len(lines) and lines[i] != delimiter:
                i += 1
            if i == len(lines):
                raise RehearsalError(f"file command {name}: no closing {delimiter!r}")
            out[name] = "\n".join(lines[start:i])
            i += 1
        elif eq > 0:
            out[line[:eq]] = line[eq + 1 :]
        else:
            raise RehearsalError(f"file command line {line!r}: neither name=value nor name<<DELIMITER")
    return out


# ---------------------------------------------------------------------------------------------------
# Output


class Transcript:
    """What the rehearsal prints, kept for a copy on disk."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


# ---------------------------------------------------------------------------------------------------
# The gh stand-in: the calls regression.yml's merge job makes, served from a JSON state file.

GH_SCRIPT = """\
#!{python}
# gh stand-in written by the workflow rehearsal (tests/rehearse.py): its state is {state}
import sys

sys.path.insert(0, {root!r})
from tests.rehearse import gh_main

sys.exit(gh_main(sys.argv[1:], {state!r}))
"""


def gh_state(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def write_gh_state(
    path: Path,
    *,
    repository: str = REPOSITORY,
    baseline: Path | None = None,
    issues: list[dict[str, Any]] | None = None,
) -> None:
    """A fresh state: the runs gh can list (one scheduled run with a ``baseline`` artifact when given)."""
    runs = []
    if baseline is not None:
        runs.append(
            {
                "databaseId": 4242,
                "workflow": "regression.yml",
                "event": "schedule",
                "status": "success",
                "artifacts": {"baseline": str(baseline)},
            }
        )
    state = {"repository": repository, "runs": runs, "issues": issues or [], "calls": []}
    path.write_text(json.dumps(state, indent=1))


def install_gh(bin_dir: Path, state: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "gh"
    script.write_text(GH_SCRIPT.format(python=sys.executable, state=str(state), root=str(ROOT)))
    script.chmod(0o755)
    return script


def _gh_args(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            if i + 1 >= len(argv):
                raise RehearsalError(f"gh stand-in: {argv[i]} has no value")
            options[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            positional.append(argv[i])
            i += 1
    return positional, options


_JQ_FIRST = re.compile(r"\.\[0\]\.(\w+) // empty")


def _gh_print_json(rows: list[dict[str, Any]], options: dict[str, str]) -> None:
    fields = options.get("json", "").split(",")
    rows = [{k: row[k] for k in fields} for row in rows]
    jq = options.get("jq")
    if jq is None:
        print(json.dumps(rows))
        return
    match = _JQ_FIRST.fullmatch(jq)
    if not match:
        raise RehearsalError(f"gh stand-in: --jq {jq!r} is not a form it knows ('.[0].FIELD // empty')")
    if rows and rows[0].get(match.group(1)) is not None:
        print(rows[0][match.group(1)])


def gh_main(argv: Sequence[str], state_file: str) -> int:
    """``gh run list|download``, ``gh issue list|create|comment`` as regression.yml calls them."""
    path = Path(state_file)
    state = gh_state(path)
    state["calls"].append(list(argv))
    try:
        return _gh(state, list(argv))
    except RehearsalError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        path.write_text(json.dumps(state, indent=1))


def _gh(state: dict[str, Any], argv: list[str]) -> int:
    if not os.environ.get("GH_TOKEN"):
        print("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.")
        return 4
    positional, options = _gh_args(argv)
    command = positional[:2]
    if options.get("repo") != state["repository"]:
        raise RehearsalError(f"gh stand-in: --repo {options.get('repo')!r}, expected {state['repository']!r}")
    if command == ["run", "list"]:
        runs = [
            r
            for r in state["runs"]
            if r["workflow"] == options.get("workflow", r["workflow"])
            and r["event"] == options.get("event", r["event"])
            and r["status"] == options.get("status", r["status"])
        ]
        _gh_print_json(runs[: int(options.get("limit", "20"))], options)
        return 0
    if command == ["run", "download"] and len(positional) == 3:
        run = next((r for r in state["runs"] if str(r["databaseId"]) == positional[2]), None)
        name = options.get("name", "")
        if run is None or name not in run["artifacts"]:
            raise RehearsalError(f"gh stand-in: no artifact {name!r} in run {positional[2]}")
        shutil.copytree(run["artifacts"][name], Path(options.get("dir", ".")), dirs_exist_ok=True)
        return 0
    if command == ["issue", "list"]:
        search = options.get("search", "")
        if not search.endswith(" in:title"):
            raise RehearsalError(f"gh stand-in: --search {search!r} is not a form it knows ('TEXT in:title')")
        words = search.removesuffix(" in:title").casefold()
        found = [
            i
            for i in reversed(state["issues"])
            if i["state"] == options.get("state", "open") and words in i["title"].casefold()
        ]
        _gh_print_json(found, options)
        return 0
    if command == ["issue", "create"]:
        if not options.get("title") or "body" not in options:
            raise RehearsalError("gh stand-in: issue create needs --title and --body")
        number = 1 + max((i["number"] for i in state["issues"]), default=0)
        state["issues"].append(
            {"number": number, "title": options["title"], "state": "open", "body": options["body"], "comments": []}
        )
        print(f"{SERVER_URL}/{state['repository']}/issues/{number}")
        return 0
    if command == ["issue", "comment"] and len(positional) == 3:
        issue = next((i for i in state["issues"] if str(i["number"]) == positional[2]), None)
        if issue is None or "body" not in options:
            raise RehearsalError(f"gh stand-in: no issue {positional[2]} (or no --body)")
        issue["comments"].append(options["body"])
        print(f"{SERVER_URL}/{state['repository']}/issues/{issue['number']}#issuecomment-{len(issue['comments'])}")
        return 0
    raise RehearsalError(f"gh stand-in: unsupported call: gh {' '.join(argv)}")


def gh_calls(state_file: Path, *command: str) -> list[list[str]]:
    """The recorded calls that start with ``command`` (such as "issue", "create")."""
    return [c for c in gh_state(state_file)["calls"] if c[: len(command)] == list(command)]


# ---------------------------------------------------------------------------------------------------
# Artifacts: upload-artifact v4 and download-artifact v4, as folders


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def upload_artifact(store: Path, name: str, workspace: Path, paths: Sequence[str], *, include_hidden: bool) -> int:
    """Copy into ``store/name``: one path puts its contents (a folder) or itself (a file) at the root;
    several are laid out relative to their least common ancestor. Hidden files stay out (v4.4+).
    Returns the number of files uploaded."""
    if any(p.startswith("!") for p in paths):
        raise RehearsalError("upload-artifact stand-in: exclusion patterns (!) are not supported")
    found: list[Path] = []
    for pattern in paths:
        if any(c in pattern for c in "*?["):
            found += sorted(workspace.glob(pattern))
        elif (workspace / pattern).exists():
            found.append((workspace / pattern).resolve())
    if not found:
        return 0
    dest = store / name
    if dest.exists():
        raise RehearsalError(f"upload-artifact: an artifact named {name!r} already exists in this run (409 Conflict)")
    if len(found) == 1:
        root = found[0] if found[0].is_dir() else found[0].parent
    else:
        root = Path(os.path.commonpath([str(p) for p in found]))
        if root.is_file():
            root = root.parent
    count = 0
    for item in found:
        files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
        for file in files:
            if not include_hidden and _hidden(file, root):
                continue
            target = dest / file.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
            count += 1
    dest.mkdir(parents=True, exist_ok=True)
    return count


def download_artifacts(store: Path, dest: Path, *, name: str | None, pattern: str | None) -> list[str]:
    """``name``: that artifact's files into ``dest``; ``pattern`` (merge-multiple false): each match into
    ``dest/<artifact name>/``. Returns the names downloaded."""
    if name:
        if not (store / name).is_dir():
            raise RehearsalError(f"download-artifact: Artifact not found for name: {name}")
        shutil.copytree(store / name, dest, dirs_exist_ok=True)
        return [name]
    names = sorted(p.name for p in store.iterdir()) if store.is_dir() else []
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    for each in names:
        shutil.copytree(store / each, dest / each, dirs_exist_ok=True)
    return names


# ---------------------------------------------------------------------------------------------------
# Jobs and steps


def find_interpreter(version: str) -> Path:
    """The newest ``$(pyenv root)/versions/X.Y.*/bin/pythonX.Y``."""
    if shutil.which("pyenv"):
        root = Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    else:
        root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    found = [
        p
        for p in (root / "versions").glob(f"{version}.*/bin/python{version}")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", p.parent.parent.name)
    ]
    if not found:
        raise RehearsalError(f"setup-python stand-in: no {root}/versions/{version}.*/bin/python{version}")
    return max(found, key=lambda p: int(p.parent.parent.name.rsplit(".", 1)[1]))


@dataclass
class WorkflowRun:
    """One rehearsed run of a workflow."""

    label: str
    workflow: dict[str, Any]
    workflow_file: str  # for github.workflow and the transcript
    event: str
    inputs: dict[str, str]
    checkout: Path  # the repository actions/checkout clones
    folder: Path
    artifacts: Path
    only: list[str] | None = None  # run only these jobs; the others' outcomes come from `given`
    given: dict[str, JobOutcome] = field(default_factory=dict)
    may_fail: frozenset[str] = frozenset()  # jobs whose failure is an expected result, not a stop
    run_id: int = 1


@dataclass
class JobState:
    label: str
    folder: Path
    work: Path
    temp: Path
    env: dict[str, str]
    path: list[str] = field(default_factory=list)  # $GITHUB_PATH additions, newest first
    failed: bool = False


class Rehearsal:
    def __init__(
        self,
        tmp: Path,
        out: Transcript,
        *,
        repo: Path = ROOT,
        override: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.out = out
        self.repo = repo
        self.override = dict(override or {})
        self.extra_env = dict(extra_env or {})
        self.lines: list[tuple[str, str, float]] = []
        self.bin = tmp / "bin"
        self.gh_state = tmp / "gh-state.json"
        write_gh_state(self.gh_state)
        install_gh(self.bin, self.gh_state)
        self.actions: dict[str, Path] = {}
        self.head = _git(repo, "rev-parse", "HEAD")

    # -- environment

    def base_env(self) -> dict[str, str]:
        """This machine's environment less the rehearsal's own virtual environment, plus a runner's."""
        keep = {"HOME", "LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "SHELL", "TZ", "DOCKER_HOST", "PYENV_ROOT"}
        env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PIP_", "SSL_CERT", "REQUESTS_CA"))}
        own = {str(Path(sys.prefix) / "bin"), os.environ.get("VIRTUAL_ENV", "") + "/bin"}
        path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and p not in own]
        env["PATH"] = os.pathsep.join([str(self.bin), *path])
        env.update(RUNNER_ENV)
        env.update(self.extra_env)
        return env

    def github(self, run: WorkflowRun, job_id: str) -> dict[str, str]:
        return {
            "event_name": run.event,
            "repository": REPOSITORY,
            "repository_owner": REPOSITORY.split("/", maxsplit=1)[0],
            "server_url": SERVER_URL,
            "run_id": str(run.run_id),
            "run_attempt": "1",
            "run_number": str(run.run_id),
            "ref": "refs/heads/main",
            "ref_name": "main",
            "sha": _git(run.checkout, "rev-parse", "HEAD"),
            "token": "rehearsal-token",
            "workflow": str(run.workflow.get("name", run.workflow_file)),
            "job": job_id,
            "actor": "rehearsal",
        }

    def record(self, label: str, status: str, seconds: float, log: Path | None = None) -> None:
        self.lines.append((label, status, seconds))
        self.out.say(f"  {label}: {status} ({seconds:.1f} s)")
        if log is not None and status not in ("ok", "skipped") and log.is_file():
            tail = log.read_text(errors="replace").splitlines()[-25:]
            for line in tail:
                self.out.say(f"      | {line}")
            self.out.say(f"      (log: {log})")

    # -- workflows

    def run_workflow(self, run: WorkflowRun) -> dict[str, JobOutcome]:
        workflow = run.workflow
        _known_keys(workflow, {"name", "on", True, "permissions", "concurrency", "env", "jobs"}, "workflow")
        on = workflow_on(workflow)
        events = [on] if isinstance(on, str) else list(on or [])
        if run.event not in events:
            raise RehearsalError(f"{run.workflow_file}: does not run on {run.event!r} (on: {events})")
        declared: dict[str, Any] = {}
        if isinstance(on, dict) and isinstance(on.get("workflow_dispatch"), dict):
            declared = on["workflow_dispatch"].get("inputs") or {}
        unknown = set(run.inputs) - set(declared)
        if unknown:
            raise RehearsalError(f"{run.workflow_file}: no such workflow_dispatch inputs: {sorted(unknown)}")
        inputs = {k: str(v.get("default", "")) if run.event == "workflow_dispatch" else "" for k, v in declared.items()}
        inputs.update(run.inputs)
        self.out.say(f"{run.label}: {run.workflow_file} on {run.event} {json.dumps(run.inputs) if run.inputs else ''}")
        outcomes = dict(run.given)
        stopped = False
        for job_id in job_order(workflow["jobs"]):
            if run.only is not None and job_id not in run.only:
                if job_id not in outcomes:
                    raise RehearsalError(f"{run.label}: job {job_id} neither run nor given")
                continue
            if stopped:
                self.record(f"{run.label} / {job_id}", "not run (stopped after a failure)", 0.0)
                continue
            outcome = self.run_job(run, job_id, workflow["jobs"][job_id], inputs, outcomes)
            outcomes[job_id] = outcome
            if outcome.result == "failure" and job_id not in run.may_fail:
                stopped = True
        return outcomes

    def run_job(
        self,
        run: WorkflowRun,
        job_id: str,
        job: dict[str, Any],
        inputs: dict[str, str],
        outcomes: dict[str, JobOutcome],
    ) -> JobOutcome:
        _known_keys(
            job, {"name", "runs-on", "permissions", "needs", "if", "outputs", "strategy", "steps", "env"}, job_id
        )
        needs = _needs(job)
        github = self.github(run, job_id)
        workflow_env = {
            k: interpolate(v, Context(github, {}, inputs)) for k, v in (run.workflow.get("env") or {}).items()
        }
        needed = {n: outcomes[n] for n in needs}
        ctx = Context(
            github, workflow_env, inputs, needs=needed, success=all(o.result == "success" for o in needed.values())
        )
        start = time.monotonic()
        if not condition(job.get("if"), ctx):
            self.record(f"{run.label} / {job_id}", "skipped", time.monotonic() - start)
            return JobOutcome("skipped", {})
        combos: list[dict[str, Any] | None] = [None]
        fail_fast = True
        if "strategy" in job:
            strategy = job["strategy"]
            _known_keys(strategy, {"matrix", "fail-fast"}, f"{job_id}.strategy")
            fail_fast = strategy.get("fail-fast", True) not in (False, "false")
            combos = list(expand_matrix(value_of(strategy["matrix"], ctx)))
        result = JobOutcome("success", {})
        for n, combo in enumerate(combos):
            label = job_id if combo is None else f"{job_id} ({n + 1}/{len(combos)})"
            ctx.matrix = combo
            name = interpolate(job.get("name", job_id), ctx)
            folder = run.folder / (job_id if combo is None else f"{job_id}-{n + 1}")
            one = self.run_steps_of_job(
                run, label=f"{run.label} / {label} {name!r}", folder=folder, job=job, ctx=ctx, workflow_env=workflow_env
            )
            result.folders.append(folder)
            result.outputs = one.outputs  # GitHub keeps one matrix run's outputs
            if one.result == "failure":
                result.result = "failure"
                if fail_fast:
                    break
        return result

    def run_steps_of_job(
        self,
        run: WorkflowRun,
        *,
        label: str,
        folder: Path,
        job: dict[str, Any],
        ctx: Context,
        workflow_env: dict[str, str],
    ) -> JobOutcome:
        start = time.monotonic()
        work, temp = folder / "work", folder / "temp"
        if folder.exists():
            shutil.rmtree(folder)
        work.mkdir(parents=True)
        temp.mkdir()
        env = self.base_env()
        env.update(
            {
                "GITHUB_WORKSPACE": str(work),
                "RUNNER_TEMP": str(temp),
                "RUNNER_TOOL_CACHE": str(folder / "tool"),
                # A runner starts with an empty home: the harness's result cache (cellcache, in
                # ~/.cache on a runner) is the job's own, never this machine's.
                "ISOLATION_HARNESS_CACHE": str(folder / "cell-cache"),
                "GITHUB_EVENT_NAME": run.event,
                "GITHUB_REPOSITORY": REPOSITORY,
                "GITHUB_RUN_ID": str(run.run_id),
                "GITHUB_SHA": ctx.github["sha"],
                "GITHUB_REF": ctx.github["ref"],
                "GITHUB_SERVER_URL": SERVER_URL,
                "GITHUB_WORKFLOW": ctx.github["workflow"],
                "GITHUB_JOB": ctx.github["job"],
            }
        )
        env.update(workflow_env)
        ctx.env = dict(workflow_env)
        job_env = {k: interpolate(v, ctx) for k, v in (job.get("env") or {}).items()}
        env.update(job_env)
        ctx.env.update(job_env)
        state = JobState(label, folder, work, temp, env)
        ctx.steps = {}
        ctx.success = True
        ctx.step_ids = frozenset(s["id"] for s in job["steps"] if "id" in s)
        self.out.say(f"{label}: workspace {work}")
        self.run_steps(run, state, job["steps"], ctx, {}, action_path=None)
        outputs = {k: interpolate(v, ctx) for k, v in (job.get("outputs") or {}).items()}
        result = "failure" if state.failed else "success"
        self.record(label, "ok" if result == "success" else "failed", time.monotonic() - start)
        return JobOutcome(result, outputs, [folder])

    def run_steps(
        self,
        run: WorkflowRun,
        state: JobState,
        steps: list[dict[str, Any]],
        ctx: Context,
        outer_env: dict[str, str],
        *,
        action_path: Path | None,
    ) -> None:
        for index, step in enumerate(steps, 1):
            _known_keys(step, {"name", "id", "if", "uses", "with", "run", "shell", "env"}, f"step {index}")
            ctx.success = not state.failed
            ctx.env = {**ctx.env, **outer_env}
            name = interpolate(step.get("name") or _default_name(step), ctx)
            label = f"{state.label} / {index} {name}"
            start = time.monotonic()
            if not condition(step.get("if"), ctx):
                if "id" in step:
                    ctx.steps[step["id"]] = StepOutcome("skipped", {})
                self.record(label, "skipped", 0.0)
                continue
            step_env = {k: interpolate(v, ctx) for k, v in (step.get("env") or {}).items()}
            env = {**state.env, **outer_env, **step_env, **self.override}
            if action_path is not None:
                env["GITHUB_ACTION_PATH"] = str(action_path)
            files = {}
            for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
                files[key] = state.temp / "_runner_file_commands" / f"{key.lower()}_{len(self.lines)}_{index}"
                files[key].parent.mkdir(exist_ok=True)
                files[key].write_text("")
                env[key] = str(files[key])
            env["PATH"] = os.pathsep.join([*state.path, env["PATH"]])
            log = state.folder / "logs" / f"{len(self.lines):03d}-{index:02d}.log"
            log.parent.mkdir(exist_ok=True)
            outputs: dict[str, str] = {}
            if "uses" in step:
                with_ = {k: interpolate(v, ctx) for k, v in (step.get("with") or {}).items()}
                rc, outputs = self.uses(
                    run, state=state, uses=step["uses"], with_=with_, step_env=step_env, ctx=ctx, log=log, label=label
                )
            elif "run" in step:
                script = interpolate(step["run"], ctx)
                shell = step.get("shell")
                if action_path is not None and shell is None:
                    raise RehearsalError(f"{label}: a composite action's run step needs shell:")
                rc = run_script(script, shell, env=env, cwd=state.work, temp=state.temp, log=log)
            else:
                raise RehearsalError(f"{label}: neither uses: nor run:")
            outputs.update(parse_file_commands(files["GITHUB_OUTPUT"].read_text()))
            added = parse_file_commands(files["GITHUB_ENV"].read_text())
            state.env.update(added)
            ctx.env.update(added)
            state.path[:0] = reversed([p for p in files["GITHUB_PATH"].read_text().splitlines() if p.strip()])
            with (state.folder / "summary.md").open("a") as summary:
                summary.write(files["GITHUB_STEP_SUMMARY"].read_text())
            if "id" in step:
                ctx.steps[step["id"]] = StepOutcome("success" if rc == 0 else "failure", outputs)
            if rc != 0:
                state.failed = True
            if "uses" not in step or rc != 0 or not _is_composite(step["uses"]):
                self.record(label, "ok" if rc == 0 else f"exit {rc}", time.monotonic() - start, log)

    # -- uses:

    def uses(
        self,
        run: WorkflowRun,
        *,
        state: JobState,
        uses: str,
        with_: dict[str, str],
        step_env: dict[str, str],
        ctx: Context,
        log: Path,
        label: str,
    ) -> tuple[int, dict[str, str]]:
        name = uses.split("@", 1)[0]
        if name in STANDINS:
            allowed, standin = STANDINS[name]
            _known_keys(with_, allowed, f"{label} (with:)")
            return standin(self, run, state, with_, log)
        if _is_composite(uses):
            return self.composite(run, state=state, uses=uses, with_=with_, step_env=step_env, ctx=ctx, label=label)
        raise RehearsalError(f"{label}: no stand-in for uses: {uses}")

    def action_dir(self, uses: str) -> Path:
        """``isolation-harness/isolation-harness@ANY`` (or ``./``): a clone of this repository's HEAD."""
        if uses not in self.actions:
            dest = self.tmp / "_actions" / re.sub(r"[^\w.-]", "_", uses)
            _clone(self.repo, dest)
            self.actions[uses] = dest
        return self.actions[uses]

    def composite(
        self,
        run: WorkflowRun,
        *,
        state: JobState,
        uses: str,
        with_: dict[str, str],
        step_env: dict[str, str],
        ctx: Context,
        label: str,
    ) -> tuple[int, dict[str, str]]:
        path = self.action_dir(uses)
        action = yaml.safe_load((path / "action.yml").read_text())
        _known_keys(action, {"name", "description", "author", "branding", "inputs", "outputs", "runs"}, "action.yml")
        runs = action["runs"]
        if runs.get("using") != "composite":
            raise RehearsalError(f"{uses}: only composite actions are rehearsed")
        declared = action.get("inputs") or {}
        unknown = set(with_) - set(declared)
        if unknown:
            raise RehearsalError(f"{label}: {uses} has no inputs {sorted(unknown)}")
        inputs = {}
        for key, spec in declared.items():
            if key in with_:
                inputs[key] = with_[key]
            elif spec.get("required"):
                raise RehearsalError(f"{label}: input {key!r} is required")
            else:
                inputs[key] = str(spec.get("default", ""))
        github = {**ctx.github, "action_path": str(path)}
        steps = runs["steps"]
        inner = Context(
            github,
            dict(ctx.env),
            inputs,
            step_ids=frozenset(s["id"] for s in steps if "id" in s),
            success=not state.failed,
        )
        before = state.failed
        sub = JobState(label, state.folder, state.work, state.temp, state.env, state.path)
        sub.failed = state.failed
        self.run_steps(run, sub, steps, inner, step_env, action_path=path)
        state.env = sub.env
        state.path = sub.path
        return (1 if sub.failed and not before else 0), {}

    # -- the stand-ins

    def checkout(
        self, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path
    ) -> tuple[int, dict[str, str]]:
        _clone(run.checkout, state.work)
        log.write_text(f"clean clone of {run.checkout} at {_git(state.work, 'rev-parse', 'HEAD')}\n")
        return 0, {}

    def setup_python(
        self, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path
    ) -> tuple[int, dict[str, str]]:
        versions = [v.strip() for v in with_.get("python-version", "").splitlines() if v.strip()]
        if not versions:
            raise RehearsalError("setup-python stand-in: give python-version")
        others = state.folder / "tool" / "pythons-bin"
        others.mkdir(parents=True, exist_ok=True)
        for version in versions[:-1]:
            link = others / f"python{version}"
            link.unlink(missing_ok=True)
            link.symlink_to(find_interpreter(version))
        default = versions[-1]
        venv = state.folder / "tool" / f"python-{default}"
        interpreter = find_interpreter(default)
        with log.open("w") as fh:
            rc = subprocess.run(
                [str(interpreter), "-m", "venv", str(venv)], stdout=fh, stderr=subprocess.STDOUT, check=False
            ).returncode
            fh.write(f"venv {venv} from {interpreter}; also on PATH: {', '.join(versions[:-1]) or 'none'}\n")
        state.path[:0] = [str(venv / "bin"), str(others)]
        state.env["pythonLocation"] = str(venv)
        exact = interpreter.parent.parent.name
        return rc, {"python-version": exact, "python-path": str(venv / "bin" / "python")}

    def upload(self, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path) -> tuple[int, dict[str, str]]:
        name = with_.get("name") or "artifact"
        paths = [line.strip() for line in with_.get("path", "").splitlines() if line.strip()]
        include_hidden = with_.get("include-hidden-files", "false") == "true"
        count = upload_artifact(run.artifacts, name, state.work, paths, include_hidden=include_hidden)
        if count == 0:
            behaviour = with_.get("if-no-files-found", "warn")
            log.write_text(f"No files were found with the provided path: {' '.join(paths)}\n")
            return (1 if behaviour == "error" else 0), {}
        log.write_text(f"artifact {name}: {count} files into {run.artifacts / name}\n")
        return 0, {"artifact-id": name}

    def download(
        self, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path
    ) -> tuple[int, dict[str, str]]:
        if with_.get("merge-multiple", "false") != "false":
            raise RehearsalError("download-artifact stand-in: merge-multiple: true is not supported")
        dest = state.work / with_.get("path", ".")
        names = download_artifacts(run.artifacts, dest, name=with_.get("name"), pattern=with_.get("pattern"))
        log.write_text(f"downloaded {', '.join(names) or 'no artifacts'} into {dest}\n")
        return 0, {"download-path": str(dest)}


def _cache_paths(state: JobState, with_: dict[str, str]) -> list[Path]:
    lines = [line.strip() for line in with_.get("path", "").splitlines() if line.strip()]
    if not lines:
        raise RehearsalError("actions/cache stand-in: give path")
    return [state.work / Path(line).expanduser() for line in lines]


def cache_restore(
    self: Rehearsal, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path
) -> tuple[int, dict[str, str]]:
    """actions/cache/restore: the entry of ``key``, else the newest whose key starts with a
    ``restore-keys`` prefix (GitHub's order: exact, then prefixes in the order given, newest first)."""
    store = self.tmp / "_actions_cache"
    key = with_.get("key", "")
    saved = sorted(store.glob("*"), key=lambda p: p.stat().st_mtime, reverse=True) if store.is_dir() else []
    found = next((p for p in saved if p.name == key), None)
    for prefix in [line.strip() for line in with_.get("restore-keys", "").splitlines() if line.strip()]:
        found = found or next((p for p in saved if p.name.startswith(prefix)), None)
    if found is None:
        log.write_text(f"Cache not found for input keys: {key}\n")
        return 0, {"cache-hit": "false"}
    for n, path in enumerate(_cache_paths(state, with_)):
        if (found / str(n)).exists():
            shutil.copytree(found / str(n), path, dirs_exist_ok=True, symlinks=True)
    log.write_text(f"Cache restored from key: {found.name}\n")
    return 0, {"cache-hit": str(found.name == key).lower(), "cache-matched-key": found.name}


def cache_save(
    self: Rehearsal, run: WorkflowRun, state: JobState, with_: dict[str, str], log: Path
) -> tuple[int, dict[str, str]]:
    """actions/cache/save: keys are immutable (saving an existing one is a warning, not a failure)."""
    entry = self.tmp / "_actions_cache" / with_.get("key", "")
    if entry.exists():
        log.write_text(
            f"Failed to save: Unable to reserve cache with key {entry.name}, another job may be creating this cache.\n"
        )
        return 0, {}
    staging = entry.with_name(entry.name + ".saving")
    for n, path in enumerate(_cache_paths(state, with_)):
        if path.exists():
            shutil.copytree(path, staging / str(n), symlinks=True)
    staging.mkdir(parents=True, exist_ok=True)
    staging.rename(entry)
    log.write_text(f"Cache saved with key: {entry.name}\n")
    return 0, {}


Standin = Callable[[Rehearsal, WorkflowRun, JobState, dict[str, str], Path], tuple[int, dict[str, str]]]
# Action name (the pinned sha ignored) -> the `with:` keys the stand-in serves, and the stand-in.
STANDINS: dict[str, tuple[set[str], Standin]] = {
    "actions/checkout": ({"persist-credentials"}, Rehearsal.checkout),
    "actions/setup-python": ({"python-version"}, Rehearsal.setup_python),
    "actions/upload-artifact": (
        {"name", "path", "retention-days", "if-no-files-found", "include-hidden-files"},
        Rehearsal.upload,
    ),
    "actions/download-artifact": ({"name", "pattern", "path", "merge-multiple"}, Rehearsal.download),
    "actions/cache/restore": ({"path", "key", "restore-keys"}, cache_restore),
    "actions/cache/save": ({"path", "key"}, cache_save),
}


def _is_composite(uses: str) -> bool:
    return uses.startswith("./") or uses.split("@", 1)[0] == REPOSITORY


def _default_name(step: dict[str, Any]) -> str:
    if "uses" in step:
        return f"uses {step['uses'].split('@')[0]}"
    first = str(step.get("run", "")).strip().splitlines()
    return f"run {first[0] if first else ''}"


def _known_keys(mapping: Any, allowed: set[Any], where: str) -> None:
    if not isinstance(mapping, dict):
        raise RehearsalError(f"{where}: expected a mapping")
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise RehearsalError(f"{where}: keys the rehearsal does not know: {unknown}")


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def job_order(jobs: dict[str, Any]) -> list[str]:
    """Jobs in ``needs`` order, file order among equals."""
    order: list[str] = []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(n in order for n in _needs(jobs[j]))]
        if not ready:
            raise RehearsalError(f"jobs {pending}: needs form a cycle or name a missing job")
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def expand_matrix(matrix: Any) -> Iterator[dict[str, Any]]:
    """A strategy matrix: the product of its list axes, then its ``include`` entries (no ``exclude``)."""
    if not isinstance(matrix, dict):
        raise RehearsalError(f"strategy.matrix: expected a mapping, got {matrix!r}")
    if "exclude" in matrix:
        raise RehearsalError("strategy.matrix: exclude is not supported by the rehearsal")
    axes = {k: v for k, v in matrix.items() if k != "include"}
    include = matrix.get("include") or []
    if axes and include:
        raise RehearsalError("strategy.matrix: axes together with include are not supported by the rehearsal")
    combos: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        combos = [{**c, key: v} for c in combos for v in values]
    yield from (combos if axes else [])
    yield from include


def run_script(script: str, shell: str | None, *, env: dict[str, str], cwd: Path, temp: Path, log: Path) -> int:
    """A run: step as the runner runs it: ``bash -e {0}`` by default, ``bash --noprofile --norc -eo pipefail {0}``
    for ``shell: bash``."""
    file = temp / f"step-{time.monotonic_ns()}.sh"
    file.write_text(script)
    if shell is None:
        argv = ["bash", "-e", str(file)]
    elif shell == "bash":
        argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)]
    else:
        raise RehearsalError(f"shell: {shell} is not rehearsed (only bash)")
    with log.open("w") as fh:
        return subprocess.run(
            argv, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        ).returncode


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _clone(source: Path, dest: Path) -> None:
    """A clean clone of ``source``'s HEAD (committed files only)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(source), str(dest)], check=True, capture_output=True)
    subprocess.run(
        ["git", "-C", str(dest), "checkout", "-q", "--detach", _git(source, "rev-parse", "HEAD")],
        check=True,
        capture_output=True,
    )


def workflow_on(workflow: dict[Any, Any]) -> Any:
    """The ``on:`` of a workflow (YAML 1.1 reads a bare ``on`` key as True)."""
    return workflow["on"] if "on" in workflow else workflow.get(True)


def load_workflow(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "jobs" not in data:
        raise RehearsalError(f"{path}: not a workflow")
    return data


# ---------------------------------------------------------------------------------------------------
# Records: the same cells sharded and unsharded

_VOLATILE = {"started", "finished", "duration", "run_id", "log", "probe_dir", "driver_log"}


def normal(value: Any) -> Any:
    """A record without timings, run ids, temporary paths and pids."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, str):
        value = re.sub(r"/tmp/ih-cell-[^/\s]+", "<cell>", value)
        value = re.sub(r"pip-[a-z-]+-[a-z0-9_]{6,}", "pip-tmp", value)
        value = re.sub(r"my-backend_[0-9a-f]{32}", "my-backend", value)
        value = re.sub(r"/\.tmp[A-Za-z0-9]{6}/", "/.tmpXXXXXX/", value)  # uv's temporary folders
        return re.sub(r"pid \d+", "pid N", value)
    return value


def read_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    return {r["cell"]: r for r in map(json.loads, filter(None, lines))}


def differences(left: Any, right: Any, where: str = "") -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        out: list[str] = []
        for key in sorted(set(left) | set(right)):
            out += differences(left.get(key), right.get(key), f"{where}.{key}")
        return out
    return [] if left == right else [f"{where}: {str(left)[:80]!r} != {str(right)[:80]!r}"]


def make_regression_baseline(merged: Path, dest: Path) -> str:
    """A copy of ``merged`` where one `leaked` (else `broke`) cell is recorded `held`: the candidate
    regresses against it. Returns the cell."""
    shutil.copytree(merged, dest)
    records = read_records(dest)
    worse = [c for c, r in sorted(records.items()) if r["verdict"] == "leaked"] or [
        c for c, r in sorted(records.items()) if r["verdict"] == "broke"
    ]
    if not worse:
        raise RehearsalError(f"{merged}: no leaked or broke cell to turn into a regression")
    cell = worse[0]
    records[cell]["verdict"] = "held"
    records[cell]["match"] = records[cell].get("expected") == "held"
    (dest / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    return cell


# ---------------------------------------------------------------------------------------------------
# The rehearsal


def _readme_snippet(readme: Path) -> dict[str, Any]:
    """The caller workflow shown in README's "Checking a patch in your own CI"."""
    text = readme.read_text()
    section = text.split("## Checking a patch in your own CI", 1)
    if len(section) != 2:
        raise RehearsalError(f"{readme}: no section 'Checking a patch in your own CI'")
    block = re.search(r"```yaml\n(.*?)```", section[1], re.DOTALL)
    if block is None:
        raise RehearsalError(f"{readme}: no ```yaml block in 'Checking a patch in your own CI'")
    return load_workflow_text(block.group(1), "README.md snippet")


def load_workflow_text(text: str, where: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "jobs" not in data:
        raise RehearsalError(f"{where}: not a workflow")
    return data


def _pip_checkout(dest: Path) -> Path:
    """pip's release sdist as a local git checkout, as the patch-validation tests make one."""
    from tests.conftest import pip_sdist

    checkout = pip_sdist(ACTION_PIP_RELEASE, dest)
    git = ["git", "-C", str(checkout), "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@invalid"]
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", f"pip {ACTION_PIP_RELEASE} from its sdist"], check=True)
    return checkout


class Plan:
    """The rehearsal's runs and assertions."""

    def __init__(self, rehearsal: Rehearsal, workflows: dict[str, Path]) -> None:
        self.r = rehearsal
        self.workflows = workflows
        self.checks: list[Check] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        self.r.out.say(f"check: {name}: {'PASS' if ok else 'FAIL'}{' - ' + detail if detail else ''}")
        return ok

    def _run(self, label: str, name: str, event: str, **kw: Any) -> tuple[WorkflowRun, dict[str, JobOutcome]]:
        folder = self.r.tmp / label
        run = WorkflowRun(
            label=label,
            workflow=kw.pop("workflow", None) or load_workflow(self.workflows[name]),
            workflow_file=kw.pop("workflow_file", f"{name}.yml"),
            event=event,
            inputs=kw.pop("inputs", {}),
            checkout=kw.pop("checkout", self.r.repo),
            folder=folder,
            artifacts=kw.pop("artifacts", folder / "artifacts"),
            run_id=100 + len(list(self.r.tmp.iterdir())),
            **kw,
        )
        run.artifacts.mkdir(parents=True, exist_ok=True)
        return run, self.r.run_workflow(run)

    def regression(self) -> None:
        r = self.r
        write_gh_state(r.gh_state)
        run, jobs = self._run("regression-1", "regression", "workflow_dispatch", inputs=DISPATCH_INPUTS)
        if not self.check(
            "regression.yml on workflow_dispatch: every job succeeds",
            all(j.result == "success" for j in jobs.values()) and set(jobs) == {"plan", "shard", "merge"},
            ", ".join(f"{k}: {v.result}" for k, v in jobs.items()),
        ):
            return
        shards = json.loads(jobs["plan"].outputs["shards"])["include"]
        self.check("plan makes two shards", len(shards) == 2, ", ".join(s["name"] for s in shards))
        self.check("no baseline yet: no gh issue call", not gh_calls(r.gh_state, "issue"))
        self.check(
            "workflow_dispatch uploads no baseline artifact",
            not (run.artifacts / "baseline").exists() and (run.artifacts / "report" / "report.html").is_file(),
        )
        page = run.artifacts / "report" / "catalogue.md"
        self.check(
            "the report artifact carries the catalogue's status page, the run's scenarios measured",
            page.is_file() and "| metapath | [" in page.read_text() and "(3." in page.read_text(),
        )
        merged = jobs["merge"].folders[0] / "work" / "merged"
        self.sharded_equals_whole(merged)
        self.cache_between_runs(merged)

        # The merge job again, with the shard artifacts of run 1 (the other jobs are not run again).
        shard_store = r.tmp / "shard-artifacts"
        for artifact in run.artifacts.glob("shard-*"):
            shutil.copytree(artifact, shard_store / artifact.name)
        given = {"plan": jobs["plan"], "shard": jobs["shard"]}
        edited = r.tmp / "baseline-edited"
        cell = make_regression_baseline(merged, edited)
        r.out.say(f"baseline served by gh: {merged} with {cell} recorded held")
        write_gh_state(r.gh_state, baseline=edited)
        for n, expected in ((2, "create"), (3, "comment")):
            store = r.tmp / f"regression-{n}" / "artifacts"
            shutil.copytree(shard_store, store)
            _, again = self._run(
                f"regression-{n}", "regression", "schedule", only=["merge"], given=given, artifacts=store,
                may_fail=frozenset({"merge"}),
            )  # fmt: skip
            creates, comments = gh_calls(r.gh_state, "issue", "create"), gh_calls(r.gh_state, "issue", "comment")
            self.check(
                f"merge job again (schedule) against a baseline it regresses from: exactly one gh issue {expected}",
                (len(creates), len(comments)) == ((1, 0) if expected == "create" else (0, 1))
                and again["merge"].result == "failure",
                f"{len(creates)} create, {len(comments)} comment; merge {again['merge'].result}",
            )
            self.check(
                "schedule uploads the baseline artifact",
                (store / "baseline" / "results.jsonl").is_file(),
            )
            state = gh_state(r.gh_state)
            state["calls"] = []
            r.gh_state.write_text(json.dumps(state))
        write_gh_state(r.gh_state, baseline=merged)
        store = r.tmp / "regression-4" / "artifacts"
        shutil.copytree(shard_store, store)
        _, again = self._run("regression-4", "regression", "schedule", only=["merge"], given=given, artifacts=store)
        self.check(
            "merge job against an equal baseline: no gh issue call, merge succeeds",
            not gh_calls(r.gh_state, "issue") and again["merge"].result == "success",
            f"calls: {gh_state(r.gh_state)['calls']}",
        )

    def cache_between_runs(self, first: Path) -> None:
        """The same dispatch again: its jobs restore the cache the first run's merge job saved, so each
        cell is reused (its record names the first run) or, the recheck's share, run again and agreeing."""
        _, jobs = self._run("regression-5", "regression", "workflow_dispatch", inputs=DISPATCH_INPUTS)
        if not self.check(
            "regression.yml again: every job succeeds", all(j.result == "success" for j in jobs.values()), str(jobs)
        ):
            return
        before = {c: r for c, r in read_records(first).items() if not r.get("not_applicable")}
        after = read_records(jobs["merge"].folders[0] / "work" / "merged")
        reused = [c for c in before if after[c].get("cached_from") == before[c]["run_id"]]
        rechecked = [c for c in before if (after[c].get("rechecked") or {}).get("run_id") == before[c]["run_id"]]
        same = all(after[c]["verdict"] == before[c]["verdict"] for c in before)
        self.check(
            "the second run restores the first's cache: every cell reused or rechecked (one a shard at least), "
            "verdicts equal",
            bool(before) and len(reused) + len(rechecked) == len(before) and len(rechecked) >= 2 and same,
            f"{len(before)} cells: {len(reused)} reused, {len(rechecked)} rechecked",
        )

    def sharded_equals_whole(self, merged: Path) -> None:
        """The same cells unsharded, with the shard job's own set-up steps and one run over both Pythons."""
        workflow = load_workflow(self.workflows["regression"])
        shard_job = workflow["jobs"]["shard"]
        # The shard job's checkout, setup-python and install steps, then one run over both Pythons.
        setup = [
            s
            for s in shard_job["steps"]
            if s.get("uses", "").startswith(("actions/checkout@", "actions/setup-python@"))
            or str(s.get("run", "")).startswith("python -m pip install")
        ]
        args = " ".join(f"--python {p}" for p in DISPATCH_INPUTS["pythons"].split())
        command = (
            f"isolation-harness run --scenario {DISPATCH_INPUTS['scenarios']} {args} --pip {DISPATCH_INPUTS['pip']}"
            " --engine docker --out whole || true"
        )
        whole_workflow = {
            "name": "unsharded",
            "on": {"workflow_dispatch": {}},
            "env": workflow.get("env", {}),
            "jobs": {
                "whole": {
                    "runs-on": "ubuntu-24.04",
                    "steps": [*setup, {"name": "the same cells unsharded", "run": command}],
                }
            },
        }
        _, jobs = self._run(
            "unsharded", "regression", "workflow_dispatch", workflow=whole_workflow, workflow_file="(unsharded run)"
        )
        if jobs["whole"].result != "success":
            self.check("two shards merged equal one unsharded run", False, "the unsharded run failed")
            return
        (whole_dir,) = (jobs["whole"].folders[0] / "work" / "whole").iterdir()
        left = {c: normal(r) for c, r in read_records(merged).items()}
        right = {c: normal(r) for c, r in read_records(whole_dir).items()}
        diff = differences(left, right)
        self.check(
            "two shards merged give the same records as one unsharded run (verdicts, probe facts, hashes)",
            bool(left) and not diff,
            f"{len(left)} cells merged, {len(right)} unsharded" + ("; " + "; ".join(diff[:5]) if diff else ""),
        )

    def ci(self) -> None:
        _, jobs = self._run("ci", "ci", "push")
        for job in ("lint", "tests"):
            self.check(f"ci.yml {job} job succeeds", jobs.get(job, JobOutcome("not run", {})).result == "success")

    def action(self) -> None:
        r = self.r
        snippet = _readme_snippet(r.repo / "README.md")
        checkout = _pip_checkout(r.tmp / "pip-checkout")
        r.out.say(
            f"caller workflow: README.md's snippet, checkout: pip {ACTION_PIP_RELEASE} from its sdist at {checkout}"
        )
        on = workflow_on(snippet)
        event = on if isinstance(on, str) else next(iter(on))
        for label, extra, expect in (
            ("action", {}, "success"),
            ("action-regression", {"pyproject-hooks": ACTION_REGRESSION_HOOKS}, "failure"),
        ):
            workflow = copy.deepcopy(snippet)
            job_id, job = next(iter(workflow["jobs"].items()))
            step = next(s for s in job["steps"] if _is_composite(s.get("uses", "")))
            step["with"] = {**step.get("with", {}), **ACTION_INPUTS, **extra}
            r.out.say(f"{label}: inputs {json.dumps(step['with'])}")
            run, jobs = self._run(
                label, "caller", str(event), workflow=workflow, workflow_file="README.md snippet", checkout=checkout,
                may_fail=frozenset({job_id}),
            )  # fmt: skip
            outcome = jobs[job_id]
            summary = (outcome.folders[0] / "summary.md").read_text() if outcome.folders else ""
            what = "regression: the job fails" if expect == "failure" else "no regression: the job succeeds"
            self.check(f"composite action ({label}), {what}", outcome.result == expect, outcome.result)
            self.check(
                f"composite action ({label}): report.md in the job summary, report.html uploaded",
                "metapath" in summary and any(run.artifacts.glob("*/report.html")),
                f"summary {len(summary)} characters; artifacts {sorted(p.name for p in run.artifacts.iterdir())}",
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=("regression", "ci", "action"), default=[])
    parser.add_argument(
        "--workflow", action="append", default=[], metavar="NAME=FILE", help="rehearse this copy of a workflow"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="working folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument(
        "--override-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in every step, over the workflow's own env (a deviation; printed)",
    )
    parser.add_argument(
        "--repo", type=Path, default=ROOT, help="the repository to rehearse (default: this one; its HEAD is cloned)"
    )
    parser.add_argument("--transcript", type=Path, default=None, help="also write the output here")
    args = parser.parse_args(argv)
    out = Transcript()
    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="rehearsal-"))
    tmp.mkdir(parents=True, exist_ok=True)
    repo = args.repo.resolve()
    workflows = {name: repo / ".github" / "workflows" / f"{name}.yml" for name in ("regression", "ci")}
    for item in args.workflow:
        name, _, file = item.partition("=")
        workflows[name] = Path(file).resolve()
    override = dict(item.partition("=")[::2] for item in args.override_env)
    parts = args.only or ["regression", "action", "ci"]
    start = time.monotonic()
    r = Rehearsal(tmp, out, repo=repo, override=override, extra_env={"PYTEST_ADDOPTS": CI_PYTEST_ADDOPTS})
    out.say(f"rehearsal of {', '.join(parts)} in {tmp}")
    out.say(f"  checkout = a clean clone of {r.repo} at HEAD {r.head[:12]}: committed code only")
    out.say(f"  runner env adds {json.dumps(RUNNER_ENV)}")
    out.say(
        f"  deviation: PYTEST_ADDOPTS={CI_PYTEST_ADDOPTS} (ci.yml's nox -s tests: no engine, docker or rehearsal tests)"
    )
    out.say("  deviation: HOME is this machine's (pip cache and the harness's wheel directory are shared by the jobs)")
    out.say(
        "  deviation: the merge job's second and third runs reuse run 1's shard artifacts (plan and shards not rerun)"
    )
    if override:
        out.say(f"  deviation: over the workflows' own env: {json.dumps(override)}")
    plan = Plan(r, workflows)
    error = None
    try:
        for part in parts:
            getattr(plan, part)()
    except RehearsalError as exc:
        error = str(exc)
        plan.check("the rehearsal ran to the end", False, error)
    failed = [c for c in plan.checks if not c.ok]
    out.say("")
    out.say("steps:")
    for label, status, seconds in r.lines:
        out.say(f"  {status:>8}  {seconds:7.1f} s  {label}")
    out.say("checks:")
    for c in plan.checks:
        out.say(f"  {'PASS' if c.ok else 'FAIL'}  {c.name}{' - ' + c.detail if c.detail else ''}")
    out.say(
        f"rehearsal {'FAILED' if failed or not plan.checks else 'passed'}: {len(plan.checks) - len(failed)} of "
        f"{len(plan.checks)} checks in {time.monotonic() - start:.0f} s; working folder {tmp}"
    )
    transcript = args.transcript or tmp.with_name(f"{tmp.name}.txt")
    transcript.write_text("\n".join(out.lines) + "\n")
    print(f"transcript: {transcript}")
    if not failed and plan.checks and not args.keep and args.tmp is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed or not plan.checks else 0


if __name__ == "__main__":
    sys.exit(main())
