from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.version import Version

from isolation_harness.errors import ConfigError
from isolation_harness.scenario import EditableFinder, Install, load_scenario
from isolation_harness.verdict import Verdict

from .conftest import SCENARIOS

GOOD = """\
name: demo
summary: "a demo (pip #1)"
references: [https://github.com/pypa/pip/issues/1]
project:
  name: demo
  files:
    pyproject.toml: |
      [build-system]
      requires = ["flit_core"]
      build-backend = "flit_core.buildapi"
contamination:
  - env: {PIP_TARGET: "{target}"}
action: {frontend: pip, args: [install, "{project_url}"]}
expect:
  - {pip: "<24.3", verdict: broke}
  - {verdict: held}
"""

Writer = Callable[[str, str], Path]


def test_metapath_loads_into_typed_steps(metapath: object) -> None:
    scenario = load_scenario(SCENARIOS / "metapath.yaml")
    assert scenario.contamination == (Install(("flit_core >=3.8.0,<4",)), EditableFinder("my_backend"))
    assert scenario.expected(pip=Version("23.0.1"), python=Version("3.11")) is Verdict.BROKE
    assert scenario.expected(pip=Version("25.0"), python=Version("3.8")) is Verdict.LEAKED
    assert scenario.expected(pip=Version("19.3.1"), python=Version("3.8")) is Verdict.UNSUPPORTED
    assert "#11812" in scenario.summary


def test_good_document(scenario_file: Writer) -> None:
    scenario = load_scenario(scenario_file("demo", GOOD))
    assert scenario.timeout == 300
    assert scenario.expected(pip=Version("24.2"), python=Version("3.12")) is Verdict.BROKE
    assert scenario.expected(pip=Version("24.3"), python=Version("3.12")) is Verdict.HELD


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("summary:", "sumary:", "key 'sumary': unknown key; did you mean 'summary'?"),
        (
            "  - {verdict: held}",
            "  - {verdict: held, pipp: '>1'}",
            "key 'expect[1].pipp': unknown key; did you mean 'pip'?",
        ),
        ('"<24.3"', '"<<24"', "key 'expect[0].pip': '<<24' is not a version specifier"),
        ("verdict: broke", "verdict: borke", "key 'expect[0].verdict': 'borke' is not one of"),
        ('action: {frontend: pip, args: [install, "{project_url}"]}\n', "", "key 'action': missing required key"),
        ("{PIP_TARGET", "{PIP_TARGET: '{targte}', X", "unknown placeholder {targte}"),
        (
            "    pyproject.toml: |",
            "    ../escape.toml: x\n    pyproject.toml: |",
            "must be relative paths inside the project",
        ),
        (
            "  - env:",
            "  - environment:",
            "key 'contamination[0].environment': unknown key; valid keys: install, editable, editable-finder, pth, env, pip-config",  # noqa: E501
        ),
        ("name: demo\n", "name: other\n", "differs from the file name"),
    ],
)
def test_bad_documents_name_file_and_key(scenario_file: Writer, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = scenario_file("demo", GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    text = info.value.message
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "text",
    ["", "just a string", "[1, 2]", "name: [unclosed", "a: &a [*a]", "{" * 100 + "}" * 100],
)
def test_garbage_is_a_config_error(scenario_file: Writer, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(scenario_file("demo", text))
    assert "demo.yaml: " in info.value.message
    assert "\n" not in info.value.message


def test_error_is_never_expected(scenario_file: Writer) -> None:
    with pytest.raises(ConfigError, match="'error' is not one of"):
        load_scenario(scenario_file("demo", GOOD.replace("verdict: held", "verdict: error")))


FIXTURE_SCENARIO = GOOD.replace(
    """  files:
    pyproject.toml: |
      [build-system]
      requires = ["flit_core"]
      build-backend = "flit_core.buildapi"
""",
    """  fixture: demo-project
  files:
    extra.py: "x = 1"
""",
)


def test_fixture_folder_supplies_the_project(scenario_file: Writer) -> None:
    path = scenario_file("demo", FIXTURE_SCENARIO)
    fixture = path.parent / "fixtures" / "demo-project"
    (fixture / "pkg").mkdir(parents=True)
    (fixture / "pyproject.toml").write_text('[build-system]\nrequires = ["flit_core"]\n')
    (fixture / "pkg" / "__init__.py").write_text('"""pkg"""\n')
    scenario = load_scenario(path)
    assert sorted(scenario.project.file_map) == ["extra.py", "pkg/__init__.py", "pyproject.toml"]
    assert scenario.project.fixture == "demo-project"
    assert len(scenario.project.digest) == 64


def test_fixture_symlink_out_of_the_project_is_refused(scenario_file: Writer, tmp_path: Path) -> None:
    path = scenario_file("demo", FIXTURE_SCENARIO)
    fixture = path.parent / "fixtures" / "demo-project"
    fixture.mkdir(parents=True)
    (fixture / "pyproject.toml").write_text('[build-system]\nrequires = ["flit_core"]\n')
    secret = tmp_path / "secret.txt"
    secret.write_text("host file")
    (fixture / "leak.txt").symlink_to(secret)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert info.value.message.startswith(f"{path}: key 'project.fixture': leak.txt is a symlink out of the fixture")


@pytest.mark.parametrize("name", ["../outside", "/abs", "missing"])
def test_bad_fixture_names(scenario_file: Writer, name: str) -> None:
    path = scenario_file("demo", FIXTURE_SCENARIO.replace("demo-project", name))
    with pytest.raises(ConfigError, match=r"key 'project.fixture'"):
        load_scenario(path)


STEPS = """\
name: steps
summary: "one line"
references: [https://example.org/1]
project:
  name: p
  files: {{pyproject.toml: "[build-system]\\nrequires = []\\n"}}
{project_extra}
contamination:
{steps}
action: {{frontend: pip, args: [install, "{{project_url}}"]}}
expect: [{{verdict: held}}]
"""


def test_new_steps_and_project_keys(tmp_path: Path) -> None:
    from isolation_harness.scenario import Install, VenvConfig

    path = tmp_path / "steps.yaml"
    path.write_text(
        STEPS.format(
            project_extra='  links: {".local/m": "{cell}/dev/m"}\n  outside: {"dev/m/__init__.py": "x = 1"}\n'
            '  index: ["wheel"]',
            steps="  - venv-config: {system-site-packages: true}\n"
            "  - install: {requirements: [setuptools==68.0.0], into: base}\n"
            "  - install: [wrapt]",
        )
    )
    scenario = load_scenario(path)
    assert scenario.contamination == (
        VenvConfig(system_site_packages=True),
        Install(requirements=("setuptools==68.0.0",), into="base"),
        Install(requirements=("wrapt",)),
    )
    assert scenario.needs_disposable_base
    assert scenario.project.links == ((".local/m", "{cell}/dev/m"),)
    assert scenario.project.index == ("wheel",)


@pytest.mark.parametrize(
    ("project_extra", "steps", "message"),
    [
        (
            "",
            "  - install: {requirements: [x], into: system}",
            "key 'contamination[0].install.into': 'system' is not one of host, user, base",
        ),
        ("", "  - venv-config: {system-site-packages: yes-please}", "expected true or false"),
        ('  links: {"m": "/etc/passwd"}', "  - install: [x]", "link target '/etc/passwd' is not inside the cell"),
        ('  outside: {"../m.py": "x"}', "  - install: [x]", "file names must be relative paths inside the project"),
    ],
)
def test_bad_new_keys(tmp_path: Path, project_extra: str, steps: str, message: str) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text(STEPS.format(project_extra=project_extra, steps=steps))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_scenario(path)


STEP_KEYS = "install, editable, editable-finder, pth, env, pip-config, venv-config, command-line"
PLACEHOLDER_FIX = (
    "placeholders are {cell}, {host_site}, {index_ca}, {index_netloc}, {index_password}, {index_url}, "
    "{index_url_auth}, {index_user}, {path}, {project_dir}, {project_requirements}, {project_url}, {run}, "
    "{target}, {wheelhouse}"
)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("  - shell: rm", f"key 'contamination[0].shell': unknown key; valid keys: {STEP_KEYS}"),
        (
            "  - {install: [x], env: {A: b}}",
            f"key 'contamination[0]': each contamination step is a mapping with exactly one key; one of: {STEP_KEYS}",
        ),
        (
            "  - install",
            f"key 'contamination[0]': each contamination step is a mapping with exactly one key; one of: {STEP_KEYS}",
        ),
        ("  - install: {into: host}", "key 'contamination[0].install.requirements': missing required key"),
        (
            "  - editable-finder: {module: a-b}",
            "key 'contamination[0].editable-finder.module': 'a-b' is not a module name",
        ),
        (
            "  - pth: {name: x.txt, lines: [a]}",
            "key 'contamination[0].pth.name': 'x.txt' must be a plain file name ending in .pth",
        ),
        (
            "  - pth: {name: x.pth, lines: ['{bad}']}",
            f"key 'contamination[0].pth.lines[0]': unknown placeholder {{bad}}; {PLACEHOLDER_FIX}",
        ),
        ("  - env: {1A: x}", "key 'contamination[0].env.1A': '1A' is not an environment variable name"),
        (
            "  - pip-config: {}",
            "key 'contamination[0].pip-config': expected a mapping of pip config sections, "
            "such as {global: {target: '{target}'}}",
        ),
        (
            "  - pip-config: {global: {t: '{zz}'}}",
            f"key 'contamination[0].pip-config.global': unknown placeholder {{zz}}; {PLACEHOLDER_FIX}",
        ),
        ("  - venv-config: []", "key 'contamination[0].venv-config': expected a mapping, got a list"),
        (
            "  - editable: {config-settings: {editable_mode: strict}}",
            "key 'contamination[0].editable': needs one source; give sdist: NAME==VERSION (from PyPI) "
            "or fixture: FOLDER (scenarios/fixtures)",
        ),
        (
            "  - editable: {sdist: setuptools>=75}",
            "key 'contamination[0].editable.sdist': 'setuptools>=75' is not one release; pin it: NAME==VERSION, "
            "so the result can be replayed",
        ),
        (
            "  - editable: {sdist: setuptools==75.*}",
            "key 'contamination[0].editable.sdist': 'setuptools==75.*' is not one release; pin it: NAME==VERSION, "
            "so the result can be replayed",
        ),
        (
            "  - editable: {sdist: a==1, meta-path: front}",
            "key 'contamination[0].editable.meta-path': 'front' is not one of first, as-installed",
        ),
        ("  - editable: {sdist: a==1, mode: strict}", "key 'contamination[0].editable.mode': unknown key"),
        (
            "  - editable: {sdist: a==1, build-isolation: maybe}",
            "key 'contamination[0].editable.build-isolation': expected true or false",
        ),
        (
            "  - editable: {sdist: a==1, requires: ['a b c']}",
            "key 'contamination[0].editable.requires[0]': 'a b c' is not a requirement",
        ),
    ],
)
def test_each_step_kind_names_its_mistakes(tmp_path: Path, steps: str, message: str) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text(STEPS.format(project_extra="", steps=steps))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert info.value.message.startswith(f"{path}: {message}")


def test_every_step_kind_reads_into_its_type(tmp_path: Path) -> None:
    from isolation_harness import scenario, steps

    path = tmp_path / "steps.yaml"
    path.write_text(
        STEPS.format(
            project_extra="",
            steps="  - install: {requirements: [a], into: user}\n"
            "  - editable-finder: {module: a.b}\n"
            "  - pth: {name: x.pth, lines: ['import x', '{cell}']}\n"
            "  - env: {B: '{path}:x', A: '1'}\n"
            "  - pip-config: {global: {target: '{target}'}}\n"
            "  - venv-config: {system-site-packages: false}\n"
            "  - editable: {sdist: setuptools==75.8.0, meta-path: first, requires: [wheel]}\n"
            "  - editable: {sdist: setuptools==75.8.0, config-settings: {editable_mode: strict}}\n"
            "  - editable: {sdist: meson-python==0.17.1, requires: [ninja], build-isolation: false}",
        )
    )
    assert load_scenario(path).contamination == (
        steps.Install(requirements=("a",), into="user"),
        steps.EditableFinder(module="a.b"),
        steps.PthFile(name="x.pth", lines=("import x", "{cell}")),
        steps.EnvVars(variables=(("A", "1"), ("B", "{path}:x"))),
        steps.PipConfig(sections=(("global", (("target", "{target}"),)),)),
        steps.VenvConfig(system_site_packages=False),
        steps.Editable(sdist="setuptools==75.8.0", requires=("wheel",), meta_path_first=True),
        steps.Editable(sdist="setuptools==75.8.0", config_settings=(("editable_mode", "strict"),)),
        steps.Editable(sdist="meson-python==0.17.1", requires=("ninja",), build_isolation=False),
    )
    # One reader per kind, in the order messages list the kinds; the types stay importable from scenario.
    assert steps.STEP_KINDS == tuple(steps.READERS) == scenario.STEP_KINDS
    assert scenario.Install is steps.Install


def test_an_editable_step_reads_a_fixture_and_the_scenario_lists_what_it_needs(tmp_path: Path) -> None:
    from isolation_harness import steps

    (tmp_path / "fixtures" / "mybackend").mkdir(parents=True)
    (tmp_path / "fixtures" / "mybackend" / "pyproject.toml").write_text("[project]\nname = 'mybackend'\n")
    path = tmp_path / "steps.yaml"
    path.write_text(
        STEPS.format(
            project_extra="  sdists: [flit_core==3.12.0]",
            steps="  - editable: {fixture: mybackend, requires: ['flit_core>=3.8']}\n"
            "  - editable: {sdist: hatchling==1.27.0}",
        )
    )
    scenario = load_scenario(path)
    first = scenario.contamination[0]
    assert isinstance(first, steps.Editable)
    assert first.files == (("pyproject.toml", "[project]\nname = 'mybackend'\n"),)
    assert scenario.fixtures == ["mybackend"]
    assert scenario.source_distributions == ["flit_core==3.12.0", "hatchling==1.27.0"]
    assert scenario.host_requirement_groups == [["flit_core>=3.8"], []]


def test_a_project_from_a_released_sdist_needs_no_files_and_is_not_legacy(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = STEPS.format(project_extra="  from-sdist: setuptools==75.8.0", steps="  - install: [x]")
    path.write_text(
        text.replace('  files: {pyproject.toml: "[build-system]\\nrequires = []\\n"}\n', "").replace(
            "name: steps", "name: s"
        )
    )
    project = load_scenario(path).project
    assert (project.from_sdist, project.files, project.legacy) == ("setuptools==75.8.0", (), False)
    assert load_scenario(path).source_distributions == ["setuptools==75.8.0"]
    path.write_text(text.replace("name: steps", "name: s").replace("==75.8.0", ">=75"))
    with pytest.raises(ConfigError, match="'setuptools>=75' is not one release"):
        load_scenario(path)
