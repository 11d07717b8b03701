"""Approvals through the workflow update on a real dev server: every rejection case, the
two-person rule, idempotent decision ids, rejection of a step, and a notifier outage."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.factory import build_activities
from activities.providers.local.lab import LabInfo
from orchestrator.domain import (
    DecisionKind,
    Environment,
    IncidentStatus,
    Role,
    StepStatus,
)
from orchestrator.errors import Conflict, Forbidden, NotFound
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import decide, describe, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    final_state,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)
from workflows.contracts import Notification


async def test_approval_policy_is_enforced_by_the_update_validator(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    async with running_worker(dev_client, fb_settings):
        inc = (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
        state = await wait_for_pending(dev_client, inc, "quarantine-dataset")
        assert state.status is IncidentStatus.contained, "waiting is what `pending` says"
        (pending,) = state.pending
        assert pending.reason == "approval" and pending.approvals_required == 1
        assert pending.requested_by == alert.source and pending.deadline is not None

        step = "quarantine-dataset"
        with pytest.raises(Forbidden, match="role auditor"):
            await decide(dev_client, inc, decision(step, role=Role.auditor))
        with pytest.raises(Forbidden, match="prod environment"):
            await decide(dev_client, inc, decision(step, environments=[Environment.dev]))
        with pytest.raises(Forbidden, match="requested a step"):
            await decide(dev_client, inc, decision(step, principal=alert.source))
        with pytest.raises(Conflict, match="not waiting"):
            await decide(dev_client, inc, decision("rollback-model"))
        with pytest.raises(Conflict, match="retry does not apply"):
            await decide(dev_client, inc, decision(step, kind=DecisionKind.retry))
        with pytest.raises(Conflict, match="no step"):
            await decide(dev_client, inc, decision("no-such-step"))
        with pytest.raises(NotFound):
            await decide(dev_client, inc.split(".")[0] + ".0000-none", decision(step))
        with pytest.raises(NotFound):
            await decide(dev_client, "not-an-incident-id", decision(step))

        first = decision(step)
        outcome = await decide(dev_client, inc, first)
        assert outcome.step_status is StepStatus.approved and outcome.approved_by == ["alice"]
        assert await decide(dev_client, inc, first) == outcome, "same decision id, same outcome"
        with pytest.raises(Forbidden, match="prod environment"):
            # A replayed decision id tells a principal out of scope nothing about the incident.
            await decide(dev_client, inc, first.model_copy(update={"environments": []}))

        await wait_for_pending(dev_client, inc, "rollback-model")
        one = await decide(dev_client, inc, decision("rollback-model"))
        assert one.step_status is StepStatus.awaiting_approval and one.approvals_required == 2
        with pytest.raises(Forbidden, match="already approved"):
            await decide(dev_client, inc, decision("rollback-model"))
        two = await decide(dev_client, inc, decision("rollback-model", principal="bob"))
        assert two.step_status is StepStatus.approved and two.approved_by == ["alice", "bob"]

        await wait_for_pending(dev_client, inc, "promote-retrained", timeout=60)
        await decide(dev_client, inc, decision("promote-retrained"))
        await decide(dev_client, inc, decision("promote-retrained", principal="bob"))
        await wait_for_pending(dev_client, inc, "restore-ingest-key")
        await decide(dev_client, inc, decision("restore-ingest-key", principal="carol"))
        final = await final_state(dev_client, alert.workflow_id)
        with pytest.raises(Conflict, match="is closed"):
            await decide(dev_client, inc, decision("restore-ingest-key", principal="dave"))

    assert final.status is IncidentStatus.closed and final.outcome == "resolved"
    events = audit_stream(fb_settings, inc)
    approvals = [(p["step_id"], p["principal"]) for p in payloads(events, "StepApproved")]
    assert approvals == [
        ("quarantine-dataset", "alice"),
        ("rollback-model", "alice"),
        ("rollback-model", "bob"),
        ("promote-retrained", "alice"),
        ("promote-retrained", "bob"),
        ("restore-ingest-key", "carol"),
    ]
    approved = [e for e in events if e.type == "StepApproved"]
    assert {(e.actor.id, e.actor.role) for e in approved} == {
        ("alice", "responder"),
        ("bob", "responder"),
        ("carol", "responder"),
    }
    requested = [p["step_id"] for p in payloads(events, "StepRequested")]
    assert requested == [
        "quarantine-dataset",
        "rollback-model",
        "promote-retrained",
        "restore-ingest-key",
    ]
    kinds = Counter(p["kind"] for p in payloads(events, "NotificationSent"))
    assert kinds == {"approval": 4}


async def test_rejected_step_is_not_run_and_the_incident_goes_on(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "model_inversion", Environment.staging)
    async with running_worker(dev_client, fb_settings):
        inc = (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
        await wait_for_pending(dev_client, inc, "rollback-model")
        outcome = await decide(
            dev_client, inc, decision("rollback-model", kind=DecisionKind.reject, reason="no")
        )
        assert outcome.step_status is StepStatus.rejected
        # Without the rollback, production still serves the poisoned version: validation fails
        # and the responders are asked; they skip it.
        state = await wait_for_pending(dev_client, inc, "validate-model")
        assert state.pending[0].reason == "failure"
        failed = next(s for s in state.steps if s.step_id == "validate-model")
        assert failed.error and failed.error.startswith("ValidationFailed:")
        await decide(dev_client, inc, decision("validate-model", kind=DecisionKind.skip))
        await wait_for_pending(dev_client, inc, "restore-caller-key")
        state = await describe(dev_client, inc)
        assert state.phase and state.phase.value == "recovery"
        await decide(dev_client, inc, decision("restore-caller-key"))
        final = await final_state(dev_client, alert.workflow_id)

    steps = {s.step_id: s.status for s in final.steps}
    assert steps["rollback-model"] is StepStatus.rejected
    assert steps["validate-model"] is StepStatus.skipped
    events = audit_stream(fb_settings, inc)
    (rejected,) = payloads(events, "StepRejected")
    assert rejected["principal"] == "alice" and rejected["reason"] == "no"
    started = {p["step_id"] for p in payloads(events, "StepStarted")}
    assert "rollback-model" not in started


class DownNotifier:
    """A notifier whose every call takes a while and then fails for good."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @activity.defn(name="notify.send")
    async def send(self, message: Notification) -> None:
        self.calls.append(message.step_id or "")
        await asyncio.sleep(0.5)
        raise ApplicationError("notifier unreachable", type="ProviderError", non_retryable=True)


async def test_a_notifier_outage_never_stalls_the_approval(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    """The approval request is recorded as undelivered and the step still waits for, and
    takes, a decision."""
    down = DownNotifier()
    actions: list[Callable[..., Any]] = [
        fn
        for fn in build_activities(fb_settings)
        if activity._Definition.must_from_callable(fn).name != "notify.send"
    ]
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    async with running_worker(dev_client, fb_settings, [*actions, down.send]):
        inc = (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
        await wait_for_pending(dev_client, inc, "quarantine-dataset")
        outcome = await decide(dev_client, inc, decision("quarantine-dataset"))
        assert outcome.step_status is StepStatus.approved
        await wait_for_pending(dev_client, inc, "rollback-model")
    assert down.calls[:2] == ["quarantine-dataset", "rollback-model"]
    events = audit_stream(fb_settings, inc)
    sent = [p for p in payloads(events, "NotificationSent") if p["kind"] == "approval"]
    assert [(p["step_id"], p["delivered"]) for p in sent] == [
        ("quarantine-dataset", False),
        ("rollback-model", False),
    ]
    succeeded = [p["step_id"] for p in payloads(events, "StepSucceeded")]
    assert "quarantine-dataset" in succeeded
