"""The verdict of a cell: a pure function of the two runs and the probe's facts.

This module is the heart of the harness's truth, so it takes plain data and does no I/O; the rules are
the table in DESIGN.md, applied in order.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Verdict(str, enum.Enum):
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported"
    BROKE = "broke"
    LEAKED = "leaked"
    HELD = "held"
    # Not from `decide`: set when repeats of a cell (--repeat) disagree, so a flake is not a finding.
    FLAKY = "flaky"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RunSummary:
    """What the verdict needs of one run of the action (control or experiment)."""

    exit_code: int | None
    timed_out: bool
    hook_reports: int  # probe reports from PEP 517 hook processes
    influence: Sequence[str]  # host influence the probe saw, one sentence each

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[str, ...]


def decide(
    control: RunSummary | None,
    experiment: RunSummary | None,
    *,
    harness_fault: str | None = None,
    probe_required: bool = True,
) -> Decision:
    """Apply the verdict rules in order.

    ``harness_fault`` is set when the engine or the cell driver failed; ``probe_required`` says the
    action builds from source, so a successful run must have been seen by the probe.
    """
    if harness_fault is not None or control is None or experiment is None:
        return Decision(Verdict.ERROR, (harness_fault or "the cell produced no result for a run",))
    if control.timed_out or experiment.timed_out:
        which = "control" if control.timed_out else "experiment"
        return Decision(Verdict.TIMEOUT, (f"the {which} run was killed at its time limit",))
    if probe_required:
        for name, run in (("control", control), ("experiment", experiment)):
            if run.ok and run.hook_reports == 0:
                return Decision(
                    Verdict.ERROR,
                    (f"the {name} run succeeded but the probe reported from no build hook process",),
                )
    if control.ok and control.influence:
        # A control that is not clean means the environment under test was not fresh: that is the
        # harness's fault, and blaming pip for it would be a wrong verdict.
        return Decision(Verdict.ERROR, ("the control build saw host influence: " + "; ".join(control.influence),))
    if not control.ok:
        return Decision(Verdict.UNSUPPORTED, (f"the control run failed (exit {control.exit_code})",))
    if not experiment.ok:
        reasons = [f"the control succeeded and the experiment failed (exit {experiment.exit_code})"]
        reasons.extend(experiment.influence)
        return Decision(Verdict.BROKE, tuple(reasons))
    if experiment.influence:
        return Decision(Verdict.LEAKED, tuple(experiment.influence))
    return Decision(Verdict.HELD, ("both runs succeeded and the probe saw no host influence",))
