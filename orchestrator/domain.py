"""Firebreak's shared vocabulary: the pydantic models every package speaks.

Workflows import this module inside Temporal's sandbox, so it must stay free of I/O and
module-level side effects. The orchestrator, the workflows and the activities all speak these
shapes, and recorded workflow histories hold them: change them additively, so that every
package and every running incident still agree on one shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "LIFECYCLE_STEP",
    "OPEN_STATUSES",
    "TRIAGE_STEP",
    "ActionInput",
    "ActionResult",
    "Actor",
    "Alert",
    "AlertLink",
    "AlertStatus",
    "ApprovalMode",
    "ApprovalPolicy",
    "Condition",
    "ConditionResult",
    "CorrelatedAlert",
    "Decision",
    "DecisionKind",
    "DecisionOutcome",
    "EntityJoin",
    "EntityRule",
    "Environment",
    "EventType",
    "IncidentState",
    "IncidentStatus",
    "MergeOutcome",
    "MergeRequest",
    "MergedIncident",
    "NewEvent",
    "PendingDecision",
    "Phase",
    "PhaseName",
    "PhaseTiming",
    "Playbook",
    "RecordedEvent",
    "ReopenRule",
    "Resources",
    "Role",
    "Severity",
    "SlaLeg",
    "SlaTargets",
    "Slug",
    "Step",
    "StepState",
    "StepStatus",
    "SubmitResult",
    "TimeoutRule",
    "Triage",
]


class Environment(StrEnum):
    dev = "dev"
    staging = "staging"
    prod = "prod"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Role(StrEnum):
    admin = "admin"
    responder = "responder"
    auditor = "auditor"
    source = "source"


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Actor(BaseModel):
    """Who caused an event: a principal (by id and role) or Firebreak itself."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str

    @classmethod
    def system(cls, component: str = "workflow") -> Actor:
        return cls(id=f"firebreak/{component}", role="system")


class Resources(BaseModel):
    """The things an alert points at, which playbook steps act on."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    model_version: str | None = None
    api_key: str | None = None
    dataset: str | None = None
    dataset_version: str | None = None
    agent: str | None = None
    tool: str | None = None


class EntityRule(BaseModel):
    """A route's entity correlation: alerts naming one of these resources (same environment)
    within `window_seconds` of the last one join the incident already open for it."""

    model_config = ConfigDict(frozen=True)

    kinds: list[str] = Field(min_length=1, description="Resource kinds, in priority order.")
    window_seconds: int = Field(ge=1)
    rule: str = Field(description="The id of the route that set it.")


class EntityJoin(BaseModel):
    """Why an alert goes to another incident than its own correlation key names: the entity
    (or, for `kind` `merged`, the merged incident) whose open incident it joins."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str = Field(description="The workflow of the incident it joins.")
    kind: str = Field(description="The resource kind (api_key, model ...), or `merged`.")
    value: str = Field(max_length=200)
    rule: str = Field(description="The route whose correlation matched, or `merge`.")


class AlertLink(BaseModel):
    """A link the sender attached (Alertmanager's `generatorURL`, a CloudEvents `source`, a
    PagerDuty link): shown as text, and as a link only when it is http(s)."""

    model_config = ConfigDict(frozen=True)

    href: str = Field(max_length=2000)
    text: str = Field("", max_length=200)


class Alert(BaseModel):
    """One normalised detection, whatever webhook format it arrived in.

    Every text field is attacker-controlled (an injection alert carries the injection): it is
    data to store, escape and show, never to interpret.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The sender's alert/delivery id; retries carry the same id.")
    source: str
    type: Slug = Field(description="Incident type, e.g. prompt_injection; selects the playbook.")
    severity: Severity = Severity.high
    environment: Environment = Environment.prod
    status: AlertStatus = AlertStatus.firing
    title: str = Field("", max_length=1000)
    description: str = Field("", max_length=20000)
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = Field(description="Stable identity of the condition; storms share it.")
    received_at: datetime
    annotations: dict[str, str] = Field(
        default_factory=dict, description="The sender's descriptive fields (Alertmanager's)."
    )
    links: tuple[AlertLink, ...] = Field((), description="Where the sender says to look.")
    started_at: datetime | None = Field(None, description="When the sender says it started.")
    raw_ref: str | None = Field(
        None, description="Event id of the AlertReceived with the raw body."
    )
    route: str | None = Field(None, description="Id of the route that set type and severity.")
    route_hash: str | None = Field(None, description="Content hash of the routes it used.")
    correlation: EntityRule | None = Field(None, description="Its route's entity correlation.")
    joined: EntityJoin | None = Field(None, description="Set by ingest when it joins another.")

    @property
    def correlation_key(self) -> str:
        """Alerts with one key belong to one open incident."""
        return f"{self.type}/{self.environment}/{self.fingerprint}"

    @property
    def own_workflow_id(self) -> str:
        """The incident workflow its correlation key names."""
        digest = hashlib.sha256(self.correlation_key.encode()).hexdigest()[:20]
        return f"incident-{digest}"

    @property
    def workflow_id(self) -> str:
        """Where it goes: the incident it joins by entity or merge, else its own key's."""
        return self.joined.workflow_id if self.joined is not None else self.own_workflow_id


class EventType(StrEnum):
    """The closed set of audit event types. Adding one is a documented, reviewed change."""

    alert_received = "AlertReceived"
    alert_attached = "AlertAttached"
    alert_resolved = "AlertResolved"
    incident_opened = "IncidentOpened"
    incident_closed = "IncidentClosed"
    incident_aborted = "IncidentAborted"
    phase_started = "PhaseStarted"
    phase_completed = "PhaseCompleted"
    step_requested = "StepRequested"
    step_approved = "StepApproved"
    step_rejected = "StepRejected"
    step_escalated = "StepEscalated"
    step_started = "StepStarted"
    step_succeeded = "StepSucceeded"
    step_failed = "StepFailed"
    step_skipped = "StepSkipped"
    step_stalled = "StepStalled"
    step_compensated = "StepCompensated"
    evidence_collected = "EvidenceCollected"
    evidence_read = "EvidenceRead"
    notification_sent = "NotificationSent"
    incident_triaged = "IncidentTriaged"
    playbook_assigned = "PlaybookAssigned"
    playbook_assign_failed = "PlaybookAssignFailed"
    incident_merged = "IncidentMerged"
    incident_acknowledged = "IncidentAcknowledged"
    incident_contained = "IncidentContained"
    incident_resolved = "IncidentResolved"
    incident_reopened = "IncidentReopened"
    sla_breached = "SlaBreached"
    principal_created = "PrincipalCreated"
    principal_revoked = "PrincipalRevoked"
    alert_suppressed = "AlertSuppressed"
    suppression_created = "SuppressionCreated"
    suppression_ended = "SuppressionEnded"


class NewEvent(BaseModel):
    """An event to append. `sensitive` names payload keys the store encrypts at rest."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="UUID; deterministic in workflows so replays never duplicate.")
    type: str
    actor: Actor
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    sensitive: tuple[str, ...] = ()


class RecordedEvent(BaseModel):
    """An event as stored: its place in the global order and in the hash chain."""

    model_config = ConfigDict(frozen=True)

    position: int
    stream_id: str
    version: int
    id: str
    type: str
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ActionInput(BaseModel):
    """What the workflow hands every action activity.

    `idempotency_key` (workflow id + step id) is how a provider recognises a retried effect and
    does not apply it twice; `params` are the step's parameters already resolved from the alert.
    """

    model_config = ConfigDict(frozen=True)

    incident_id: str
    step_id: str
    action: str
    params: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str
    environment: Environment
    dry_run: bool = False


class ActionResult(BaseModel):
    """What an action did, recorded in the audit stream (`StepSucceeded`)."""

    model_config = ConfigDict(frozen=True)

    action: str
    changed: bool = Field(description="False when the effect was already in place (a retry).")
    summary: str
    outputs: dict[str, str] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list, description="sha256 digests of evidence.")
    inverse_params: dict[str, str] | None = Field(
        None, description="Parameters that undo this effect, for compensation."
    )


# --- Playbooks, decisions and incident state (the incident workflow's vocabulary) ------------


class PhaseName(StrEnum):
    """The four phases every playbook runs through, in this order."""

    containment = "containment"
    investigation = "investigation"
    eradication = "eradication"
    recovery = "recovery"


class ApprovalMode(StrEnum):
    auto = "auto"
    one = "one"
    two = "two"


class TimeoutRule(StrEnum):
    """What happens when nobody decided before the deadline and the escalation window.

    `deny` rejects the step, `approve` runs it, `escalate` keeps waiting for people.
    """

    deny = "deny"
    approve = "approve"
    escalate = "escalate"


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ApprovalMode = ApprovalMode.auto
    deadline_seconds: int = Field(900, ge=1, description="Until the escalation target is told.")
    escalation_seconds: int = Field(
        900, ge=0, description="After escalating, how long to wait before the timeout rule."
    )
    escalate_to: str | None = Field(None, description="Who the escalation notifies.")
    on_timeout: TimeoutRule = TimeoutRule.deny

    @property
    def approvals_required(self) -> int:
        return {ApprovalMode.auto: 0, ApprovalMode.one: 1, ApprovalMode.two: 2}[self.mode]


class Condition(BaseModel):
    """`when:` of a step: it runs only if an earlier step's output passes one comparison.

    `output` is a reference without braces (`steps.evaluate.outputs.passed`). Exactly one of
    the comparisons is given; `at_least`/`at_most` are for number and integer outputs, checked
    at load time against the action's declared output type. No expressions: a condition is data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: str
    equals: str | None = None
    not_equals: str | None = None
    at_least: float | None = None
    at_most: float | None = None

    @field_validator("equals", "not_equals", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        """YAML's `true`/`3` become the text an output holds (`"true"`, `"3"`)."""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return str(value)
        return value

    @model_validator(mode="after")
    def _one_comparison(self) -> Condition:
        given = [
            k
            for k in ("equals", "not_equals", "at_least", "at_most")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, not_equals, at_least, at_most")
        return self

    @property
    def comparison(self) -> tuple[str, str | float]:
        """The one comparison given, as (operator, operand)."""
        for key in ("equals", "not_equals", "at_least", "at_most"):
            value = getattr(self, key)
            if value is not None:
                return key, value
        raise AssertionError("validated: one comparison is set")


class ConditionResult(BaseModel):
    """What a step's `when:` found when the step came up, recorded in its step events."""

    model_config = ConfigDict(frozen=True)

    output: str
    comparison: str
    operand: str
    value: str | None = Field(description="The output's value; None when it has none.")
    met: bool
    reason: str = ""


class Step(BaseModel):
    """One playbook step: an action with parameters, or (`undo`) the inverse of an earlier step.

    `params` values may hold `{{ alert.field }}` placeholders, resolved when the incident
    starts, and `{{ steps.<id>.outputs.<name> }}` references to an earlier step's declared
    outputs, resolved when the step comes up. `when` makes the step conditional on one such
    output. `approval` maps an environment tier (or `default`) to its policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    action: str | None = None
    undo: Slug | None = Field(None, description="Run the inverse of this earlier step.")
    params: dict[str, str] = Field(default_factory=dict)
    when: Condition | None = Field(None, description="Run only if this output comparison holds.")
    approval: dict[str, ApprovalPolicy] = Field(default_factory=dict)
    stall_after_seconds: int = Field(600, ge=1, description="No result by then: StepStalled.")
    max_attempts: int | None = Field(
        None, ge=1, le=20, description="Attempts before people are asked; default: the action's."
    )
    description: str = ""

    def policy_for(self, environment: Environment) -> ApprovalPolicy:
        return self.approval.get(environment.value) or self.approval.get(
            "default", ApprovalPolicy()
        )


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PhaseName
    steps: list[Step] = Field(default_factory=list)


class ReopenRule(StrEnum):
    """What a new alert for a resolved incident does once it reopens it.

    `responder`: the incident is open again and waits for a responder to resolve it (the
    effects of the first run are still in place); `rerun`: its phases run again from the top.
    """

    responder = "responder"
    rerun = "rerun"


class Playbook(BaseModel):
    """A response plan for one or more alert types. `content_hash` is set by the loader."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    title: str
    description: str = ""
    version: str = "1"
    alert_types: list[Slug] = Field(min_length=1)
    dry_run: bool = False
    on_reopen: ReopenRule = Field(
        ReopenRule.responder, description="A new alert after resolution: rerun or ask people."
    )
    phases: list[Phase]
    content_hash: str = ""


class DecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    retry = "retry"
    skip = "skip"
    abort = "abort"
    assign = "assign"
    close = "close"
    acknowledge = "acknowledge"
    resolve = "resolve"


class Decision(BaseModel):
    """A responder's answer to a waiting step. The API fills the principal fields from the
    authenticated caller; the workflow's update validator enforces the policy."""

    model_config = ConfigDict(frozen=True)

    decision_id: str = Field(min_length=1, max_length=128)
    step_id: str
    kind: DecisionKind
    principal: str
    role: Role
    environments: list[Environment]
    reason: str = Field("", max_length=2000)
    playbook: Slug | None = Field(None, description="`assign`: the playbook to run.")
    resources: Resources | None = Field(
        None, description="`assign`: resources the sender did not name, for the playbook."
    )

    @property
    def actor(self) -> Actor:
        """Who the events this decision causes name as their actor."""
        return Actor(id=self.principal, role=self.role.value)


class StepStatus(StrEnum):
    pending = "pending"
    awaiting_approval = "awaiting_approval"
    approved = "approved"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    awaiting_decision = "awaiting_decision"
    rejected = "rejected"
    skipped = "skipped"
    compensated = "compensated"


class IncidentStatus(StrEnum):
    """Where an incident is in its life: open -> contained -> resolved -> closed (or aborted).

    `active` and `awaiting_decision` are what incidents started before the lifecycle (patch
    `lifecycle`) still show until they close; whether anything waits for people is the
    incident's `pending` list, whatever its status.
    """

    open = "open"
    contained = "contained"
    resolved = "resolved"
    closed = "closed"
    aborted = "aborted"
    active = "active"
    awaiting_decision = "awaiting_decision"


OPEN_STATUSES = frozenset(
    {
        IncidentStatus.open,
        IncidentStatus.contained,
        IncidentStatus.resolved,
        IncidentStatus.active,
        IncidentStatus.awaiting_decision,
    }
)
"""Statuses of an incident that has not closed."""


class DecisionOutcome(BaseModel):
    """What a decision did. Repeating a decision id returns the first outcome again."""

    decision_id: str
    step_id: str
    kind: DecisionKind
    step_status: StepStatus
    approved_by: list[str] = Field(default_factory=list)
    approvals_required: int = 0
    incident_status: IncidentStatus | None = Field(
        None, description="An acknowledge, resolve or close: the incident's status after it."
    )


class SlaLeg(StrEnum):
    """The legs of an incident's SLA clock, each measured from the incident's opening."""

    acknowledge = "acknowledge"
    contain = "contain"
    resolve = "resolve"


class SlaTargets(BaseModel):
    """How long an incident may take to be acknowledged, contained and resolved (None: no
    target for that leg), and who hears of a breach (None: the responders)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acknowledge_seconds: int | None = Field(None, ge=1)
    contain_seconds: int | None = Field(None, ge=1)
    resolve_seconds: int | None = Field(None, ge=1)
    escalate_to: str | None = None

    def target(self, leg: SlaLeg) -> int | None:
        return {
            SlaLeg.acknowledge: self.acknowledge_seconds,
            SlaLeg.contain: self.contain_seconds,
            SlaLeg.resolve: self.resolve_seconds,
        }[leg]

    def next_due(
        self,
        opened_at: datetime,
        met: Mapping[SlaLeg, datetime | None],
        breached: Iterable[SlaLeg],
    ) -> tuple[datetime, SlaLeg] | None:
        """The leg that falls due first among those neither met nor breached, with when: what
        a countdown shows, and what the workflow's SLA clock waits for."""
        missed = set(breached)
        due = [
            (opened_at + timedelta(seconds=target), leg)
            for leg in SlaLeg
            if (target := self.target(leg)) is not None
            and leg not in missed
            and met.get(leg) is None
        ]
        return min(due) if due else None


class StepState(BaseModel):
    step_id: str
    phase: PhaseName
    action: str
    status: StepStatus = StepStatus.pending
    params: dict[str, str] = Field(default_factory=dict)
    approvals_required: int = 0
    approved_by: list[str] = Field(default_factory=list)
    requested_by: str | None = None
    requested_at: datetime | None = None
    deadline: datetime | None = None
    escalated: bool = False
    stalled: bool = False
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: ActionResult | None = None
    error: str | None = None
    condition: ConditionResult | None = Field(None, description="What its `when:` found.")


class PendingDecision(BaseModel):
    """A step waiting for people: `reason` is `approval` (approve/reject), `failure`
    (retry/skip/abort) or `triage` (assign a playbook, or close; no phase)."""

    step_id: str
    phase: PhaseName | None
    action: str
    reason: str
    approvals_required: int = 1
    approved_by: list[str] = Field(default_factory=list)
    requested_by: str | None = None
    requested_at: datetime
    deadline: datetime | None = None


TRIAGE_STEP = "triage"
"""The step id under which an incident in triage waits for a playbook."""

LIFECYCLE_STEP = "incident"
"""The step id of a decision about the incident itself: acknowledge, resolve, close."""


class Triage(BaseModel):
    """Why an incident has no playbook yet, while it waits for a responder to assign one."""

    reason: str
    requested_by: str
    requested_at: datetime
    assigning: str | None = Field(None, description="A playbook assigned, being resolved.")
    failed_assignments: int = 0
    done: bool = False


class MergeRequest(BaseModel):
    """A responder merging one incident into another (`into`), sent to both workflows; the
    principal fields come from authentication, as for a `Decision`."""

    model_config = ConfigDict(frozen=True)

    merge_id: str = Field(min_length=1, max_length=128)
    incident_id: str = Field(description="The incident that closes (merged away).")
    into: str = Field(description="The incident that survives.")
    principal: str
    role: Role
    environments: list[Environment]
    reason: str = Field(min_length=1, max_length=2000)
    alert_ids: list[str] = Field(default_factory=list, description="To the survivor: moved.")
    alert_count: int = Field(0, description="To the survivor: how many alerts moved.")

    @property
    def actor(self) -> Actor:
        return Actor(id=self.principal, role=self.role.value)


class MergeOutcome(BaseModel):
    """What a merge did to one side: the merged-away incident's alerts, or the survivor's."""

    merge_id: str
    incident_id: str
    into: str
    alert_count: int
    alert_ids: list[str] = Field(default_factory=list)


class MergedIncident(BaseModel):
    """An incident merged into this one, as the survivor records it."""

    incident_id: str
    alert_count: int
    reason: str
    merged_by: str
    merged_at: datetime


class PhaseTiming(BaseModel):
    started_at: datetime | None = None
    completed_at: datetime | None = None


class CorrelatedAlert(BaseModel):
    """An alert of another type or fingerprint that joined this incident, and why."""

    alert_id: str
    type: str
    fingerprint: str
    kind: str
    value: str
    rule: str
    attached_at: datetime


class IncidentState(BaseModel):
    """The running incident as the workflow sees it (the `state` query)."""

    incident_id: str
    workflow_id: str
    status: IncidentStatus
    type: str
    severity: Severity
    environment: Environment
    title: str
    correlation_key: str
    phase: PhaseName | None = None
    current_step: str | None = None
    steps: list[StepState] = Field(default_factory=list)
    pending: list[PendingDecision] = Field(default_factory=list)
    phases: dict[str, PhaseTiming] = Field(default_factory=dict)
    alert_count: int = 0
    resolved_alert_count: int = 0
    playbook: str | None = None
    playbook_hash: str | None = None
    triage: Triage | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = None
    merged_into: str | None = Field(None, description="The survivor this incident merged into.")
    merged_from: list[MergedIncident] = Field(default_factory=list)
    correlated_alerts: list[CorrelatedAlert] = Field(
        default_factory=list, description="Alerts that joined by entity or merge (the latest)."
    )
    lifecycle: bool = Field(
        False, description="Whether status follows the lifecycle (incidents since `lifecycle`)."
    )
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = Field(None, description="Why it is resolved, as its resolver said.")
    reopened_count: int = 0
    sla: SlaTargets | None = None
    sla_breached: list[SlaLeg] = Field(default_factory=list)

    def sla_met(self) -> dict[SlaLeg, datetime | None]:
        """When each leg of the SLA was first met (None: not yet)."""
        return {
            SlaLeg.acknowledge: self.acknowledged_at,
            SlaLeg.contain: self.contained_at,
            SlaLeg.resolve: self.resolved_at,
        }

    def sla_next_due(self) -> tuple[datetime, SlaLeg] | None:
        """The next leg of the SLA to fall due, with when (None: no SLA, or none left)."""
        if self.sla is None or self.closed_at is not None:
            return None
        return self.sla.next_due(self.opened_at, self.sla_met(), self.sla_breached)


class SubmitResult(BaseModel):
    """`opened` is true when this alert started the incident, false when it attached to it."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    workflow_id: str
    run_id: str
    opened: bool
