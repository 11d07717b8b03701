"""The decision policy the incident workflow's update validator enforces.

Pure functions over workflow state, so the rules are tested without a server and a rejected
decision never reaches workflow history. A rejection is an `ApplicationError` whose `type`
(`Forbidden` or `Conflict`) the client maps back onto `orchestrator.errors`.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from orchestrator.domain import (
    Decision,
    DecisionKind,
    Environment,
    Role,
    StepState,
    StepStatus,
    Triage,
)

DECIDERS = frozenset({Role.responder, Role.admin})
KINDS_BY_STATUS: dict[StepStatus, frozenset[DecisionKind]] = {
    StepStatus.awaiting_approval: frozenset(
        {DecisionKind.approve, DecisionKind.reject, DecisionKind.abort}
    ),
    StepStatus.awaiting_decision: frozenset(
        {DecisionKind.retry, DecisionKind.skip, DecisionKind.abort}
    ),
}

TRIAGE_KINDS = frozenset({DecisionKind.assign, DecisionKind.close})


def forbidden(message: str) -> ApplicationError:
    return ApplicationError(message, type="Forbidden", non_retryable=True)


def conflict(message: str) -> ApplicationError:
    return ApplicationError(message, type="Conflict", non_retryable=True)


def check_principal(decision: Decision, environment: Environment) -> None:
    """Raise unless the decider may act on incidents in `environment` at all.

    Checked before anything about the incident's state, so a principal out of scope learns
    nothing about it (not even whether a step waits or the incident is closed).
    """
    check_scope(decision.role, decision.environments, environment, "decide on incident steps")


def check_scope(
    role: Role, environments: list[Environment], environment: Environment, what: str
) -> None:
    """Raise unless `role` may `what` and `environments` include the incident's."""
    if role not in DECIDERS:
        raise forbidden(f"role {role.value} may not {what}")
    if environment not in environments:
        raise forbidden(f"principal is not scoped to the {environment.value} environment")


def check_step(decision: Decision, step: StepState | None) -> None:
    """Raise unless `decision` applies to `step` as it stands now."""
    if step is None:
        raise conflict(f"no step {decision.step_id!r} in this incident")
    allowed = KINDS_BY_STATUS.get(step.status)
    if allowed is None:
        raise conflict(f"step {step.step_id} is {step.status.value}, not waiting for a decision")
    if decision.kind not in allowed:
        raise conflict(
            f"step {step.step_id} is {step.status.value}; {decision.kind.value} does not apply"
        )
    if decision.kind is DecisionKind.approve:
        if decision.principal == step.requested_by:
            raise forbidden("the principal who requested a step cannot approve it")
        if decision.principal in step.approved_by:
            raise forbidden(f"{decision.principal} already approved step {step.step_id}")


def check_triage(decision: Decision, triage: Triage | None) -> None:
    """Raise unless `decision` may settle the triage of an incident as it stands now."""
    if triage is None or triage.done:
        raise conflict("the incident is not in triage")
    if decision.kind not in TRIAGE_KINDS:
        raise conflict(
            f"the incident waits in triage; {decision.kind.value} does not apply "
            "(assign a playbook, or close it)"
        )
    if triage.assigning is not None:
        raise conflict(f"playbook {triage.assigning} is being assigned")
    if decision.kind is DecisionKind.assign:
        if not decision.playbook:
            raise conflict("an assignment names the playbook to run")
        if decision.principal == triage.requested_by:
            raise forbidden("the principal who raised the alert cannot assign its playbook")
