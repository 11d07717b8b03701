"""The decision policy of `workflows.approvals`, without a server: who may decide, and when."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from orchestrator.domain import (
    Decision,
    DecisionKind,
    Environment,
    PhaseName,
    Role,
    StepState,
    StepStatus,
)
from workflows.approvals import check_principal, check_step


def decision(
    kind: DecisionKind = DecisionKind.approve,
    *,
    principal: str = "alice",
    role: Role = Role.responder,
    environments: tuple[Environment, ...] = (Environment.prod,),
) -> Decision:
    return Decision(
        decision_id="d-1",
        step_id="rollback",
        kind=kind,
        principal=principal,
        role=role,
        environments=list(environments),
    )


def step(status: StepStatus, **fields: object) -> StepState:
    return StepState(
        step_id="rollback",
        phase=PhaseName.eradication,
        action="models.rollback",
        status=status,
        **fields,  # type: ignore[arg-type]
    )


def refused(call: object, *args: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value


@pytest.mark.parametrize("role", [Role.auditor, Role.source])
def test_only_responders_and_admins_decide(role: Role) -> None:
    error = refused(check_principal, decision(role=role), Environment.prod)
    assert error.type == "Forbidden"
    assert role.value in error.message


def test_a_principal_out_of_scope_is_refused_before_anything_about_the_step() -> None:
    error = refused(check_principal, decision(environments=(Environment.dev,)), Environment.prod)
    assert error.type == "Forbidden"
    assert "prod" in error.message


@pytest.mark.parametrize("role", [Role.responder, Role.admin])
def test_a_scoped_responder_or_admin_passes(role: Role) -> None:
    check_principal(decision(role=role), Environment.prod)


def test_no_such_step_is_a_conflict() -> None:
    error = refused(check_step, decision(), None)
    assert error.type == "Conflict"
    assert "rollback" in error.message


@pytest.mark.parametrize(
    "status", [StepStatus.pending, StepStatus.running, StepStatus.succeeded, StepStatus.skipped]
)
def test_a_step_that_waits_for_nobody_refuses_every_decision(status: StepStatus) -> None:
    error = refused(check_step, decision(), step(status))
    assert error.type == "Conflict"
    assert status.value in error.message


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (StepStatus.awaiting_approval, DecisionKind.retry),
        (StepStatus.awaiting_approval, DecisionKind.skip),
        (StepStatus.awaiting_decision, DecisionKind.approve),
        (StepStatus.awaiting_decision, DecisionKind.reject),
    ],
)
def test_each_wait_takes_only_its_own_kinds(status: StepStatus, kind: DecisionKind) -> None:
    error = refused(check_step, decision(kind), step(status))
    assert error.type == "Conflict"
    assert kind.value in error.message


def test_the_requester_cannot_approve_its_own_step() -> None:
    waiting = step(StepStatus.awaiting_approval, requested_by="alice", approvals_required=1)
    error = refused(check_step, decision(principal="alice"), waiting)
    assert error.type == "Forbidden"


def test_two_person_rule_one_approver_counts_once() -> None:
    waiting = step(
        StepStatus.awaiting_approval,
        requested_by="detector",
        approvals_required=2,
        approved_by=["alice"],
    )
    assert refused(check_step, decision(principal="alice"), waiting).type == "Forbidden"
    check_step(decision(principal="bob"), waiting)


def test_a_failed_step_takes_retry_skip_and_abort() -> None:
    failed = step(StepStatus.awaiting_decision)
    for kind in (DecisionKind.retry, DecisionKind.skip, DecisionKind.abort):
        check_step(decision(kind), failed)
