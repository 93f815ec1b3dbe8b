"""A standalone shell script that replays one recorded cell, for pasting into an upstream issue.

The script carries everything the cell needs: the pinned wheels (downloaded by version and checked
against the recorded sha256; the tiny probe wheel is embedded), the driver and its spec (project files,
contamination, action), and the harness's own verdict code, so the verdict it prints is computed
exactly as the harness computes it. It runs in the recorded docker image when that exists, otherwise
with a local interpreter.
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from isolation_harness import spec
from isolation_harness.errors import InputError
from isolation_harness.images import tag_for
from isolation_harness.inputs import editable_pip
from isolation_harness.probe import DRIVER_FILES
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import Editable
from isolation_harness.sdistproject import materialize
from isolation_harness.wheelhouse import Wheelhouse, default_location
from isolation_harness.wheelstore import Artifact

HERE = Path(__file__).resolve().parent
CHECK_MODULES = ("verdict.py", "evidence.py")

CHECK = """\
import json, sys
from pathlib import Path
from isolation_harness.evidence import analyze_run
from isolation_harness.verdict import decide
out = Path(sys.argv[1])
result = json.loads((out / "result.json").read_text())
runs, roots = result.get("runs", {}), result.get("roots", {})
facts = {name: analyze_run(runs[name], roots, out) for name in ("control", "experiment") if name in runs}
for name, f in facts.items():
    print(f"{name}: exit {f.exit_code}" + (f", error: {f.error}" if f.error else ""))
    for line in f.influence:
        print(f"  {line}")
summary = {k: v.summary() for k, v in facts.items()}
decision = decide(summary.get("control"), summary.get("experiment"), harness_fault=result.get("fault"))
print(f"verdict: {decision.verdict.value}")
for reason in decision.reasons:
    print(f"  {reason}")
sys.exit(0 if decision.verdict.value == sys.argv[2] else 1)
"""


# Sections 4 and 5 of the script: the same for every cell.
RUN_AND_CHECK = (
    "",
    "# 4. run the cell: in the recorded image when docker has it, else with a local interpreter",
    "fill() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s.update(cell_dir=sys.argv[2], "
    'out_dir=sys.argv[3], wheelhouse=sys.argv[4], system_path="/usr/local/bin:/usr/bin:/bin"); '
    'json.dump(s, open(sys.argv[5], "w"))\' "$WORK/harness/spec.json" "$@"; }',
    'if [ "${REPRO_ENGINE:-auto}" != local ] && command -v docker >/dev/null 2>&1 \\',
    '   && docker image inspect "$IMAGE" >/dev/null 2>&1; then',
    '  fill /cell /out /wheels "$WORK/harness/cell.json"',
    '  PY="$(docker image inspect -f \'{{index .Config.Labels "org.isolation-harness.python"}}\' "$IMAGE")"',
    '  chmod 0777 "$WORK/out"; chmod -R a+rX "$WORK/harness" "$WORK/wheels"',
    "  docker run --rm --network none --user 1000:1000 --cap-drop ALL --security-opt no-new-privileges \\",
    '    -v "$WORK/wheels:/wheels:ro" -v "$WORK/harness:/harness:ro" -v "$WORK/out:/out" \\',
    '    "$IMAGE" "$PY" -I -S /harness/driver.py /harness/cell.json',
    "else",
    '  PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"',
    '  PY="$(command -v "python$PYTHON_AXIS" || ls -d "$PYENV_VERSIONS/$PYTHON_AXIS".*/bin/python3 2>/dev/null'
    ' | sort -V | tail -n 1)"',
    '  [ -n "$PY" ] || { echo "no python$PYTHON_AXIS and no image $IMAGE" >&2; exit 2; }',
    '  fill "$WORK/cell" "$WORK/out" "$WORK/wheels" "$WORK/harness/cell.json"',
    '  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/cell" "$PY" -I -S "$WORK/harness/driver.py" '
    '"$WORK/harness/cell.json"',
    "fi",
    "",
    "# 5. the verdict, as the harness decides it",
    'PYTHONPATH="$WORK/check" python3 "$WORK/check/check.py" "$WORK/out" "$EXPECTED" && status=0 || status=$?',
    'if [ "$status" = 0 ]; then echo "same verdict as recorded: $EXPECTED"; else echo "verdict differs from the'
    ' recorded $EXPECTED"; fi',
    'exit "$status"',
)


def script(run_dir: Path, cell: str, *, wheelhouse: Wheelhouse | None = None) -> str:
    """The script of ``cell`` of the run in ``run_dir``; the probe wheel it embeds comes from ``wheelhouse``."""
    folder = RunFolder.existing(run_dir)
    record = folder.record_of(cell)
    if record.verdict == "not-applicable":
        raise InputError(f"{cell}: not-applicable cells did not run, so there is nothing to replay")
    if record.pip.wheel is None:
        raise InputError(f"{cell}: its record names no pip wheel, so the cell cannot be replayed")
    house = wheelhouse or Wheelhouse(default_location())
    scenario = materialize(folder.scenario_of(record), house)
    tool = editable_pip(house, record.python) if any(isinstance(s, Editable) for s in scenario.contamination) else None
    driver = spec.for_scenario(
        scenario,
        Path(record.pip.wheel),
        frontend=record.frontend,
        release=record.frontend_release,
        mode=record.mode,
        editable_pip_wheel=tool,
    ).to_json()
    python = record.python
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        f"# Replays isolation-harness cell {cell}",
        f"# recorded: {record.verdict} (expected {record.expected}), run {record.run_id},",
        f"# engine {record.engine.name}, Python {record.python_exact}, pip {record.pip.version}"
        f" (sha256 {record.pip.sha256})",
        "# Upstream: " + ", ".join(scenario.references),
        "# Usage: bash repro.sh   (needs python3 with pip, and docker or a local python" + python + ");"
        " REPRO_ENGINE=local forces the local interpreter",
        "set -euo pipefail",
        f"PYTHON_AXIS={q(python)}",
        f"EXPECTED={q(record.verdict)}",
        f"IMAGE={q(record.engine.image or tag_for(python))}",
        'WORK="$(mktemp -d)"',
        "trap 'rm -rf \"$WORK\"' EXIT",
        'mkdir -p "$WORK/wheels" "$WORK/harness" "$WORK/check/isolation_harness" "$WORK/out" "$WORK/cell"',
        "",
        *_wheels(record.artifacts, house),
        "# 2. the cell driver and its spec: project files, contamination, action",
        *(line for path in DRIVER_FILES for line in _heredoc(f"$WORK/harness/{path.name}", path.read_text())),
        *_heredoc("$WORK/harness/spec.json", json.dumps(driver, indent=1)),
        "",
        "# 3. the harness's verdict code, unchanged",
        *_heredoc("$WORK/check/isolation_harness/__init__.py", ""),
    ]
    for module in CHECK_MODULES:
        lines += _heredoc(f"$WORK/check/isolation_harness/{module}", (HERE / module).read_text())
    lines += _heredoc("$WORK/check/check.py", CHECK)
    lines += RUN_AND_CHECK
    return "\n".join(lines) + "\n"


def _wheels(artifacts: Sequence[Artifact], house: Wheelhouse) -> list[str]:
    """Section 1: the wheels the cell used, downloaded by version (the probe wheel embedded) and checked
    against the recorded sha256."""
    q = shlex.quote
    downloads: list[str] = []
    sdists: list[str] = []
    embedded: list[tuple[str, str]] = []
    hashes: list[str] = []
    for artifact in artifacts:
        is_sdist = artifact.file.endswith((".tar.gz", ".zip"))
        stem = artifact.file.removesuffix(".tar.gz").removesuffix(".zip") if is_sdist else artifact.file
        name, version = stem.rsplit("-", 1) if is_sdist else stem.split("-")[:2]
        hashes.append(f"{artifact.sha256}  {artifact.file}")
        if name == "isolation_harness_probe":
            wheel = (house.root / artifact.file).read_bytes()
            embedded.append((artifact.file, base64.encodebytes(wheel).decode()))
        else:
            (sdists if is_sdist else downloads).append(f"{name.replace('_', '-')}=={version}")
    lines = [
        "# 1. the wheels this cell used, pinned and checked against the recorded sha256",
        "python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \\",
        '  --python-version "$PYTHON_AXIS" -d "$WORK/wheels" ' + " ".join(q(d) for d in downloads),
    ]
    if sdists:  # source distributions: a project's own source, a backend built from source
        lines += [
            "python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: \\",
            '  --no-build-isolation -d "$WORK/wheels" ' + " ".join(q(d) for d in sdists),
        ]
    for filename, data in embedded:
        lines += [f"base64 -d > \"$WORK/wheels/{filename}\" <<'IH_EOF'", data.rstrip("\n"), "IH_EOF"]
    return [*lines, "(cd \"$WORK/wheels\" && sha256sum --check --quiet) <<'IH_EOF'", *hashes, "IH_EOF", ""]


def _heredoc(path: str, text: str) -> list[str]:
    marker = "IH_EOF"
    if marker in text:  # pragma: no cover - none of the embedded files contains it
        raise AssertionError(f"{marker} inside {path}")
    return [f"cat > \"{path}\" <<'{marker}'", text.rstrip("\n"), marker]
