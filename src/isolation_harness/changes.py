"""Change points along the pip axis (``run --changes``): the exact first release of every change of
verdict, over every pip release that can run a cell, measured on both sides, for a fraction of the
cells of the whole axis.

Per (scenario, Python, frontend, mode) the axis is every final pip release the cell can run with. The
seeds are its two ends, every release of it the result cache has (free: the weekly run measures the
matrix's pips, an earlier change-point run its probes) and the two releases on each side of every
change the scenario's ``expect:`` rules claim (the hypothesis, checked first); then, round by round,
every gap between neighbouring measured releases whose verdicts differ is halved, until each such
pair is adjacent on the axis. A claim that holds is confirmed by its two seeds alone; one that does
not leaves differing gaps that the halving narrows to the real change, so a wrong ``expect:`` costs
cells, never a wrong change point. Releases between two measured ones with the same verdict are
assumed to share it: a change that reverts between two seeds is not seen (pip #13186 was a
one-release regression, 25.0 only: seeds narrow that). From the ends alone (``--from-ends``), two
changes among 75 releases take about 13 cells: log2 of the ways to place them is 11.4.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from isolation_harness.errors import InputError
from isolation_harness.matrix import Cell
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder, new_run_id

if TYPE_CHECKING:
    from isolation_harness.runner import RunRequest

Group = str  # scenario/pyX.Y/label: a cell id without its pip
Probe = tuple[Group, str]  # (group, pip release)


@dataclass(frozen=True)
class Change:
    last_same: str  # the newest release with the old verdict (measured)
    first_changed: str  # the first release with the new verdict (measured, the next on the axis)
    before: str
    after: str


@dataclass(frozen=True)
class Axis:
    group: Group
    releases: tuple[str, ...]  # the whole axis, oldest first
    measured: Mapping[str, str]  # release -> verdict, for the releases that were measured
    claimed: tuple[str, ...] = ()  # the first releases of the changes the scenario's expect: claims

    @property
    def refuted(self) -> tuple[str, ...]:
        """Claimed changes that are not there (both sides measured, one verdict)."""
        return tuple(r for r in self.claimed if r not in {c.first_changed for c in self.changes})

    def said(self, change: Change) -> str:
        """Whether the scenario's expect: claims this change ('' when it claims none on this axis)."""
        if not self.claimed:
            return ""
        return " (expected)" if change.first_changed in self.claimed else " (unexpected)"

    @property
    def changes(self) -> tuple[Change, ...]:
        points = [r for r in self.releases if r in self.measured]
        return tuple(
            Change(a, b, self.measured[a], self.measured[b])
            for a, b in itertools.pairwise(points)
            if self.measured[a] != self.measured[b]
        )

    def segments(self) -> list[tuple[str, str, str, int]]:
        """(first, last, verdict, measured in it) for each run of one verdict along the axis."""
        out: list[tuple[str, str, str, int]] = []
        for release in self.releases:
            verdict = self.measured.get(release)
            if verdict is None:
                continue
            if out and out[-1][2] == verdict:
                first, _, _, count = out[-1]
                out[-1] = (first, release, verdict, count + 1)
            else:
                out.append((release, release, verdict, 1))
        return out

    def line(self) -> str:
        """``metapath/py3.11/pip: 19.0..19.3.1 unsupported | 20.0.1..24.3.1 broke | ...``"""
        parts = [f"{a}..{b} {v}" if a != b else f"{a} {v}" for a, b, v, _ in self.segments()]
        share = f"{len(self.measured)} of {len(self.releases)} releases measured"
        return f"{self.group}: {' | '.join(parts)} ({share})"

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "releases": list(self.releases),
            "measured": dict(self.measured),
            "changes": [c.__dict__ for c in self.changes],
            "claimed": list(self.claimed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Axis:
        return cls(str(data["group"]), tuple(data["releases"]), dict(data["measured"]), tuple(data.get("claimed", ())))


def gaps(releases: Sequence[str], measured: Mapping[str, str]) -> list[str]:
    """The release halving each gap whose measured ends differ."""
    points = [i for i, r in enumerate(releases) if r in measured]
    return [
        releases[(a + b) // 2]
        for a, b in itertools.pairwise(points)
        if b - a > 1 and measured[releases[a]] != measured[releases[b]]
    ]


def claimed(releases: Sequence[str], expected: Mapping[str, str]) -> list[str]:
    """Both releases on each side of every change the expectations claim: neighbours on the axis
    whose expected verdicts differ (a release no rule covers claims nothing)."""
    return [
        release
        for a, b in itertools.pairwise(releases)
        if a in expected and b in expected and expected[a] != expected[b]
        for release in (a, b)
    ]


def search(
    axes: Mapping[Group, Sequence[str]],
    seeds: Mapping[Group, Iterable[str]],
    measure: Callable[[list[Probe]], Mapping[Probe, str]],
) -> list[Axis]:
    """Measure the seeds, then halve differing gaps round by round (each round's cells run together)."""
    measured: dict[Group, dict[str, str]] = {group: {} for group in axes}
    todo: list[Probe] = []
    for group, releases in axes.items():
        wanted = {releases[0], releases[-1], *(s for s in seeds.get(group, ()) if s in releases)}
        todo += [(group, r) for r in sorted(wanted, key=Version)]
    asked: set[Probe] = set()
    while todo:
        asked.update(todo)
        for (group, release), verdict in measure(todo).items():
            measured[group][release] = verdict
        # A probe is never asked twice (a measurement that gave no verdict must not loop).
        todo = [(g, r) for g, releases in axes.items() for r in gaps(releases, measured[g]) if (g, r) not in asked]
    return [Axis(group, tuple(axes[group]), measured[group]) for group in axes]


# -- over real cells -------------------------------------------------------------------------------

# The oldest pip the axis starts at: pip 19.0 is the first with PEP 517 builds (and the matrix's oldest
# series); the catalogue's expectations go back that far.
OLDEST = Version("19.0")


def pip_axis(available: Iterable[str]) -> list[str]:
    """Every final pip release from 19.0 on, oldest first."""
    return sorted({v for v in available if not Version(v).is_prerelease and Version(v) >= OLDEST}, key=Version)


def group_of(cell: Cell) -> Group:
    return f"{cell.scenario}/py{cell.python}/{cell.label}"


@dataclass(frozen=True)
class ChangesResult:
    folder: RunFolder
    axes: list[Axis]
    records: list[CellRecord]


def run_changes(request: RunRequest, releases: Sequence[str], *, from_ends: bool = False) -> ChangesResult:
    """Plan every cell over the whole pip axis, then measure only the seeds and the halving probes,
    round by round, into one run folder (``changes.json`` holds the axes). ``from_ends``: no seeds
    from the scenario's expectations (the cached ones stay: they cost nothing)."""
    from isolation_harness import runner

    planned = runner.plan_cells(dataclasses.replace(request, pips=list(releases)))
    runner.check_pythons(request.engine, planned)
    by_probe: dict[Probe, runner.Planned] = {}
    axes: dict[Group, list[str]] = {}
    for cell, scenario in planned:
        if cell.not_applicable is None:
            by_probe[(group_of(cell), cell.pip)] = (cell, scenario)
            axes.setdefault(group_of(cell), []).append(cell.pip)
    if not axes:
        raise InputError("run --changes: no cell of these scenarios and Pythons can run with any pip release")
    # Every release the result cache has is a seed: free, and it narrows what a change that reverts
    # between two seeds could hide (the weekly run measures the matrix's pips). Cold, only the ends.
    have = runner.cached(request, list(by_probe.values()))
    seeds = {g: [pip for (group, pip), (c, _) in by_probe.items() if group == g and c.id in have] for g in axes}
    claims: dict[Group, list[str]] = {g: [] for g in axes}
    if not from_ends:
        for group, pips in axes.items():
            cells = {pip: by_probe[(group, pip)][0] for pip in pips}
            expected = {pip: cell.expected.value for pip, cell in cells.items() if cell.expected is not None}
            claims[group] = claimed(sorted(pips, key=Version), expected)
            seeds[group] += claims[group]
    run_id = request.run_id or new_run_id(list(dict.fromkeys(s.name for s in request.scenarios)))
    records: dict[str, CellRecord] = {}

    def measure(probes: list[Probe]) -> dict[Probe, str]:
        cells = tuple(by_probe[p] for p in probes)
        result = runner.run(dataclasses.replace(request, cells=cells, run_id=run_id))
        records.update((r.cell, r) for r in result.records)
        return {p: records[by_probe[p][0].id].verdict for p in probes}

    found = search({g: sorted(v, key=Version) for g, v in axes.items()}, seeds, measure)
    found = [dataclasses.replace(axis, claimed=tuple(claims[axis.group][1::2])) for axis in found]
    folder = RunFolder(request.out / run_id)
    folder.write_changes([a.to_json() for a in found])
    return ChangesResult(folder, found, list(records.values()))
