"""Change points along the pip axis (issue 19): the search finds the exact first release of each
change, measured on both sides, and measures a fraction of the axis."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from packaging.version import Version

from isolation_harness.changes import Axis, Probe, claimed, gaps, pip_axis, search

# Final pip releases from 19.2 to 26.3 (metapath's axis on Python 3.11 starts at 19.2; 20.0 was yanked).
RELEASES = pip_axis(
    [
        "19.2",
        "19.2.1",
        "19.2.2",
        "19.2.3",
        "19.3",
        "19.3.1",
        "20.0.1",
        "20.0.2",
        "20.1",
        "20.1.1",
        "20.2",
        "20.2.1",
        "20.2.2",
        "20.2.3",
        "20.2.4",
        "20.3",
        "20.3.1",
        "20.3.2",
        "20.3.3",
        "20.3.4",
        "21.0",
        "21.0.1",
        "21.1",
        "21.1.1",
        "21.1.2",
        "21.1.3",
        "21.2",
        "21.2.1",
        "21.2.2",
        "21.2.3",
        "21.2.4",
        "21.3",
        "21.3.1",
        "22.0",
        "22.0.1",
        "22.0.2",
        "22.0.3",
        "22.0.4",
        "22.1",
        "22.1.1",
        "22.1.2",
        "22.2",
        "22.2.1",
        "22.2.2",
        "22.3",
        "22.3.1",
        "23.0",
        "23.0.1",
        "23.1",
        "23.1.1",
        "23.1.2",
        "23.2",
        "23.2.1",
        "23.3",
        "23.3.1",
        "23.3.2",
        "24.0",
        "24.1",
        "24.1.1",
        "24.1.2",
        "24.2",
        "24.3",
        "24.3.1",
        "25.0",
        "25.0.1",
        "25.1",
        "25.1.1",
        "25.2",
        "25.3",
        "26.0",
        "26.0.1",
        "26.1",
        "26.1.1",
        "26.1.2",
        "26.2",
        "26.2.1",
        "26.3",
        "26.4rc1",
    ]
)
G = "metapath/py3.11/pip"


def metapath(pip: str) -> str:
    """What was measured (run --changes, docker, Python 3.11): unsupported before 20, then broke
    (pip #11812) until pyproject-hooks 1.2 in pip 25.0, then leaked."""
    version = Version(pip)
    return "unsupported" if version < Version("20") else "broke" if version < Version("25") else "leaked"


def _measure(truth: Mapping[str, str], log: list[list[Probe]]):  # type: ignore[no-untyped-def]
    def measure(probes: list[Probe]) -> dict[Probe, str]:
        log.append(list(probes))
        return {p: truth[p[1]] for p in probes}

    return measure


def test_the_axis_is_every_final_release_from_19() -> None:
    assert RELEASES[0] == "19.2"
    assert RELEASES[-1] == "26.3"  # no pre-release
    assert pip_axis(["18.1", "19.0", "26.4b1"]) == ["19.0"]


def test_metapath_changes_found_exactly_and_measured_on_both_sides() -> None:
    log: list[list[Probe]] = []
    (axis,) = search({G: RELEASES}, {}, _measure({r: metapath(r) for r in RELEASES}, log))
    assert [(c.last_same, c.first_changed, c.before, c.after) for c in axis.changes] == [
        ("19.3.1", "20.0.1", "unsupported", "broke"),
        ("24.3.1", "25.0", "broke", "leaked"),
    ]
    for change in axis.changes:  # both sides measured, and neighbours on the axis
        assert {change.last_same, change.first_changed} <= set(axis.measured)
        assert RELEASES.index(change.first_changed) == RELEASES.index(change.last_same) + 1
    # 13 of 77: two changes among 77 releases need about log2(C(76, 2)) = 11.5 halvings and the ends.
    assert len(axis.measured) == 13
    assert log[0] == [(G, "19.2"), (G, "26.3")]  # the ends first, then a round per halving
    assert axis.line().startswith(f"{G}: 19.2..19.3.1 unsupported | 20.0.1..24.3.1 broke | 25.0..26.3 leaked")


def test_the_expected_changes_seeded_are_confirmed_by_six_cells() -> None:
    """metapath's expect: (<20 unsupported, >=20,<25 broke, >=25 leaked) claims both changes: its two
    seeds each, and the ends, are all the cells; nothing is halved."""
    seeds = claimed(RELEASES, {r: metapath(r) for r in RELEASES})
    assert seeds == ["19.3.1", "20.0.1", "24.3.1", "25.0"]
    log: list[list[Probe]] = []
    (axis,) = search({G: RELEASES}, {G: seeds}, _measure({r: metapath(r) for r in RELEASES}, log))
    assert [(c.last_same, c.first_changed) for c in axis.changes] == [("19.3.1", "20.0.1"), ("24.3.1", "25.0")]
    assert (len(axis.measured), len(log)) == (6, 1)


def test_a_wrong_claim_costs_cells_never_a_wrong_change_point() -> None:
    """expect: puts the second change at 23.0 (it is at 25.0): the seeds 22.3.1/23.0 measure broke on
    both sides, the gap 23.0..26.3 differs and is halved to the real change; the claim is refuted."""
    claim = {r: "leaked" if Version(r) >= Version("23") else metapath(r) for r in RELEASES}
    seeds = claimed(RELEASES, claim)
    assert seeds == ["19.3.1", "20.0.1", "22.3.1", "23.0"]
    (axis,) = search({G: RELEASES}, {G: seeds}, _measure({r: metapath(r) for r in RELEASES}, []))
    axis = Axis(axis.group, axis.releases, axis.measured, claimed=tuple(seeds[1::2]))
    assert [(c.last_same, c.first_changed) for c in axis.changes] == [("19.3.1", "20.0.1"), ("24.3.1", "25.0")]
    assert [axis.said(c) for c in axis.changes] == [" (expected)", " (unexpected)"]
    assert axis.refuted == ("23.0",)
    assert 6 < len(axis.measured) <= 13


def test_a_release_no_rule_covers_claims_nothing() -> None:
    assert claimed(["1", "2", "3", "4"], {"1": "held", "2": "held", "4": "broke"}) == []
    assert claimed(["1", "2", "3"], {"1": "held", "2": "broke", "3": "broke"}) == ["1", "2"]


def test_equal_ends_measure_two_cells_and_seeds_reveal_a_reverted_change() -> None:
    """pip #13186: 25.0 only. Ends alone cannot see it; a seed inside the regression does."""
    truth = {r: "broke" if r == "25.0" else "held" for r in RELEASES}
    (blind,) = search({G: RELEASES}, {}, _measure(truth, []))
    assert (len(blind.measured), blind.changes) == (2, ())
    (seeded,) = search({G: RELEASES}, {G: ["24.0", "25.0", "26.0.1"]}, _measure(truth, []))
    assert [(c.first_changed, c.after) for c in seeded.changes] == [("25.0", "broke"), ("25.0.1", "held")]


def test_groups_run_their_rounds_together_and_a_missing_verdict_does_not_loop() -> None:
    other = "metapath/py3.12/pip"
    axes = {G: RELEASES, other: RELEASES[10:]}
    log: list[list[Probe]] = []
    found = search(axes, {}, _measure({r: metapath(r) for r in RELEASES}, log))
    assert {a.group for a in found} == {G, other}
    assert {g for g, _ in log[1]} == {G, other}  # one round, both axes
    assert search({G: RELEASES}, {}, lambda probes: {})[0].measured == {}


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        ({"19.2": "a", "26.3": "a"}, []),
        ({"19.2": "a", "19.2.1": "b"}, []),  # neighbours: a change point, nothing to halve
        ({"19.2": "a", "19.2.2": "b"}, ["19.2.1"]),
    ],
)
def test_gaps(measured: dict[str, str], expected: list[str]) -> None:
    assert gaps(RELEASES, measured) == expected


def test_axis_round_trips_through_json() -> None:
    axis = Axis(G, tuple(RELEASES), {"19.2": "unsupported", "26.3": "leaked"}, claimed=("20.0.1",))
    data = axis.to_json()
    assert data["changes"] == [
        {"last_same": "19.2", "first_changed": "26.3", "before": "unsupported", "after": "leaked"}
    ]
    assert data["claimed"] == ["20.0.1"]
    assert Axis.from_json(data) == axis


def test_reports_draw_each_axis_with_its_change_points(tmp_path: Path) -> None:
    from isolation_harness.report import write_reports
    from isolation_harness.runfolder import RunFolder

    measured = ("19.2", "19.3.1", "20.0.1", "21.3.1", "22.0", "24.3.1", "25.0", "26.3")
    # expect: claims 20.0.1 (there) and 22.0 (not there); 25.0 is a change it does not claim.
    axis = Axis(G, tuple(RELEASES), {r: metapath(r) for r in measured}, claimed=("20.0.1", "22.0"))
    RunFolder(tmp_path).write_changes([axis.to_json()])
    written = write_reports([], tmp_path, tmp_path)
    md = written["report.md"].read_text()
    assert (
        f"| {G} | 19.2..26.3 ({len(RELEASES)}) | 8 | broke from **20.0.1** (19.3.1: unsupported) (expected); "
        "leaked from **25.0** (24.3.1: broke) (unexpected); no change at 22.0, where expect: puts one |" in md
    )
    page = written["report.html"].read_text()
    assert page.count("title='pip ") == len(RELEASES)  # a box per release
    assert page.count("(assumed)") == len(RELEASES) - 8
    assert "leaked from pip <b>25.0</b> (24.3.1: broke) (unexpected)" in page
    assert "no change at pip <b>22.0</b>, where expect: puts one" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-ends"], "--from-ends is a way of --changes: add --changes"),
        (["--changes", "--pip", "24.0"], "--changes chooses the pips itself: leave out --pip, --resume and --repeat"),
        (["--recheck", "101"], "--recheck must be a percent between 0 and 100"),
    ],
)
def test_bad_change_and_recheck_options_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from isolation_harness.cli import main

    assert main(["run", "--scenario", "metapath", *args, "--engine", "local"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
