"""Golden records: the records of a fixed set of cells, taken before the typed redesign (issue 15),
and taken again when pip's modes and the frontends' releases became axes (issue 16; the records
before that are kept in tests/data/records-before-modes.jsonl, and the new ones were checked equal to
them but for the new keys and the cells' new names).

The same cells run again through the command line must give equal records, apart from timings, ids
and temporary paths (``normalize``). The data was captured from the code at a3dcb9f with
``python -m tests.golden_records RUN_DIR...``, from the three runs in ``RUNS`` (every scenario; Pythons 3.8,
3.11 and 3.13; pips 19.3.1 to 26.3; all four frontends; both engines).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from isolation_harness.probewheel import probe_wheel_bytes, probe_wheel_name

HERE = Path(__file__).parent / "golden"
DATA = HERE / "records.jsonl"
# The records taken before pip's modes and the frontends' releases were axes (issue 15's).
BEFORE_MODES = Path(__file__).parent / "data" / "records-before-modes.jsonl"
COUNT = 108 + 9  # issue 15's cells, and build-pythonpath's in each group (4 + 3 + 2)
# The scenarios the golden cells are of: the catalogue as it was when they were taken (issue 16). A
# scenario added since has end-to-end tests of its own; its cells are not golden.
SCENARIOS = (
    *("build-pythonpath", "dev-backend", "dev-backend-wheels", "distutils-hack", "metapath", "path-scripts"),
    *("pipconf-no-deps", "pth-exec", "pth-setuptools", "self-hosting-backend", "system-site-packages"),
    *("user-site", "vcs-target"),
)
# A record's scenario_sha256 is the hash of the scenario file it ran: equal to the file's hash today,
# it is written as this marker, so editing a scenario file (its upstream state, a comment) leaves the
# golden records valid, and a record that names another file's hash still differs.
CURRENT_FILE = "<sha256 of the scenario file>"
# Likewise the probe wheel each cell installs: it is made from this tree's probe (its sha256 changes with
# any change to _ih_probe.py), so a record naming the current probe wheel's hash is written with this
# marker, and a record naming another probe still differs.
CURRENT_PROBE = "<sha256 of this tree's probe wheel>"
SCENARIO_DIR = Path(__file__).parent.parent / "scenarios"

# (group, engine, command-line narrowing); every scenario of the catalogue runs in each group.
RUNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "docker-newest",
        "docker",
        (
            *("--python", "3.11", "--pip", "26.3", "--mode", "default", "--mode", "venv-isolation"),
            *(f"--frontend={f}" for f in ("pip", "build==1.6.1", "uv==0.13.9")),
        ),
    ),
    (
        "docker-older",
        "docker",
        (
            "--python",
            "3.8",
            "--pip",
            "19.3.1",
            "--pip",
            "21.3.1",
            "--pip",
            "23.0.1",
            "--frontend",
            "pip",
            "--mode",
            "default",
        ),
    ),
    (
        "local",
        "local",
        ("--python", "3.13", "--pip", "25.0", "--frontend", "pip", "--mode", "default", "--frontend", "uv==0.13.9"),
    ),
)
# Facts that differ between two runs of the same cell: when it ran, how long, and which image id
# the machine's engine gave the same recipe; the result cache's key (issue 19), which holds the
# machine's base image and the driver's source.
_DROPPED = ("run_id", "started", "finished", "duration", "cache_key")
# Random parts of temporary paths, and process ids: tempfile's names, pip's and uv's build folders, the local
# engine's cell folder, pip's per-requirement unpack folders, uv's git checkout keys.
_PREFIXES = (
    "ih-cell",
    "pip-build-env",
    "build-env",
    "pip-install",
    "pip-target",
    "pip-req-build",
    "pip-wheel",
    "pip-ephem-wheel-cache",
    "pip-modern-metadata",
    "pip-unpack",
    "pip-standalone-pip",
    "pip-build-tracker",
)
_RANDOM = (
    (re.compile(rf"\b({'|'.join(_PREFIXES)})-[a-z0-9_]{{8}}"), r"\1-X"),
    (re.compile(r"\btmp[a-z0-9_]{8}\b"), "tmpX"),
    (re.compile(r"\.tmp[A-Za-z0-9]{6}\b"), ".tmpX"),
    (re.compile(r"_[0-9a-f]{32}\b"), "_X"),
    (re.compile(r"checkouts/[0-9a-f]{16}/"), "checkouts/X/"),
    # Process ids: one process more or less started anywhere before a build (pip's own helpers, the
    # container's) shifts them; which steps fired in how many processes is still compared.
    (re.compile(r"\(pid \d+\)"), "(pid X)"),
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in _RANDOM:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def normalize(record: dict[str, Any], group: str) -> dict[str, Any]:
    data = {k: v for k, v in record.items() if k not in _DROPPED}
    for run in ("control", "experiment"):
        if isinstance(data.get(run), dict):
            data[run] = {k: v for k, v in data[run].items() if k != "duration"}
    if isinstance(data.get("engine"), dict):
        data["engine"] = {k: v for k, v in data["engine"].items() if k != "image_id"}
    scrubbed: dict[str, Any] = _scrub(data)
    scrubbed["golden_group"] = group
    source = SCENARIO_DIR / f"{scrubbed.get('scenario')}.yaml"
    if source.is_file() and scrubbed.get("scenario_sha256") == hashlib.sha256(source.read_bytes()).hexdigest():
        scrubbed["scenario_sha256"] = CURRENT_FILE
    return with_probe_marker(scrubbed, hashlib.sha256(probe_wheel_bytes()).hexdigest())


def with_probe_marker(record: dict[str, Any], probe: str) -> dict[str, Any]:
    """The record with the probe wheel artifact whose sha256 is ``probe`` written as CURRENT_PROBE."""
    for artifact in record.get("artifacts") or []:
        if artifact.get("file") == probe_wheel_name() and artifact.get("sha256") == probe:
            artifact["sha256"] = CURRENT_PROBE
    return record


def normalized_runs(folders: Iterable[tuple[str, Path]]) -> dict[str, dict[str, Any]]:
    """``(group, run folder)`` pairs to normalised records keyed by ``group:cell``."""
    found: dict[str, dict[str, Any]] = {}
    for group, folder in folders:
        for line in (folder / "results.jsonl").read_text().splitlines():
            if line.strip():
                record = normalize(json.loads(line), group)
                found[f"{group}:{record['cell']}"] = record
    return found


# Where an interpreter lives: this machine's pyenv (local recipe, local engine), an official image's
# /usr/local (slim recipe), a GitHub runner's tool cache (local engine there).
_PREFIX = re.compile(r"/root/\.pyenv/versions/[0-9.]+|/usr/local|/opt/hostedtoolcache/Python/[0-9.]+/x64")


def fingerprint(records: dict[str, dict[str, Any]]) -> set[tuple[str, str, str | None, str | None]]:
    """What the golden records take from the machine: engine, recipe and exact interpreter per Python."""
    return {
        (r["engine"]["name"], r["python"]["axis"], r["engine"].get("image_recipe"), r["python"]["exact"])
        for r in records.values()
        if r["python"]["exact"]
    }


def portable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what depends on the machine it ran on: where the interpreters live, their
    patch releases, the engine's identity and notes. For a machine other than the golden one (a GitHub
    runner with the slim recipe), where the rest must still be equal."""
    data: dict[str, Any] = json.loads(_PREFIX.sub("<prefix>", json.dumps(record)))
    data["python"] = {"axis": data["python"]["axis"]}
    data["engine"] = {k: data["engine"][k] for k in ("name", "isolation")}
    for key in ("pip_version_output", "git_version"):
        data.pop(key, None)
    return data


def load() -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return {f"{r['golden_group']}:{r['cell']}": r for r in records}


def save(records: dict[str, dict[str, Any]]) -> None:
    DATA.write_text("".join(json.dumps(records[key], sort_keys=True) + "\n" for key in sorted(records)))


if __name__ == "__main__":  # python -m tests.golden_records GROUP=RUN_DIR ...
    save(normalized_runs((arg.split("=", 1)[0], Path(arg.split("=", 1)[1])) for arg in sys.argv[1:]))
