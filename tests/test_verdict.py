"""The verdict rules, case by case: each must be able to fail when the facts change."""

from __future__ import annotations

import pytest

from isolation_harness.verdict import RunSummary, Verdict, decide

OK = RunSummary(0, False, 3, ())
FAIL = RunSummary(1, False, 1, ())
LEAKY = RunSummary(0, False, 3, ("host import hook on sys.meta_path: x",))
HUNG = RunSummary(None, True, 0, ())
UNSEEN = RunSummary(0, False, 0, ())


@pytest.mark.parametrize(
    ("control", "experiment", "expected"),
    [
        (OK, OK, Verdict.HELD),
        (OK, LEAKY, Verdict.LEAKED),
        (OK, FAIL, Verdict.BROKE),
        (OK, RunSummary(2, False, 1, ("backend loaded from the host",)), Verdict.BROKE),
        (FAIL, OK, Verdict.UNSUPPORTED),
        (FAIL, FAIL, Verdict.UNSUPPORTED),
        (FAIL, LEAKY, Verdict.UNSUPPORTED),
        (HUNG, OK, Verdict.TIMEOUT),
        (OK, HUNG, Verdict.TIMEOUT),
        (LEAKY, OK, Verdict.ERROR),  # an unclean control is the harness's fault, never pip's
        (UNSEEN, OK, Verdict.ERROR),  # the probe must have seen a successful build
        (OK, UNSEEN, Verdict.ERROR),
        (FAIL, UNSEEN, Verdict.ERROR),
    ],
)
def test_rules(control: RunSummary, experiment: RunSummary, expected: Verdict) -> None:
    assert decide(control, experiment).verdict is expected


def test_failed_runs_need_no_probe_report() -> None:
    # A build that fails before any hook ran (pip #12744) leaves no probe report, and that is fine.
    assert decide(OK, RunSummary(1, False, 0, ())).verdict is Verdict.BROKE


def test_harness_fault_wins() -> None:
    decision = decide(OK, OK, harness_fault="engine lost the container")
    assert decision.verdict is Verdict.ERROR
    assert decision.reasons == ("engine lost the container",)
    assert decide(None, OK).verdict is Verdict.ERROR


def test_reasons_carry_the_evidence() -> None:
    decision = decide(OK, LEAKY)
    assert decision.reasons == ("host import hook on sys.meta_path: x",)
    assert "exit 1" in decide(OK, FAIL).reasons[0]


def test_probe_optional_for_actions_without_builds() -> None:
    assert decide(UNSEEN, UNSEEN, probe_required=False).verdict is Verdict.HELD
