"""The upstream state of a scenario and the catalogue's status page: the two disagreements it flags
(an open report that no longer reproduces, a fixed one that reproduces again) and nothing else."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from isolation_harness import catalogue
from isolation_harness.errors import ConfigError
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.upstream import Upstream

from .conftest import cell_record
from .test_scenario import GOOD

Writer = Callable[[str, str], Path]


def _with(upstream: str) -> str:
    return GOOD + upstream


def test_upstream_is_read(scenario_file: Writer) -> None:
    scenario = load_scenario(
        scenario_file(
            "demo",
            _with("upstream: {url: 'https://github.com/pypa/pip/issues/1', state: fixed, fixed-in: {pip: '24.3'}}\n"),
        )
    )
    assert scenario.upstream == Upstream(
        "https://github.com/pypa/pip/issues/1", "fixed", "pip", (("pip", Version("24.3")),)
    )
    build = load_scenario(
        scenario_file("demo", _with("upstream: {url: 'https://github.com/pypa/build/issues/2', state: open}\n"))
    )
    assert build.upstream is not None
    assert build.upstream.frontend == "build"


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        (
            "{url: 'https://github.com/pypa/pip/issues/1', state: closed}",
            "key 'upstream.state': 'closed' is not one of open, fixed, unreported",
        ),
        (
            "{url: 'https://github.com/pypa/pip/issues/1', state: fixed}",
            "a fixed report needs the first release with the fix",
        ),
        (
            "{url: 'https://github.com/pypa/pip/issues/1', state: open, fixed-in: {pip: '1'}}",
            "drop fixed-in or set state: fixed",
        ),
        (
            "{url: 'https://github.com/pypa/pip/issues/1', state: fixed, fixed-in: {pipx: '1'}}",
            "key 'upstream.fixed-in.pipx': 'pipx' is not one of",
        ),
        (
            "{url: 'https://github.com/pypa/pip/issues/1', state: fixed, fixed-in: {pip: 'soon'}}",
            "'soon' is not a release number",
        ),
        ("{url: 'https://example.org/x', state: open}", "say which frontend it concerns"),
        ("{url: 'http://github.com/pypa/pip/issues/1', state: open}", "is not an https:// URL"),
        ("{url: 'https://github.com/pypa/pip/issues/1', state: open, fixd-in: {pip: '1'}}", "did you mean 'fixed-in'?"),
    ],
)
def test_bad_upstream_is_one_line_naming_the_key(scenario_file: Writer, upstream: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(scenario_file("demo", _with(f"upstream: {upstream}\n")))
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "demo.yaml" in text


def _scenario(scenario_file: Writer, state: str, fixed: str = "") -> Scenario:
    fixed_in = f", fixed-in: {{pip: '{fixed}'}}" if fixed else ""
    return load_scenario(
        scenario_file(
            "demo", _with(f"upstream: {{url: 'https://github.com/pypa/pip/issues/1', state: {state}{fixed_in}}}\n")
        )
    )


def _records(**verdicts: str) -> list[Any]:
    """Records of scenario demo: keys like ``py3_11__pip26_3__pip`` (label with + for modes)."""
    out = []
    for key, verdict in verdicts.items():
        python, pip, label = key.replace("_", ".").split("..")
        out.append(
            cell_record(f"demo/{python}/{pip}/{label.replace('.plus.', '+').replace('.eq.', '==')}", verdict=verdict)
        )
    return out


@pytest.mark.parametrize(
    ("state", "fixed", "newest", "flag"),
    [
        ("open", "", "leaked", None),
        ("open", "", "held", catalogue.FLAG_GONE),
        ("fixed", "24.0", "held", None),
        ("fixed", "24.0", "broke", catalogue.FLAG_BACK),
        ("guard", "", "leaked", catalogue.FLAG_GUARD),
        ("guard", "", "held", None),
        ("unreported", "", "held", catalogue.FLAG_UNREPORTED_GONE),
        ("open", "", "unsupported", None),  # an unsupported control says nothing about the bug
    ],
)
def test_the_flag_compares_the_newest_pip_with_the_state(
    scenario_file: Writer, state: str, fixed: str, newest: str, flag: str | None
) -> None:
    scenario = _scenario(scenario_file, state, fixed)
    # Older pips and other modes never decide the flag: only pip as users run it, at its newest release.
    records = _records(
        py3_11__pip23_0__pip="broke",
        py3_11__pip26_3__pip=newest,
        py3_12__pip26_3__pip=newest,
        **{"py3_11__pip26_3__pip.plus.venv-isolation": "held" if newest != "held" else "leaked"},
    )
    (status,) = catalogue.statuses([scenario], records)
    assert status.flag == flag
    pip = next(v for v in status.newest if v.label == "pip")
    assert (pip.release, pip.summary()) == ("pip 26.3", f"{newest} (3.11, 3.12)")
    assert [v.label for v in status.newest] == ["pip", "pip+venv-isolation"]


def test_a_frontend_shows_its_newest_release_only(scenario_file: Writer) -> None:
    scenario = load_scenario(
        scenario_file(
            "demo",
            _with(
                "upstream: {url: 'https://github.com/pypa/build/issues/9', state: fixed, fixed-in: {build: '1.4.4'}}\n"
            ),
        )
    )
    records = _records(
        **{
            "py3_11__pip26_3__build.eq.1_4_3": "broke",
            "py3_11__pip26_3__build.eq.1_4_4": "held",
            "py3_11__pip26_3__pip": "leaked",
        }
    )
    (status,) = catalogue.statuses([scenario], records)
    assert [(v.label, v.summary()) for v in status.newest] == [
        ("pip", "leaked (3.11)"),
        ("build==1.4.4", "held (3.11)"),
    ]
    assert status.flag is None
    assert status.checked == "build 1.4.4: held"


def test_a_scenario_the_run_did_not_measure(scenario_file: Writer) -> None:
    (status,) = catalogue.statuses([_scenario(scenario_file, "open")], [])
    assert not status.measured
    assert status.flag is None
    assert "| demo | [open](https://github.com/pypa/pip/issues/1) | not measured |" in catalogue.markdown([status])


def test_the_page_lists_the_flags_first(scenario_file: Writer) -> None:
    scenario = _scenario(scenario_file, "fixed", "24.0")
    (status,) = catalogue.statuses([scenario], _records(py3_11__pip26_3__pip="leaked"))
    text = catalogue.markdown([status])
    assert (
        "## Flags\n\n- **demo**: fixed report reproduces again (pip 26.3: reproduces; https://github.com/pypa/pip/issues/1)"
        in text
    )
    page = catalogue.html_page([status], "status")
    assert "data-flag='fixed report reproduces again'" in page
    assert "href='https://github.com/pypa/pip/issues/1'" in page


def test_the_command_writes_both_pages_from_the_catalogue(tmp_path: Path) -> None:
    """The installed command over the repository's catalogue, without a run: every scenario listed
    with its state, none measured."""
    out = tmp_path / "page"
    proc = subprocess.run(
        [sys.executable, "-m", "isolation_harness", "catalogue", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    text = (out / "catalogue.md").read_text()
    assert "| metapath | [" in text
    assert "not measured" in text
    assert (out / "catalogue.html").read_text().startswith("<!doctype html>")


def test_a_fixed_report_with_a_known_other_failure_is_not_flagged(scenario_file: Writer) -> None:
    """user-site: pip #5224 is fixed, but on 3.9-3.11 the base site-packages leaks (expected): only a
    failure where the scenario expects the fix to hold says the report is back."""
    scenario = _scenario(scenario_file, "fixed", "24.0")
    known = cell_record("demo/py3.11/pip26.3/pip", verdict="leaked", expected="leaked")
    held = cell_record("demo/py3.13/pip26.3/pip", verdict="held", expected="held")
    (status,) = catalogue.statuses([scenario], [known, held])
    assert status.flag is None
    back = cell_record("demo/py3.13/pip26.3/pip", verdict="broke", expected="held", match=False)
    (status,) = catalogue.statuses([scenario], [known, back])
    assert status.flag == catalogue.FLAG_BACK


def test_each_python_shows_the_newest_release_that_runs_there(scenario_file: Writer) -> None:
    """pip 26.3 and build 1.6.1 need Python 3.10: on 3.9 the page shows the newest that ran there, and
    says which, so a run over every Python has every Python on the page."""
    scenario = _scenario(scenario_file, "open")
    records = _records(
        **{
            "py3_9__pip26_0_1__pip": "broke",
            "py3_9__pip26_3__pip": "not-applicable",
            "py3_11__pip26_3__pip": "held",
            "py3_9__pip26_3__build.eq.1_6_1": "not-applicable",
            "py3_9__pip26_0_1__build.eq.1_4_4": "leaked",
            "py3_11__pip26_3__build.eq.1_6_1": "held",
            "py3_11__pip26_3__build.eq.1_4_4": "leaked",
        }
    )
    (status,) = catalogue.statuses([scenario], records)
    assert [(v.label, v.release, v.summary()) for v in status.newest] == [
        ("pip", "pip 26.3", "broke (3.9 with pip 26.0.1), held (3.11)"),
        ("build==1.6.1", "1.6.1", "leaked (3.9 with build 1.4.4), held (3.11)"),
    ]
    # The open report still reproduces on 3.9's newest pip: not flagged as gone.
    assert status.flag is None
    assert status.checked == "pip 26.3: reproduces"
