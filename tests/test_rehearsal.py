"""The workflow rehearsal's parts (tests/rehearse.py), and that the rehearsal can fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import rehearse
from tests.rehearse import (
    Context,
    ExpressionError,
    JobOutcome,
    RehearsalError,
    StepOutcome,
    condition,
    download_artifacts,
    evaluate,
    expand_matrix,
    interpolate,
    job_order,
    parse_expression,
    parse_file_commands,
    upload_artifact,
    value_of,
)

from .conftest import ROOT

SOURCES = [
    ROOT / ".github" / "workflows" / "regression.yml",
    ROOT / ".github" / "workflows" / "ci.yml",
    ROOT / "action.yml",
]


def _ctx(**kw: Any) -> Context:
    base: dict[str, Any] = {
        "github": {"event_name": "schedule", "repository": "o/r", "action_path": "/a"},
        "env": {"E": "e"},
        "inputs": {"pip": "26.3", "pyproject-hooks": ""},
        "matrix": {"name": "metapath-3.11"},
        "needs": {"plan": JobOutcome("success", {"shards": '{"include": [{"name": "a"}]}'})},
        "steps": {"validate": StepOutcome("success", {"status": "1", "run-dir": "/r"})},
        "step_ids": frozenset({"validate", "later"}),
    }
    base.update(kw)
    return Context(**base)


def test_expressions_the_workflows_use() -> None:
    ctx = _ctx()
    assert evaluate("inputs.pip", ctx) == "26.3"
    assert evaluate("inputs.pyproject-hooks", ctx) == ""
    assert evaluate("matrix.name", ctx) == "metapath-3.11"
    assert evaluate("fromJSON(needs.plan.outputs.shards)", ctx) == {"include": [{"name": "a"}]}
    assert evaluate("steps.validate.outputs.status == '1'", ctx) is True
    assert evaluate("steps.later.outputs.x", ctx) == ""  # a step not run yet: empty, as on GitHub
    assert evaluate("github.event_name == 'SCHEDULE'", ctx) is True  # strings compare ignoring case
    assert evaluate("github.event_name != 'schedule' || env.E", ctx) == "e"
    assert evaluate("always() && (inputs.pip == 'x' || 'it''s')", ctx) == "it's"
    assert interpolate("${{ github.repository }}/runs/${{ inputs.pip }}", ctx) == "o/r/runs/26.3"
    assert interpolate(False, ctx) == "false"
    assert value_of("${{ fromJSON('[1]') }}", ctx) == [1]


@pytest.mark.parametrize(
    "text",
    [
        "inputs.nope",  # an input the workflow does not declare
        "steps.unknown.outputs.x",
        "needs.shard.outputs.x",  # a job this job does not need
        "needs.plan.outputs.nope",
        "secrets.TOKEN",  # a context the rehearsal does not serve
        "format('{0}', inputs.pip)",  # a function it does not know
        "!always()",
        "inputs.pip == 1",
        "contains(github.event_name, 'x')",
        "github.event_name",
        "fromJSON('')",
        "inputs",
    ],
)
def test_other_expressions_fail_loudly(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(text, _ctx(github={"repository": "o/r"}) if text == "github.event_name" else _ctx())


def test_conditions_prepend_success_unless_a_status_function_is_used() -> None:
    failed = _ctx(success=False)
    assert condition(None, _ctx()) is True
    assert condition(None, failed) is False
    assert condition("github.event_name == 'schedule'", failed) is False
    assert condition("${{ always() }}", failed) is True
    assert condition("always() && steps.validate.outputs.run-dir != ''", failed) is True
    assert condition("github.event_name == 'push'", _ctx()) is False


def _expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["if"])] if "if" in node else []
        return found + [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return re.findall(r"\$\{\{(.*?)\}\}", node) if isinstance(node, str) else []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_expression_in_the_workflows_parses(source: Path) -> None:
    """A new expression form makes this fail here first, not in the middle of a rehearsal."""
    found = _expressions(yaml.safe_load(source.read_text()))
    assert found
    for text in found:
        parse_expression(re.sub(r"^\$\{\{(.*)\}\}$", r"\1", text.strip()))


def test_file_commands() -> None:
    text = "a=1\n\nb=x=y\nbody<<EOF\nline 1\nline 2\nEOF\n"
    assert parse_file_commands(text) == {"a": "1", "b": "x=y", "body": "line 1\nline 2"}
    with pytest.raises(RehearsalError):
        parse_file_commands("body<<EOF\nno end\n")


def test_jobs_in_needs_order_and_matrix() -> None:
    assert job_order({"merge": {"needs": "shard"}, "shard": {"needs": ["plan"]}, "plan": {}}) == [
        "plan",
        "shard",
        "merge",
    ]
    with pytest.raises(RehearsalError):
        job_order({"a": {"needs": "b"}, "b": {"needs": "a"}})
    assert list(expand_matrix({"include": [{"n": 1}, {"n": 2}]})) == [{"n": 1}, {"n": 2}]
    assert list(expand_matrix({"a": [1, 2], "b": ["x"]})) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    with pytest.raises(RehearsalError):
        list(expand_matrix(""))  # fromJSON of a plan that printed nothing never gets here, but a string might


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_artifacts_are_laid_out_as_upload_and_download_artifact_v4_do(tmp_path: Path) -> None:
    work, store = tmp_path / "work", tmp_path / "store"
    for name in ("shard/run-1/results.jsonl", "shard/run-1/.hidden", "merged/report.html", "merged/junit.xml"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(name)
    # one folder: its contents at the root, hidden files left out
    assert upload_artifact(store, "shard-a", work, ["shard/"], include_hidden=False) == 1
    assert _tree(store / "shard-a") == ["run-1/results.jsonl"]
    # several paths: relative to their least common ancestor
    assert upload_artifact(store, "report", work, ["merged/report.html", "merged/junit.xml"], include_hidden=False)
    assert _tree(store / "report") == ["junit.xml", "report.html"]
    # one file: itself at the root
    upload_artifact(store, "html", work, ["merged/report.html"], include_hidden=False)
    assert _tree(store / "html") == ["report.html"]
    assert upload_artifact(store, "none", work, ["missing/"], include_hidden=False) == 0
    with pytest.raises(RehearsalError, match="409"):
        upload_artifact(store, "html", work, ["merged/report.html"], include_hidden=False)
    upload_artifact(store, "shard-b", work, ["shard"], include_hidden=True)
    # pattern: each artifact in a folder of its name; name: straight into the path
    assert download_artifacts(store, tmp_path / "shards", name=None, pattern="shard-*") == ["shard-a", "shard-b"]
    assert _tree(tmp_path / "shards") == [
        "shard-a/run-1/results.jsonl",
        "shard-b/run-1/.hidden",
        "shard-b/run-1/results.jsonl",
    ]
    download_artifacts(store, tmp_path / "one", name="report", pattern=None)
    assert _tree(tmp_path / "one") == ["junit.xml", "report.html"]
    with pytest.raises(RehearsalError):
        download_artifacts(store, tmp_path / "x", name="nope", pattern=None)


def _gh(bin_dir: Path, *args: str, token: str = "t") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GH_TOKEN": token}
    return subprocess.run([str(bin_dir / "gh"), *args], capture_output=True, text=True, env=env, check=False)


def test_gh_stand_in(tmp_path: Path) -> None:
    state = tmp_path / "gh.json"
    rehearse.write_gh_state(state, repository="o/r")
    rehearse.install_gh(tmp_path / "bin", state)
    b = tmp_path / "bin"
    run_list = ["run", "list", "--repo", "o/r", "--workflow", "regression.yml", "--event", "schedule", "--status"]
    run_list += ["success", "--limit", "1", "--json", "databaseId", "--jq", ".[0].databaseId // empty"]
    assert _gh(b, *run_list).stdout == ""  # no baseline yet
    assert _gh(b, *run_list, token="").returncode == 4  # gh needs GH_TOKEN in a workflow
    baseline = tmp_path / "baseline-run"
    baseline.mkdir()
    (baseline / "results.jsonl").write_text("{}\n")
    rehearse.write_gh_state(state, repository="o/r", baseline=baseline)
    run_id = _gh(b, *run_list).stdout.strip()
    assert run_id
    get = _gh(b, "run", "download", run_id, "--repo", "o/r", "--name", "baseline", "--dir", str(tmp_path / "got"))
    assert get.returncode == 0, get.stderr
    assert (tmp_path / "got" / "results.jsonl").is_file()
    title = "isolation-harness: build-isolation regression"
    issue_list = ["issue", "list", "--repo", "o/r", "--state", "open", "--search", f"{title} in:title"]
    issue_list += ["--json", "number", "--jq", ".[0].number // empty"]
    assert _gh(b, *issue_list).stdout == ""
    assert _gh(b, "issue", "create", "--repo", "o/r", "--title", title, "--body", "x").returncode == 0
    number = _gh(b, *issue_list).stdout.strip()
    assert number == "1"
    assert _gh(b, "issue", "comment", number, "--repo", "o/r", "--body", "y").returncode == 0
    assert _gh(b, "issue", "comment", "7", "--repo", "o/r", "--body", "y").returncode == 1
    assert _gh(b, "issue", "close", "1", "--repo", "o/r").returncode == 1  # a call it does not serve
    assert _gh(b, "issue", "create", "--repo", "x/y", "--title", title, "--body", "x").returncode == 1
    assert len(rehearse.gh_calls(state, "issue", "create")) == 2
    assert len(rehearse.gh_calls(state, "issue", "comment")) == 2
    assert json.loads(state.read_text())["issues"][0]["comments"] == ["y"]


def test_regression_baseline_edit(tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    merged.mkdir()
    records = [
        {"cell": "b", "verdict": "held", "expected": "held", "match": True},
        {"cell": "a", "verdict": "leaked", "expected": "leaked", "match": True},
    ]
    (merged / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert rehearse.make_regression_baseline(merged, tmp_path / "edited") == "a"
    edited = rehearse.read_records(tmp_path / "edited")
    assert edited["a"]["verdict"] == "held"
    assert edited["a"]["match"] is False
    assert edited["b"] == records[0]


def test_readme_snippet_is_a_workflow_using_the_action() -> None:
    snippet = rehearse._readme_snippet(ROOT / "README.md")
    steps = next(iter(snippet["jobs"].values()))["steps"]
    action = [s for s in steps if rehearse._is_composite(s.get("uses", ""))]
    assert len(action) == 1
    assert "pip" in action[0]["with"]


# A real clone, venv and nox install: a real part, so not in the offline unit tier.
@pytest.mark.engine
@pytest.mark.rehearsal
def test_a_misspelled_subcommand_fails_the_rehearsal(tmp_path: Path) -> None:
    """The rehearsal must be able to fail: `nox -s shard` in the plan job (a real clone, venv and nox)."""
    text = (ROOT / ".github" / "workflows" / "regression.yml").read_text()
    assert "nox -s shards " in text
    copy = tmp_path / "regression.yml"
    copy.write_text(text.replace("nox -s shards ", "nox -s shard "))
    transcript = tmp_path / "transcript.txt"
    args = ["--only", "regression", "--workflow", f"regression={copy}", "--tmp", str(tmp_path / "r")]
    code = rehearse.main([*args, "--transcript", str(transcript)])
    out = transcript.read_text()
    assert code == 1, out
    assert re.search(r"regression-1 / plan .* / 5 .*: exit 3", out), out
    assert "regression-1 / shard: not run (stopped after a failure)" in out
    assert "FAIL  regression.yml on workflow_dispatch: every job succeeds" in out
