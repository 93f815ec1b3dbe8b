"""A scenario's `index:` and `command-line` step, read strictly: what a cell's index is made of, and
the one-line errors of a file that gets them wrong."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from isolation_harness.errors import ConfigError
from isolation_harness.packageindex import PackageIndex, cell_index
from isolation_harness.scenario import load_scenario
from isolation_harness.steps import CommandLine

from .conftest import SCENARIOS
from .test_scenario import GOOD

Writer = Callable[[str, str], Path]


def test_the_catalogues_cert_scenario_serves_tls_and_moves_the_ca_to_the_command_line() -> None:
    scenario = load_scenario(SCENARIOS / "cert-build-deps.yaml")
    assert scenario.index == PackageIndex(
        tls=True, auth=False, env=(("PIP_CERT", "{index_ca}"), ("PIP_INDEX_URL", "{index_url}"))
    )
    assert scenario.contamination == (
        CommandLine(("--index-url", "{index_url}", "--cert", "{index_ca}"), ("PIP_INDEX_URL", "PIP_CERT")),
    )


def test_each_cell_gets_a_ca_of_its_own_and_fresh_credentials(tmp_path: Path) -> None:
    one, two = cell_index(PackageIndex(tls=True, auth=True)), cell_index(PackageIndex(tls=True, auth=True))
    assert one["ca"] != two["ca"]
    assert one["password"] != two["password"]
    assert one["user"] == "ih-user"
    ca = tmp_path / "ca.pem"
    ca.write_text(one["ca"])
    ssl.create_default_context(cafile=str(ca))  # a real certificate a client can trust
    assert "PRIVATE KEY" in one["key"]
    assert cell_index(PackageIndex()) == {"tls": False, "auth": False, "env": {}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("index-server: {tls: yes-please}\n", "key 'index-server.tls': expected true or false"),
        ("index-server: {tsl: true}\n", "key 'index-server.tsl': unknown key; did you mean 'tls'?"),
        ("index-server: {env: {1BAD: x}}\n", "'1BAD' is not an environment variable name"),
        ("index-server: {env: {PIP_INDEX_URL: '{index_uri}'}}\n", "unknown placeholder {index_uri}"),
        (
            "contamination:\n  - command-line: {args: [--cert, '{index_ca}']}\n",
            "key 'index-server': {index_ca} is used but the scenario serves no package index; add index-server:",
        ),
        (
            "index-server: {}\ncontamination:\n  - command-line: {args: [--cert, x], instead-of-env: [no such]}\n",
            "'no such' is not an environment variable name",
        ),
        ("index-server: {}\ncontamination:\n  - command-line: {argz: [x]}\n", "did you mean 'args'?"),
    ],
)
def test_a_bad_index_or_command_line_is_one_line_naming_the_key(scenario_file: Writer, text: str, message: str) -> None:
    body = GOOD.replace('contamination:\n  - env: {PIP_TARGET: "{target}"}\n', "")
    with pytest.raises(ConfigError) as info:
        load_scenario(scenario_file("demo", body + text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
