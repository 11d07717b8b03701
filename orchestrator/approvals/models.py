"""A decision's request body, validated before it reaches the workflow, and what waits for one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.domain import (
    DecisionKind,
    DecisionOutcome,
    Environment,
    PendingDecision,
    Resources,
    Severity,
    SlaLeg,
    Slug,
)

NEEDS_REASON = frozenset(
    {DecisionKind.reject, DecisionKind.abort, DecisionKind.close, DecisionKind.resolve}
)


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: DecisionKind
    reason: str = Field("", max_length=2000)
    decision_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Idempotency key: repeating it returns the first outcome instead of "
        "deciding twice. Generated when absent.",
    )
    playbook: Slug | None = Field(
        None, description="`assign` (step `triage`): the id of the playbook to run."
    )
    resources: Resources | None = Field(
        None,
        description="`assign`: resources the alert did not name (api_key, model, dataset, "
        "agent, tool …); they win over the alert's.",
    )

    @model_validator(mode="after")
    def _reason_when_refusing(self) -> Self:
        """Refusing or aborting stops the response; the audit log must say why."""
        if self.decision in NEEDS_REASON and not self.reason.strip():
            raise ValueError(f"a reason is required to {self.decision.value}")
        if self.decision is DecisionKind.assign and self.playbook is None:
            raise ValueError("assign names the playbook to run (playbook)")
        if self.decision is not DecisionKind.assign and (self.playbook or self.resources):
            raise ValueError("playbook and resources go with assign only")
        return self


class IncidentActionRequest(BaseModel):
    """The body of `POST /v1/incidents/{id}/acknowledge|resolve|close`."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000, description="Required to resolve or close.")
    decision_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Idempotency key, as for step decisions. Generated when absent.",
    )

    def as_decision(self, kind: DecisionKind) -> DecisionRequest:
        """The decision it is (step `incident`); a missing reason is refused as a 422."""
        return DecisionRequest(decision=kind, reason=self.reason, decision_id=self.decision_id)


class SlaDue(BaseModel):
    """An incident's SLA countdown: which leg falls due next, and when."""

    leg: SlaLeg
    due_at: datetime


class PendingApproval(PendingDecision):
    """One row of `GET /v1/approvals`: a step the caller may decide on."""

    incident_id: str
    incident_title: str
    environment: Environment
    severity: Severity
    incident_sla: SlaDue | None = Field(
        None, description="The incident's next SLA leg and when it falls due."
    )


class DecisionApplied(DecisionOutcome):
    """200: the workflow applied the decision; `step_status` is the step's new state."""

    state: Literal["applied"] = "applied"


class DecisionAccepted(BaseModel):
    """202: Temporal holds the decision but no worker has applied it yet (none is running).

    It is applied, or refused by the workflow's rules, once a worker runs; `follow` answers
    with its outcome, and sending the same `decision_id` again is safe (it never applies
    twice).
    """

    state: Literal["pending"] = "pending"
    decision_id: str
    step_id: str
    kind: DecisionKind | None = Field(None, description="Known when answering the decision.")
    detail: str
    follow: str = Field(description="`GET` this path for the decision's outcome.")


DecisionAnswer = DecisionApplied | DecisionAccepted
