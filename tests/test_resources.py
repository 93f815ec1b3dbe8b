"""Where the catalogue, the matrix and the image recipes come from (unit tier: no engine, no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from isolation_harness import images, resources
from isolation_harness.errors import InputError
from isolation_harness.matrix import load_matrix
from tests.conftest import ROOT, harness


def test_the_checkout_is_the_data_root_of_an_editable_install() -> None:
    assert resources.data_root() == ROOT
    assert (resources.containers() / "Dockerfile.slim").is_file()


def test_defaults_prefer_the_current_folder_then_the_bundled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resources.scenarios_dir(None) == resources.Source("scenarios", ROOT / "scenarios", "bundled")
    assert resources.matrix_file(None).origin == "bundled"
    (tmp_path / "scenarios").mkdir()
    # An empty ./scenarios is not a catalogue: the bundled one is still used.
    assert resources.scenarios_dir(None).origin == "bundled"
    (tmp_path / "scenarios" / "x.yaml").write_text("name: x\n")
    (tmp_path / "matrix.yaml").write_text("pythons: []\n")
    assert resources.scenarios_dir(None) == resources.Source("scenarios", Path("scenarios"), "./scenarios")
    assert resources.matrix_file(None) == resources.Source("matrix", Path("matrix.yaml"), "./matrix.yaml")
    given = resources.scenarios_dir(Path("scenarios"))
    assert given.origin == "--scenarios-dir"
    assert given.describe() == f"scenarios {tmp_path / 'scenarios'} (--scenarios-dir)"


def test_a_missing_folder_or_matrix_is_a_one_line_input_error(tmp_path: Path) -> None:
    proc = harness(["list", "--scenarios-dir", str(tmp_path / "nope")], cwd=tmp_path)
    assert proc.returncode == 2
    missing = tmp_path / "nope"
    assert proc.stderr.strip().splitlines() == [
        f"isolation-harness: error: --scenarios-dir {missing}: no such folder; pass a folder of scenario files"
    ]
    proc = harness(["shards", "--matrix", "nope.yaml"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "isolation-harness: error: --matrix nope.yaml: no such file; pass a matrix YAML file"


def test_list_from_an_empty_folder_names_the_bundled_catalogue(tmp_path: Path) -> None:
    proc = harness(["list"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"scenarios {ROOT / 'scenarios'} (bundled):"
    assert {line.split(":")[0].strip() for line in lines[1:]} == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}


def test_every_python_of_the_matrix_has_pinned_base_packages() -> None:
    for python in load_matrix(ROOT / "matrix.yaml").pythons:
        pins = images.base_packages(python)
        assert pins[0].startswith("pip=="), pins
        # The official images stopped installing setuptools and wheel from 3.12 (docker-library/python a8ec33a6).
        has_setuptools = any(p.startswith("setuptools==") for p in pins)
        assert has_setuptools == (tuple(int(x) for x in python.split(".")) < (3, 12)), (python, pins)
    with pytest.raises(InputError, match=r"--python 3\.99: .*base-packages\.txt has no base packages"):
        images.base_packages("3.99")


def test_recipe_choice_and_slim_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOLATION_HARNESS_IMAGE_RECIPE", "slim")
    assert images.chosen_recipe("3.11") == "slim"
    assert images.chosen_recipe("3.11", "local") == "local"
    monkeypatch.setenv("ISOLATION_HARNESS_IMAGE_RECIPE", "fancy")
    with pytest.raises(InputError, match="ISOLATION_HARNESS_IMAGE_RECIPE=fancy: unknown recipe"):
        images.chosen_recipe("3.11")
    monkeypatch.delenv("ISOLATION_HARNESS_SLIM_BASE", raising=False)
    assert images.slim_base("3.9") == "python:3.9-slim"
    monkeypatch.setenv("ISOLATION_HARNESS_SLIM_BASE", "registry.example/python:{python}-slim-bookworm")
    assert images.slim_base("3.9") == "registry.example/python:3.9-slim-bookworm"
    monkeypatch.setenv("ISOLATION_HARNESS_SLIM_BASE", "standin")
    assert images.slim_base("3.9") == images.standin_tag("3.9")
    assert images.tag_for("3.9", "slim") != images.tag_for("3.9", "local")


def test_recipe_hash_follows_every_file_that_goes_into_an_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISOLATION_HARNESS_SLIM_BASE", raising=False)
    plain = images.recipe_hash("slim")
    monkeypatch.setenv("ISOLATION_HARNESS_SLIM_BASE", "standin")
    assert images.recipe_hash("slim") != plain  # the stand-in's recipe is part of what the image is


def test_the_slim_recipe_defaults_to_the_official_image() -> None:
    text = (ROOT / "containers" / "Dockerfile.slim").read_text()
    assert re.search(r"(?m)^ARG BASE=python:\$\{PYTHON\}-slim$", text)
    assert re.search(r"(?m)^FROM \$\{BASE\}$", text)


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("python3.11", True),
        ("python3", True),
        ("python3.11-config", True),
        ("pydoc3.8", True),
        ("idle3", True),
        ("2to3-3.8", True),
        ("pip3.11", False),  # made again by the pinned base pip
        ("jsonschema", False),  # a foreign script of the host's site-packages
        ("__pycache__", False),
    ],
)
def test_only_cpython_scripts_of_a_local_prefix_go_into_an_image(name: str, kept: bool) -> None:
    assert bool(images._CPYTHON_SCRIPTS.match(name)) is kept
