"""Step transitions and their audit events, without a server (the outbox takes a fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.domain import (
    ActionResult,
    Actor,
    ApprovalMode,
    ApprovalPolicy,
    Decision,
    DecisionKind,
    Environment,
    PhaseName,
    Role,
    StepState,
    StepStatus,
)
from workflows import transitions
from workflows.outbox import Outbox

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALICE = Actor(id="alice", role="responder")
BOB = Actor(id="bob", role="responder")


@pytest.fixture
def outbox() -> Outbox:
    return Outbox("incident-1", clock=lambda: NOW)


def waiting(required: int = 2) -> StepState:
    return StepState(
        step_id="rollback",
        phase=PhaseName.eradication,
        action="models.rollback",
        status=StepStatus.awaiting_approval,
        approvals_required=required,
        requested_by="detector",
    )


def test_a_request_sets_quorum_and_deadline_and_records_them(outbox: Outbox) -> None:
    step = StepState(step_id="rollback", phase=PhaseName.eradication, action="models.rollback")
    policy = ApprovalPolicy(mode=ApprovalMode.two, deadline_seconds=600)
    transitions.request(step, policy, "detector", outbox)
    assert step.status is StepStatus.awaiting_approval
    assert step.approvals_required == 2
    assert step.deadline is not None and (step.deadline - NOW).total_seconds() == 600
    (event,) = outbox.take()
    assert event.type == "StepRequested"
    assert event.payload["deadline"] == step.deadline.isoformat()
    assert event.payload["requested_by"] == "detector"


def test_approvals_count_to_the_quorum(outbox: Outbox) -> None:
    step = waiting(required=2)
    transitions.approve(step, outbox, ALICE, decision_id="d-1", reason="ok")
    assert step.status is StepStatus.awaiting_approval
    transitions.approve(step, outbox, BOB, decision_id="d-2", reason="ok")
    assert step.status is StepStatus.approved
    first, second = outbox.take()
    assert first.payload["approved_by"] == ["alice"]
    assert second.payload["approved_by"] == ["alice", "bob"]
    assert second.actor.id == "bob"
    assert first.id != second.id


def test_a_timeout_rule_approval_reads_like_a_persons_in_the_ledger(outbox: Outbox) -> None:
    by_person, by_rule = waiting(required=1), waiting(required=2)
    transitions.approve(by_person, outbox, ALICE, decision_id="d-1", reason="ok")
    transitions.approve(
        by_rule,
        outbox,
        transitions.TIMEOUT_ACTOR,
        decision_id=None,
        reason="timeout rule: approve",
        by_rule=True,
    )
    person, rule = outbox.take()
    assert set(person.payload) == set(rule.payload)
    assert by_rule.status is StepStatus.approved
    assert by_rule.approved_by == []  # the rule is no approver
    assert rule.payload["principal"] == "firebreak/timeout"
    assert rule.payload["decision_id"] is None


def test_reject_and_abort_finish_the_step_at_the_clock(outbox: Outbox) -> None:
    rejected, aborted = waiting(), waiting()
    transitions.reject(rejected, outbox, ALICE, decision_id="d-1", reason="no")
    transitions.abort(aborted, outbox, BOB, decision_id="d-2", reason="stop")
    assert rejected.status is StepStatus.rejected and rejected.finished_at == NOW
    assert aborted.status is StepStatus.rejected  # aborted while waiting for approval
    types = [e.type for e in outbox.take()]
    assert types == ["StepRejected", "IncidentAborted"]


def test_abort_of_a_failed_step_marks_it_failed(outbox: Outbox) -> None:
    step = waiting()
    step.status = StepStatus.awaiting_decision
    transitions.abort(step, outbox, ALICE, decision_id="d-1", reason="")
    assert step.status is StepStatus.failed


def test_start_counts_attempts_and_names_who_asked_for_a_retry(outbox: Outbox) -> None:
    step = waiting()
    transitions.start(step, PhaseName.eradication, outbox, retried_by=None)
    transitions.fail(step, outbox, "Unavailable: gateway down")
    transitions.start(step, PhaseName.eradication, outbox, retried_by=("d-9", "alice"))
    first, failed, second = outbox.take()
    assert (step.attempts, step.status) == (2, StepStatus.running)
    assert "decision_id" not in first.payload
    assert second.payload["decision_id"] == "d-9" and second.payload["principal"] == "alice"
    assert failed.payload["error"] == "Unavailable: gateway down"
    assert first.id != second.id  # the attempt is part of the event's subject


def test_success_records_the_result_and_its_evidence(outbox: Outbox) -> None:
    step = waiting()
    result = ActionResult(action="evidence.collect", changed=True, summary="ok", evidence=["ab"])
    transitions.succeed(step, outbox, result)
    succeeded, evidence = outbox.take()
    assert step.status is StepStatus.succeeded and step.result == result
    assert succeeded.sensitive == ("result",)  # action results are encrypted at rest
    assert evidence.payload == {"step_id": "rollback", "digests": ["ab"]}


def test_compensation_failure_keeps_the_step_succeeded(outbox: Outbox) -> None:
    step = waiting()
    step.status = StepStatus.succeeded
    transitions.compensate(step, outbox, "models.restore", error="Unavailable: registry")
    assert step.status is StepStatus.succeeded
    result = ActionResult(action="models.restore", changed=True, summary="restored")
    transitions.compensate(step, outbox, "models.restore", result=result)
    assert step.status is StepStatus.compensated
    failed, done = outbox.take()
    assert failed.payload["action"] == done.payload["action"] == "models.restore"
    assert "error" in failed.payload and "result" in done.payload


def test_a_stall_names_the_action_that_runs(outbox: Outbox) -> None:
    step = waiting()
    transitions.stall(step, outbox, "models.restore", 30)
    (event,) = outbox.take()
    assert step.stalled
    assert event.payload["action"] == "models.restore"
    assert event.payload["running_seconds"] == 30


def test_a_persons_decision_is_applied_and_answered_with_the_step_state(outbox: Outbox) -> None:
    def by_alice(kind: DecisionKind, step: StepState) -> tuple[StepStatus, str]:
        decision = Decision(
            decision_id=f"d-{kind.value}",
            step_id=step.step_id,
            kind=kind,
            principal="alice",
            role=Role.responder,
            environments=[Environment.prod],
            reason="why",
        )
        outcome = transitions.decided(step, decision, outbox)
        assert outcome.step_status is step.status
        return step.status, outbox.take()[-1].type if len(outbox) else ""

    failed = waiting()
    failed.status = StepStatus.awaiting_decision
    assert by_alice(DecisionKind.retry, failed) == (StepStatus.pending, "")
    assert by_alice(DecisionKind.skip, waiting()) == (StepStatus.skipped, "StepSkipped")
    assert by_alice(DecisionKind.approve, waiting(required=1)) == (
        StepStatus.approved,
        "StepApproved",
    )
