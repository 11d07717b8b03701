"""The SLA clock's durable timers under the time-skipping server: a leg not met by its target
is breached once (`SlaBreached` and a notification to the escalation target); a leg met in
time never is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from orchestrator.domain import LIFECYCLE_STEP, IncidentStatus, Severity, SlaLeg
from orchestrator.settings import Settings, SlaRule
from orchestrator.temporal.incidents import decide, describe, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    eventually,
    final_state,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)
from tests.workflows.test_lifecycle import drill_settings

RULES = [
    SlaRule(
        severity=Severity.high,
        acknowledge_seconds=300,
        contain_seconds=120,
        resolve_seconds=1200,
    ),
    SlaRule(severity=Severity.low, acknowledge_seconds=30),
]


def sla_settings(fb_settings: Settings, tmp_path: Path) -> Settings:
    settings = drill_settings(fb_settings, tmp_path)
    return settings.model_copy(update={"sla": RULES, "sla_escalate_to": "duty-lead"})


async def test_missed_legs_are_breached_once_and_escalated(
    temporal_time_env: WorkflowEnvironment,
    time_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
) -> None:
    settings = sla_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill", severity=Severity.high)
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        state = await wait_for_pending(time_client, inc, "confirm")
        assert state.sla is not None and state.sla.acknowledge_seconds == 300
        assert state.contained_at is not None, "contained at once: that leg is met"
        due = (state.opened_at + timedelta(seconds=300), SlaLeg.acknowledge)
        assert state.sla_next_due() == due

        await temporal_time_env.sleep(290)
        assert (await describe(time_client, inc)).sla_breached == []
        await temporal_time_env.sleep(20)

        async def breached() -> list[SlaLeg]:
            return (await describe(time_client, inc)).sla_breached

        assert await eventually(breached, timeout=10) == [SlaLeg.acknowledge]
        await decide(time_client, inc, decision(LIFECYCLE_STEP, "acknowledge"))
        await temporal_time_env.sleep(600)
        assert await breached() == [SlaLeg.acknowledge], "an acknowledged leg stays breached once"
        await temporal_time_env.sleep(400)
        await eventually(lambda: _has(breached, SlaLeg.resolve), timeout=10)
        await decide(time_client, inc, decision("confirm", principal="bob"))
        await temporal_time_env.sleep(700)
        final = await final_state(time_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed
    assert final.sla_breached == [SlaLeg.acknowledge, SlaLeg.resolve]
    events = audit_stream(settings, inc)
    breaches = [e for e in events if e.type == "SlaBreached"]
    assert [(e.payload["leg"], e.payload["target_seconds"]) for e in breaches] == [
        ("acknowledge", 300),
        ("resolve", 1200),
    ]
    for event in breaches:
        assert event.payload["target_seconds"] <= event.payload["elapsed_seconds"]
        assert event.payload["elapsed_seconds"] < event.payload["target_seconds"] + 30
        assert event.payload["severity"] == "high"
    notes = Counter(
        (p["kind"], p["target"], p["step_id"]) for p in payloads(events, "NotificationSent")
    )
    assert notes[("sla", "duty-lead", LIFECYCLE_STEP)] == 2
    [opened] = payloads(events, "IncidentOpened")
    assert opened["sla"] == {
        "acknowledge_seconds": 300,
        "contain_seconds": 120,
        "resolve_seconds": 1200,
        "escalate_to": "duty-lead",
    }


async def _has(legs: Callable[[], Awaitable[list[SlaLeg]]], leg: SlaLeg) -> bool:
    return leg in await legs()


async def test_legs_met_in_time_are_never_breached(
    temporal_time_env: WorkflowEnvironment,
    time_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
) -> None:
    settings = sla_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill", severity=Severity.high)
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "confirm")
        await decide(time_client, inc, decision(LIFECYCLE_STEP, "acknowledge"))
        await decide(time_client, inc, decision("confirm", principal="bob"))
        await temporal_time_env.sleep(7 * 24 * 3600)
        final = await final_state(time_client, alert.workflow_id)
    assert final.sla_breached == [] and final.status is IncidentStatus.closed
    events = audit_stream(settings, inc)
    assert payloads(events, "SlaBreached") == []
    assert [p for p in payloads(events, "NotificationSent") if p["kind"] == "sla"] == []
