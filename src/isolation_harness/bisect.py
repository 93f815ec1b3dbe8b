"""Find the first pip release (or commit), or the first release of another frontend (pypa/build, uv),
where a scenario's verdict changes, in log2 steps.

Each probe is an ordinary cell, recorded in the bisect's run folder like any run, so the evidence for
the answer can be read, reported and replayed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from isolation_harness.errors import InputError


@dataclass(frozen=True)
class BisectResult:
    first_changed: str  # the first candidate whose verdict differs from the good end's
    last_same: str
    good_verdict: str
    changed_verdict: str
    probes: tuple[tuple[str, str], ...]  # (candidate, verdict) in the order they ran


def pip_releases(good: str, bad: str, *, available: Sequence[str] | None = None, dist: str = "pip") -> list[str]:
    """Final releases of ``dist`` (pip, or a frontend's distribution) from ``good`` to ``bad``
    inclusive, oldest first."""
    try:
        low, high = Version(good), Version(bad)
    except InvalidVersion:
        raise InputError(f"--good {good} / --bad {bad}: both must be {dist} release numbers") from None
    if low >= high:
        raise InputError(f"--good {good} must be older than --bad {bad}")
    versions = list(available) if available is not None else index_versions(dist)
    chosen = sorted({v for v in versions if not Version(v).is_prerelease and low <= Version(v) <= high}, key=Version)
    for end in (good, bad):
        if end not in chosen:
            raise InputError(
                f"{dist} {end} is not a release on the index; pick --good/--bad from 'pip index versions {dist}'"
            )
    return chosen


def pip_commits(repo: str, good: str, bad: str) -> list[str]:
    """Commits of a local pip clone from ``good`` to ``bad`` inclusive, oldest first (first-parent line)."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise InputError(
                f"--pip-repo {repo}: git {args[0]} failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})"
            )
        return proc.stdout.strip()

    start, end = git("rev-parse", good), git("rev-parse", bad)
    between = git("rev-list", "--reverse", "--first-parent", f"{start}..{end}").split()
    if not between or between[-1] != end:
        raise InputError(f"--good {good} is not an ancestor of --bad {bad} in {repo}")
    return [start, *between]


def index_versions(dist: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", dist, "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Available versions:\s*(.+)", proc.stdout)
    if proc.returncode != 0 or not match:
        raise InputError(f"could not list {dist} releases from the index (pip index versions {dist} failed)")
    return [v.strip() for v in match.group(1).split(",") if v.strip()]


def bisect(candidates: Sequence[str], verdict_of: Callable[[str], str]) -> BisectResult:
    """Binary search over an ordered list whose verdict changes once between its ends.

    Both ends are probed first; equal verdicts at the ends mean there is nothing to find.
    """
    probes: list[tuple[str, str]] = []

    def probe(candidate: str) -> str:
        verdict = verdict_of(candidate)
        probes.append((candidate, verdict))
        return verdict

    lo, hi = 0, len(candidates) - 1
    good_verdict, bad_verdict = probe(candidates[lo]), probe(candidates[hi])
    if good_verdict == bad_verdict:
        raise InputError(
            f"the verdict is {good_verdict} at both {candidates[lo]} and {candidates[hi]}: nothing to bisect"
        )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(candidates[mid]) == good_verdict:
            lo = mid
        else:
            hi = mid
    changed = next(v for c, v in probes if c == candidates[hi])
    return BisectResult(candidates[hi], candidates[lo], good_verdict, changed, tuple(probes))
