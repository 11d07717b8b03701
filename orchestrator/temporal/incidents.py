"""The only way the API talks to incidents: submit an alert, decide on a step, merge two,
describe.

An incident id is `<workflow id>.<first execution run id>` (see docs/events.md): the workflow
id comes from the alert's correlation key and is reused once an incident closes, the first run
id keeps ids unique per incident and survives continue-as-new. Temporal failures are mapped onto
`orchestrator.errors`, so callers see 403/404/409/503, never a Temporal exception.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import (
    PollWorkflowExecutionUpdateRequest,
    SignalWithStartWorkflowExecutionResponse,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from orchestrator.domain import (
    Alert,
    AlertStatus,
    Decision,
    DecisionOutcome,
    Environment,
    IncidentState,
    MergeOutcome,
    MergeRequest,
    Role,
    SubmitResult,
)
from orchestrator.errors import Conflict, FirebreakError, Forbidden, NotFound, Unavailable
from workflows.contracts import IncidentInput
from workflows.incident import IncidentWorkflow

_NOT_OPEN = (
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.INVALID_ARGUMENT,
)
_COMPLETED = (
    UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
)
_REJECTIONS: dict[str, type[FirebreakError]] = {"Forbidden": Forbidden, "Conflict": Conflict}


def incident_id_of(workflow_id: str, first_run_id: str) -> str:
    return f"{workflow_id}.{first_run_id}"


def parse_incident_id(incident_id: str) -> tuple[str, str]:
    """(workflow id, first execution run id), or NotFound for a malformed id."""
    workflow_id, dot, run_id = incident_id.rpartition(".")
    if not dot or not workflow_id or not run_id:
        raise NotFound(f"no incident {incident_id!r}")
    return workflow_id, run_id


async def submit_alert(client: Client, alert: Alert, *, task_queue: str) -> SubmitResult:
    """Signal-with-start the incident for the alert's correlation key.

    Returns once the server holds the alert in the workflow's history. A running incident gets
    the alert attached; a closed one's key opens a new incident. A `resolved` alert never opens
    an incident: it attaches to the open one, belongs to the last closed one for its key when
    none is open (nothing left to change), and is NotFound when its key never had an incident.
    """
    if alert.status is AlertStatus.resolved:
        return await _attach_resolved(client, alert)
    return await submit_firing(client, [alert], task_queue=task_queue)


async def submit_firing(client: Client, alerts: list[Alert], *, task_queue: str) -> SubmitResult:
    """One signal-with-start carrying firing alerts that share one correlation key."""
    alert = alerts[0]
    try:
        handle = await client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(alert=alert),
            id=alert.workflow_id,
            task_queue=task_queue,
            start_signal="alerts",
            start_signal_args=[alerts],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except RPCError as exc:
        raise _unavailable(exc) from None
    # The SDK exposes signal-with-start's `started` flag only on the stored response.
    response = handle._start_workflow_response
    assert isinstance(response, SignalWithStartWorkflowExecutionResponse)
    run_id = handle.result_run_id or response.run_id
    first_run_id = handle.first_execution_run_id
    if first_run_id is None:
        first_run_id = (await _query(handle, alert.workflow_id)).incident_id.rpartition(".")[2]
    return SubmitResult(
        incident_id=incident_id_of(alert.workflow_id, first_run_id),
        workflow_id=alert.workflow_id,
        run_id=run_id,
        opened=response.started,
    )


async def _attach_resolved(client: Client, alert: Alert) -> SubmitResult:
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, alert.workflow_id)
    try:
        description = await handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            await handle.signal(IncidentWorkflow.alert, alert)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no incident for resolved alert {alert.id!r}") from None
        raise _unavailable(exc) from None
    first_run_id = description.raw_description.workflow_execution_info.first_run_id
    return SubmitResult(
        incident_id=incident_id_of(alert.workflow_id, first_run_id or description.run_id),
        workflow_id=alert.workflow_id,
        run_id=description.run_id,
        opened=False,
    )


ANSWER_SECONDS = 5.0
"""How long a decision waits for a worker to apply it before it is answered as pending."""
FOLLOW_SECONDS = 1.0
"""How long one status check waits for a pending decision to land."""


class DecisionPending(Exception):
    """Temporal holds the decision (its update is admitted) but no worker has applied it yet.

    Not an error to the caller: the API answers 202 with the decision id to follow it by.
    """

    def __init__(self, decision_id: str) -> None:
        self.decision_id = decision_id
        self.detail = (
            f"decision {decision_id!r} is held by Temporal but not yet applied: no worker has "
            "taken it; it is applied (or refused) once one runs"
        )
        super().__init__(self.detail)


@dataclass(frozen=True)
class DecisionRef:
    """A decision sent before, named as its sender names it to follow it."""

    decision_id: str
    principal: str
    role: Role
    environments: list[Environment]


def update_id(
    decision_id: str, principal: str, role: Role, environments: Iterable[Environment]
) -> str:
    """The id of the update a decision travels as: its decision id, bound to who decides.

    Temporal answers an update id it already holds from its record, without running the
    workflow's validator. So the same principal sending a decision again attaches to the first
    and never applies it twice, while anyone else holding that decision id starts an update of
    its own, judged from scratch: a replayed id tells a principal out of scope nothing.
    """
    who = "|".join([principal, role.value, *sorted(e.value for e in environments)])
    return f"{decision_id}.{hashlib.sha256(who.encode()).hexdigest()[:16]}"


async def decide(client: Client, incident_id: str, decision: Decision) -> DecisionOutcome:
    """Apply a responder's decision; the workflow's validator enforces the approval policy.

    The update's id is the decision id, so sending a decision again (a retry, a follow-up)
    attaches to the first one and never applies it twice. Within ANSWER_SECONDS the answer is
    the outcome, a refusal, or DecisionPending when Temporal holds the update but no worker
    took it (measurements: docs/api.md, "Decisions while no worker runs").
    """
    workflow_id, first_run_id = parse_incident_id(incident_id)
    handle = client.get_workflow_handle(workflow_id, first_execution_run_id=first_run_id)
    try:
        # The SDK sends the update again each time the server answers "admitted" (about every
        # 20 s without a worker, sooner after one just left), so the deadline is the caller's.
        async with asyncio.timeout(ANSWER_SECONDS):
            update = await handle.start_update(
                IncidentWorkflow.decide,
                decision,
                id=update_id(
                    decision.decision_id, decision.principal, decision.role, decision.environments
                ),
                wait_for_stage=WorkflowUpdateStage.COMPLETED,
                rpc_timeout=timedelta(seconds=ANSWER_SECONDS),
            )
            return await update.result()
    except WorkflowUpdateFailedError as exc:
        raise _refusal(exc) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        # A timeout says nothing about whether the server holds the update: ask it.
        try:
            return await decision_status(client, incident_id, decision)
        except NotFound:
            raise Unavailable(
                f"Temporal did not take decision {decision.decision_id!r} within "
                f"{ANSWER_SECONDS:.0f}s; sending it again with the same decision_id is safe"
            ) from None
    except RPCError as exc:
        if exc.status in _NOT_OPEN:
            raise await _why_not_open(client, workflow_id, first_run_id, incident_id) from None
        raise _unavailable(exc) from None


async def decision_status(
    client: Client,
    incident_id: str,
    decision: Decision | DecisionRef,
    *,
    wait: float = FOLLOW_SECONDS,
) -> DecisionOutcome:
    """The outcome of a decision sent before, waiting up to `wait` seconds for it to land.

    DecisionPending while Temporal holds it unapplied; NotFound when the incident's current run
    holds no update by that id: a worker's validator refused it (a rejected update leaves no
    trace in Temporal), a Temporal restart lost it before a worker accepted it, it was applied
    before the incident continued as new, or it was never sent. Sending it again with the same
    id tells which and never applies it twice. A refusal as such (Forbidden, Conflict) comes
    only from an update that failed after it was accepted.
    """
    workflow_id, _ = parse_incident_id(incident_id)
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            update_id=update_id(
                decision.decision_id, decision.principal, decision.role, decision.environments
            ),
        ),
        identity=client.identity,
        wait_policy=WaitPolicy(lifecycle_stage=_COMPLETED),
    )
    try:
        # No retries: an unreachable server must read as unavailable, not as pending.
        response = await client.workflow_service.poll_workflow_execution_update(
            request, retry=False, timeout=timedelta(seconds=wait)
        )
    except RPCError as exc:
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise DecisionPending(decision.decision_id) from None
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(
                f"Temporal holds no decision {decision.decision_id!r} for incident "
                f"{incident_id!r}: "
                "refused when a worker judged it, lost in a Temporal restart, or never sent; "
                "send it again with the same decision_id to know (it never applies twice)"
            ) from None
        raise _unavailable(exc) from None
    if not response.HasField("outcome"):
        raise DecisionPending(decision.decision_id)
    outcome = response.outcome
    if outcome.HasField("failure"):
        failure = await client.data_converter.decode_failure(outcome.failure)
        raise _refusal(WorkflowUpdateFailedError(failure)) from None
    (result,) = await client.data_converter.decode(outcome.success.payloads, [DecisionOutcome])
    assert isinstance(result, DecisionOutcome)
    return result


def _refusal(exc: WorkflowUpdateFailedError) -> FirebreakError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in _REJECTIONS:
        return _REJECTIONS[cause.type](cause.message)
    return Conflict(f"decision not applied: {cause}")


async def _why_not_open(
    client: Client, workflow_id: str, first_run_id: str, incident_id: str
) -> FirebreakError:
    """Conflict for an incident that exists but has closed, NotFound for one that never did."""
    try:
        await client.get_workflow_handle(workflow_id, run_id=first_run_id).describe()
    except RPCError:
        return NotFound(f"no incident {incident_id!r}")
    return Conflict(f"incident {incident_id!r} is closed")


async def start_headers(client: Client, incident_id: str) -> Mapping[str, Payload]:
    """The headers the incident's first run was started with (where an interceptor such as
    tracing's put its context), empty when they cannot be read: only tracing asks, and it must
    never fail the request it annotates."""
    try:
        workflow_id, first_run_id = parse_incident_id(incident_id)
        handle = client.get_workflow_handle(workflow_id, run_id=first_run_id)
        async for event in handle.fetch_history_events(
            page_size=1, rpc_timeout=timedelta(seconds=FOLLOW_SECONDS)
        ):
            return dict(event.workflow_execution_started_event_attributes.header.fields)
    except (RPCError, NotFound):
        pass
    return {}


async def describe(client: Client, incident_id: str) -> IncidentState:
    """The incident as its workflow sees it; NotFound once its key opened a newer incident."""
    workflow_id, _ = parse_incident_id(incident_id)
    state = await _query(client.get_workflow_handle(workflow_id), incident_id)
    if state.incident_id != incident_id:
        raise NotFound(f"no incident {incident_id!r}")
    return state


async def _query(
    handle: WorkflowHandle[IncidentWorkflow, IncidentState], name: str
) -> IncidentState:
    try:
        return await handle.query(IncidentWorkflow.state)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise NotFound(f"no incident {name!r}") from None
        raise _unavailable(exc) from None


def _unavailable(exc: RPCError) -> Unavailable:
    return Unavailable(f"Temporal request failed: {exc.status.name if exc.status else 'unknown'}")


async def merge(
    client: Client, request: MergeRequest, *, away: MergeOutcome | None = None
) -> tuple[MergeOutcome, MergeOutcome]:
    """Merge `request.incident_id` into `request.into` (`workflows.merging`): the `merge`
    update to the one that closes (unless `away` says it already did), then `absorb` to the
    survivor with the alerts it held.

    Each update's id derives from the merge id, so sending the same merge again attaches to
    the first and never applies it twice. Refusals are the validators' (403/409).
    """
    if away is None:
        away = await _merge_update(client, request.incident_id, "merge", request)
    moved = request.model_copy(
        update={"alert_ids": away.alert_ids, "alert_count": away.alert_count}
    )
    kept = await _merge_update(client, request.into, "absorb", moved)
    return away, kept


async def _merge_update(
    client: Client, incident_id: str, name: str, request: MergeRequest
) -> MergeOutcome:
    workflow_id, first_run_id = parse_incident_id(incident_id)
    handle = client.get_workflow_handle(workflow_id, first_execution_run_id=first_run_id)
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            outcome = await handle.execute_update(
                name,
                request,
                id=f"{request.merge_id}.{name}",
                result_type=MergeOutcome,
                rpc_timeout=timedelta(seconds=ANSWER_SECONDS),
            )
            assert isinstance(outcome, MergeOutcome)
            return outcome
    except WorkflowUpdateFailedError as exc:
        raise _refusal(exc) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        raise Unavailable(
            f"no worker applied the merge to incident {incident_id!r} within "
            f"{ANSWER_SECONDS:.0f}s; sending the same merge again is safe"
        ) from None
    except RPCError as exc:
        if exc.status in _NOT_OPEN:
            raise await _why_not_open(client, workflow_id, first_run_id, incident_id) from None
        raise _unavailable(exc) from None
