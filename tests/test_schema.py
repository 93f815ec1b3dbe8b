"""The shipped JSON Schema agrees with the strict loader on every scenario file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import ROOT, SCENARIOS

SCHEMA = json.loads((ROOT / "src/isolation_harness/schema/scenario.schema.json").read_text())


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_scenario_matches_schema(path: Path) -> None:
    jsonschema.validate(_load(path), SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda d: d.update(unknown=1),
        lambda d: d.pop("summary"),
        lambda d: d["project"]["files"].update({"../x": "y"}),
        lambda d: d["expect"].append({"verdict": "error"}),
        lambda d: d["contamination"].append({"shell": "rm -rf /"}),
    ],
)
def test_schema_rejects_what_the_loader_rejects(mutation: Any) -> None:
    doc = _load(SCENARIOS / "metapath.yaml")
    mutation(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
