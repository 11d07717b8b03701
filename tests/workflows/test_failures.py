"""A step whose provider fails permanently: responders are asked, and retry, skip and abort
each do what they say; abort compensates the effects already applied."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.factory import build_activities
from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.lab import LabInfo
from activities.providers.local.paths import LocalPaths
from orchestrator.domain import (
    ActionInput,
    ActionResult,
    DecisionKind,
    IncidentState,
    IncidentStatus,
    StepStatus,
)
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import decide, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    event_types,
    final_state,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)

STEP = "quarantine-dataset"


class BrokenQuarantine:
    """`datasets.quarantine` whose storage refuses every move until `failing` is cleared."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0

    @activity.defn(name="datasets.quarantine")
    async def run(self, inp: ActionInput) -> ActionResult:
        self.calls += 1
        if self.failing:
            raise ApplicationError(
                "storage refused the move", type="ProviderError", non_retryable=True
            )
        return ActionResult(action=inp.action, changed=True, summary="quarantined")


def with_broken_quarantine(
    settings: Settings, broken: BrokenQuarantine
) -> list[Callable[..., Any]]:
    real = [
        fn
        for fn in build_activities(settings)
        if activity._Definition.must_from_callable(fn).name != "datasets.quarantine"
    ]
    return [*real, broken.run]


@dataclass
class FailedStep:
    """A data_poisoning incident whose quarantine step failed and waits for a decision."""

    broken: BrokenQuarantine
    incident_id: str
    workflow_id: str
    state: IncidentState


@asynccontextmanager
async def failed_quarantine(
    client: Client, settings: Settings, lab: LabInfo
) -> AsyncIterator[FailedStep]:
    """An incident over a broken `datasets.quarantine`, once it asks what to do; the worker
    runs until the block ends."""
    broken = BrokenQuarantine()
    alert = make_alert(lab, "data_poisoning")
    async with running_worker(client, settings, with_broken_quarantine(settings, broken)):
        inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
        state = await wait_for_pending(client, inc, STEP)
        yield FailedStep(broken, inc, alert.workflow_id, state)


async def answered_once(
    client: Client, settings: Settings, lab: LabInfo, kind: DecisionKind, reason: str
) -> tuple[str, IncidentState]:
    """The failed step answered with `kind`: the incident id and the incident's final state."""
    async with failed_quarantine(client, settings, lab) as failed:
        await decide(client, failed.incident_id, decision(STEP, kind=kind, reason=reason))
        return failed.incident_id, await final_state(client, failed.workflow_id)


async def test_retry_after_failure_runs_the_step_again(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    async with failed_quarantine(dev_client, fb_settings, lab) as failed:
        broken, inc, state = failed.broken, failed.incident_id, failed.state
        assert state.status is IncidentStatus.contained
        assert state.pending[0].reason == "failure"
        with_ = decision(STEP, kind=DecisionKind.retry, principal="alice")
        assert (await decide(dev_client, inc, with_)).step_status is StepStatus.pending
        await wait_for_pending(dev_client, inc, STEP)
        broken.failing = False
        await decide(dev_client, inc, decision(STEP, kind=DecisionKind.retry, principal="bob"))
        final = await final_state(dev_client, failed.workflow_id)

    step = next(s for s in final.steps if s.step_id == STEP)
    assert step.status is StepStatus.succeeded and step.attempts == 3 and broken.calls == 3
    events = audit_stream(fb_settings, inc)
    assert len([p for p in payloads(events, "StepFailed") if p["step_id"] == STEP]) == 2
    starts = [p for p in payloads(events, "StepStarted") if p["step_id"] == STEP]
    assert [(p["attempt"], p.get("principal")) for p in starts] == [
        (1, None),
        (2, "alice"),
        (3, "bob"),
    ]
    assert final.outcome == "resolved"


async def test_skip_after_failure_moves_on(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    inc, final = await answered_once(dev_client, fb_settings, lab, DecisionKind.skip, "manual")
    steps = {s.step_id: s.status for s in final.steps}
    assert steps[STEP] is StepStatus.skipped and steps["rollback-model"] is StepStatus.succeeded
    events = audit_stream(fb_settings, inc)
    (skipped,) = [p for p in payloads(events, "StepSkipped") if "condition" not in p]
    assert skipped["step_id"] == STEP and skipped["principal"] == "alice"
    assert skipped["note"] == "manual"


async def test_abort_compensates_applied_effects(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    inc, final = await answered_once(
        dev_client, fb_settings, lab, DecisionKind.abort, "false alarm"
    )
    assert final.status is IncidentStatus.aborted and final.outcome == "aborted"
    steps = {s.step_id: s.status for s in final.steps}
    assert steps["revoke-ingest-key"] is StepStatus.compensated
    assert steps["rollback-model"] is StepStatus.pending, "nothing after the abort ran"
    events = audit_stream(fb_settings, inc)
    types = event_types(events)
    assert types.index("IncidentAborted") < types.index("StepCompensated")
    assert types[-1] == "IncidentClosed" and events[-1].payload["outcome"] == "aborted"
    (undone,) = payloads(events, "StepCompensated")
    assert undone["step_id"] == "revoke-ingest-key" and undone["action"] == "keys.restore"
    assert undone["result"]["changed"] is True
    probe = await LocalKeyStore(LocalPaths.under(lab.data_dir).keys).restore(
        lab.ingest_key, idempotency_key="probe"
    )
    assert probe.active and not probe.changed, "the key was already active again"
