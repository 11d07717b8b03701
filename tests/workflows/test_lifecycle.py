"""The incident's lifecycle on a real Temporal (time-skipping) server: open -> contained ->
resolved -> closed, each an event; responders acknowledge, resolve and close through the same
validated update as every decision; a new alert reopens a resolved incident."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.factory import build_activities
from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.lab import LabInfo
from activities.providers.local.paths import LocalPaths
from orchestrator.domain import (
    LIFECYCLE_STEP,
    ActionInput,
    ActionResult,
    DecisionOutcome,
    Environment,
    IncidentState,
    IncidentStatus,
    RecordedEvent,
    Role,
    Severity,
    StepStatus,
)
from orchestrator.errors import Conflict, Forbidden
from orchestrator.settings import Settings, SlaRule
from orchestrator.temporal.incidents import decide, describe, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    event_types,
    eventually,
    final_state,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)

DRILL = """
id: lifecycle-drill
title: Lifecycle drill
alert_types: [lifecycle_drill]
on_reopen: {rule}
phases:
  - name: containment
    steps:
      - id: usage
        action: keys.usage
        params: {{key_id: "{{{{ alert.resources.api_key }}}}"}}
  - name: recovery
    steps:
      - id: confirm
        action: keys.usage
        params: {{key_id: "{{{{ alert.resources.api_key }}}}"}}
        approval:
          default: {{mode: one, deadline_seconds: 86400, escalation_seconds: 0,
                    on_timeout: escalate}}
      - id: after-confirm
        action: keys.usage
        params: {{key_id: "{{{{ alert.resources.api_key }}}}"}}
"""

REVOKE_AND_RESTORE = """
id: rerun-revoke
title: Revoke, restore once a person agrees
alert_types: [rerun_revoke]
on_reopen: rerun
phases:
  - name: containment
    steps:
      - id: revoke
        action: keys.revoke
        params: {key_id: "{{ alert.resources.api_key }}"}
  - name: recovery
    steps:
      - id: restore
        action: keys.restore
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          default: {mode: one, deadline_seconds: 86400, escalation_seconds: 0,
                    on_timeout: escalate}
"""

RULES = [SlaRule(severity=Severity.high, acknowledge_seconds=3600, resolve_seconds=86400)]


def drill_settings(fb_settings: Settings, tmp_path: Path, rule: str = "responder") -> Settings:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "drill.yaml").write_text(DRILL.format(rule=rule))
    return fb_settings.model_copy(
        update={"playbooks_dir": playbooks, "incident_quiet_seconds": 600, "sla": []}
    )


async def status_is(client: Client, incident_id: str, status: IncidentStatus) -> IncidentState:
    async def check() -> IncidentState | None:
        state = await describe(client, incident_id)
        return state if state.status is status else None

    result: IncidentState = await eventually(check, timeout=20)
    return result


async def lifecycle(client: Client, incident_id: str, kind: str, **kw: Any) -> DecisionOutcome:
    return await decide(client, incident_id, decision(LIFECYCLE_STEP, kind, **kw))


async def test_contained_resolved_then_closed_after_the_quiet_period(
    temporal_time_env: WorkflowEnvironment,
    time_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
) -> None:
    settings = drill_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        waiting = await wait_for_pending(time_client, inc, "confirm")
        assert waiting.status is IncidentStatus.contained and waiting.lifecycle
        assert waiting.contained_at is not None and waiting.resolved_at is None

        acked = await lifecycle(time_client, inc, "acknowledge", principal="carol", reason="")
        assert acked.incident_status is IncidentStatus.contained
        await decide(time_client, inc, decision("confirm", principal="bob"))
        resolved = await status_is(time_client, inc, IncidentStatus.resolved)
        assert resolved.closed_at is None and resolved.acknowledged_by == "carol"
        assert resolved.resolution == "recovery completed" and resolved.resolved_by is None

        await temporal_time_env.sleep(590)
        assert (await describe(time_client, inc)).status is IncidentStatus.resolved
        await temporal_time_env.sleep(20)
        final = await final_state(time_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed and final.outcome == "resolved"
    events = audit_stream(settings, inc)
    types = event_types(events)
    lifecycle_types = [t for t in types if t.startswith("Incident")]
    assert lifecycle_types == [
        "IncidentOpened",
        "IncidentContained",
        "IncidentAcknowledged",
        "IncidentResolved",
        "IncidentClosed",
    ]
    [opened] = payloads(events, "IncidentOpened")
    assert opened["lifecycle"] is True and "sla" not in opened  # no SLA configured
    [ack] = [e for e in events if e.type == "IncidentAcknowledged"]
    assert ack.actor.id == "carol" and ack.payload["time_to_acknowledge_seconds"] >= 0
    [res] = payloads(events, "IncidentResolved")
    assert res["by"] == "playbook" and res["time_to_resolve_seconds"] >= 0
    [closed] = [e for e in events if e.type == "IncidentClosed"]
    assert closed.actor.role == "system"
    assert (closed.occurred_at - _at(events, "IncidentResolved")).total_seconds() >= 600


def _at(events: list[RecordedEvent], type_: str) -> datetime:
    return next(e.occurred_at for e in events if e.type == type_)


async def test_a_responder_resolves_mid_playbook_and_closes_it(
    time_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = drill_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "confirm")
        with pytest.raises(Conflict, match="resolve it before closing"):
            await lifecycle(time_client, inc, "close", reason="done")
        with pytest.raises(Conflict, match="needs a reason"):
            await lifecycle(time_client, inc, "resolve", reason="   ")

        outcome = await lifecycle(time_client, inc, "resolve", reason="false positive")
        assert outcome.incident_status is IncidentStatus.resolved
        state = await status_is(time_client, inc, IncidentStatus.resolved)
        assert state.pending == [] and state.resolved_by == "alice"
        steps = {s.step_id: s.status for s in state.steps}
        assert steps == {
            "usage": StepStatus.succeeded,
            "confirm": StepStatus.skipped,
            "after-confirm": StepStatus.skipped,
        }
        with pytest.raises(Conflict, match="is resolved, not open"):
            await lifecycle(time_client, inc, "resolve", reason="again")
        await lifecycle(time_client, inc, "close", principal="bob", reason="post-mortem filed")
        final = await final_state(time_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed
    events = audit_stream(settings, inc)
    started = [p["step_id"] for p in payloads(events, "StepStarted")]
    assert started == ["usage"], "nothing starts once a responder resolved"
    skipped = {p["step_id"]: p["reason"] for p in payloads(events, "StepSkipped")}
    assert skipped == {"confirm": "resolved by alice", "after-confirm": "resolved by alice"}
    [resolved] = [e for e in events if e.type == "IncidentResolved"]
    assert resolved.actor.id == "alice" and resolved.payload["reason"] == "false positive"
    assert resolved.payload["by"] == "responder"
    [closed] = [e for e in events if e.type == "IncidentClosed"]
    assert closed.actor.id == "bob" and closed.payload["reason"] == "post-mortem filed"
    assert closed.payload["outcome"] == "resolved"


async def test_acknowledge_follows_the_decision_rules(
    time_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = drill_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill", Environment.prod)
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "confirm")
        with pytest.raises(Forbidden, match="role auditor"):
            await lifecycle(time_client, inc, "acknowledge", role=Role.auditor)
        with pytest.raises(Forbidden, match="prod"):
            await lifecycle(time_client, inc, "acknowledge", environments=[Environment.dev])
        with pytest.raises(Conflict, match="step decision"):
            await lifecycle(time_client, inc, "approve")
        first = decision(LIFECYCLE_STEP, "acknowledge", principal="bob")
        await decide(time_client, inc, first)
        again = await decide(time_client, inc, first)  # the same decision: its first outcome
        assert again.decision_id == first.decision_id
        with pytest.raises(Conflict, match="already acknowledged by bob"):
            await lifecycle(time_client, inc, "acknowledge")
        await lifecycle(time_client, inc, "resolve", reason="handled by hand")
        await lifecycle(time_client, inc, "close", reason="done")
        await final_state(time_client, alert.workflow_id)
        with pytest.raises(Conflict, match="closed"):
            await lifecycle(time_client, inc, "acknowledge")
    events = audit_stream(settings, inc)
    assert [e.actor.id for e in events if e.type == "IncidentAcknowledged"] == ["bob"]


async def test_a_new_alert_reopens_a_resolved_incident_for_a_responder(
    time_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = drill_settings(fb_settings, tmp_path)
    alert = make_alert(lab, "lifecycle_drill")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "confirm")
        await decide(time_client, inc, decision("confirm"))
        await status_is(time_client, inc, IncidentStatus.resolved)

        late = make_alert(lab, "lifecycle_drill", fingerprint=alert.fingerprint)
        attached = await submit_alert(time_client, late, task_queue=settings.task_queue)
        assert attached.incident_id == inc and not attached.opened
        reopened = await status_is(time_client, inc, IncidentStatus.open)
        assert reopened.reopened_count == 1 and reopened.alert_count == 2
        assert [s.status for s in reopened.steps].count(StepStatus.succeeded) == 3
        with pytest.raises(Conflict, match="resolve it before closing"):
            await lifecycle(time_client, inc, "close", reason="quiet now")

        await lifecycle(time_client, inc, "resolve", principal="bob", reason="same attacker")
        await status_is(time_client, inc, IncidentStatus.resolved)
        await lifecycle(time_client, inc, "close", reason="quiet now")
        final = await final_state(time_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed and final.reopened_count == 1
    events = audit_stream(settings, inc)
    [reopen] = payloads(events, "IncidentReopened")
    assert reopen == {"alert_count": 2, "reopened_count": 1, "on_reopen": "responder"}
    notes = [p for p in payloads(events, "NotificationSent") if p["kind"] == "reopened"]
    assert len(notes) == 1 and notes[0]["step_id"] == LIFECYCLE_STEP
    resolved = [(e.actor.id, e.payload["by"]) for e in events if e.type == "IncidentResolved"]
    assert resolved == [("firebreak/workflow", "playbook"), ("bob", "responder")]
    assert len({e.id for e in events}) == len(events)
    assert [p["step_id"] for p in payloads(events, "StepStarted")].count("usage") == 1


async def test_a_new_alert_reruns_the_phases_under_rerun(
    time_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = drill_settings(fb_settings, tmp_path, rule="rerun")
    alert = make_alert(lab, "lifecycle_drill")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "confirm")
        await decide(time_client, inc, decision("confirm"))
        await status_is(time_client, inc, IncidentStatus.resolved)

        late = make_alert(lab, "lifecycle_drill", fingerprint=alert.fingerprint)
        await submit_alert(time_client, late, task_queue=settings.task_queue)
        again = await wait_for_pending(time_client, inc, "confirm")
        assert again.reopened_count == 1 and again.status is IncidentStatus.contained
        await decide(time_client, inc, decision("confirm", principal="bob"))
        await status_is(time_client, inc, IncidentStatus.resolved)
        await lifecycle(time_client, inc, "close", reason="rerun done")
        final = await final_state(time_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed
    events = audit_stream(settings, inc)
    assert len({e.id for e in events}) == len(events), "a rerun step is a new event"
    started = [p["step_id"] for p in payloads(events, "StepStarted")]
    assert started == ["usage", "confirm", "after-confirm"] * 2
    assert event_types(events).count("IncidentContained") == 2
    approvers = [e.actor.id for e in events if e.type == "StepApproved"]
    assert approvers == ["alice", "bob"]
    [reopen] = payloads(events, "IncidentReopened")
    assert reopen["on_reopen"] == "rerun"


async def test_a_reopening_storm_continues_as_new_keeping_the_lifecycle(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    """A storm after resolution reopens the incident once; the history outgrows its limit and
    the incident continues as new, still open, still reopened once, its SLA clock rebuilt."""
    settings = drill_settings(fb_settings, tmp_path).model_copy(update={"sla": RULES})
    alert = make_alert(lab, "lifecycle_drill")
    async with running_worker(dev_client, settings, history_limit=150):
        first = await submit_alert(dev_client, alert, task_queue=settings.task_queue)
        inc = first.incident_id
        await wait_for_pending(dev_client, inc, "confirm")
        await decide(dev_client, inc, decision("confirm"))
        await status_is(dev_client, inc, IncidentStatus.resolved)
        for _ in range(100):
            more = make_alert(lab, "lifecycle_drill", fingerprint=alert.fingerprint)
            await submit_alert(dev_client, more, task_queue=settings.task_queue)

        async def all_attached() -> IncidentState | None:
            state = await describe(dev_client, inc)
            return state if state.alert_count == 101 else None

        state = await eventually(all_attached, timeout=60)
        assert state.status is IncidentStatus.open and state.reopened_count == 1
        assert state.sla is not None and state.acknowledged_at is None
        run = (await dev_client.get_workflow_handle(alert.workflow_id).describe()).run_id
        assert run != first.run_id, "the storm made the incident continue as new"
        await lifecycle(dev_client, inc, "acknowledge", principal="bob")
        await lifecycle(dev_client, inc, "resolve", reason="one attacker, one key")
        await status_is(dev_client, inc, IncidentStatus.resolved)
        await lifecycle(dev_client, inc, "close", reason="done")
        final = await final_state(dev_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed and final.reopened_count == 1
    assert final.acknowledged_by == "bob"
    events = audit_stream(settings, inc)
    assert len({e.id for e in events}) == len(events)
    counts = {t: event_types(events).count(t) for t in set(event_types(events))}
    assert counts["IncidentReopened"] == 1 and counts["IncidentResolved"] == 2
    assert counts["AlertAttached"] == 101 and counts["IncidentOpened"] == 1


GATED = """
id: gated-drill
title: Gated drill
alert_types: [gated_drill]
phases:
  - name: containment
    steps:
      - id: quarantine
        action: datasets.quarantine
        params: {dataset: "{{ alert.resources.dataset }}"}
  - name: recovery
    steps:
      - id: usage
        action: keys.usage
        params: {key_id: "{{ alert.resources.api_key }}"}
"""


class GatedFailure:
    """`datasets.quarantine` that fails for good once the test opens its gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    @activity.defn(name="datasets.quarantine")
    async def run(self, inp: ActionInput) -> ActionResult:
        self.started.set()
        await self.gate.wait()
        raise ApplicationError("storage refused the move", type="ProviderError", non_retryable=True)


async def test_a_step_failing_after_a_responder_resolved_asks_nobody(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = drill_settings(fb_settings, tmp_path)
    assert settings.playbooks_dir is not None
    (settings.playbooks_dir / "gated.yaml").write_text(GATED)
    gated = GatedFailure()
    activities = [
        fn
        for fn in build_activities(settings)
        if activity._Definition.must_from_callable(fn).name != "datasets.quarantine"
    ]
    alert = make_alert(lab, "gated_drill")
    async with running_worker(dev_client, settings, [*activities, gated.run]):
        inc = (await submit_alert(dev_client, alert, task_queue=settings.task_queue)).incident_id
        await asyncio.wait_for(gated.started.wait(), 30)
        resolved = await lifecycle(dev_client, inc, "resolve", reason="restored from backup")
        assert resolved.incident_status is IncidentStatus.resolved
        gated.gate.set()

        async def settled() -> IncidentState | None:
            state = await describe(dev_client, inc)
            done = all(s.status is StepStatus.skipped for s in state.steps)
            return state if done else None

        state = await eventually(settled, timeout=30)
        assert state.status is IncidentStatus.resolved and state.pending == []
        await lifecycle(dev_client, inc, "close", reason="done")
        await final_state(dev_client, alert.workflow_id)

    events = audit_stream(settings, inc)
    [failed] = payloads(events, "StepFailed")
    assert failed["step_id"] == "quarantine"
    assert [p["kind"] for p in payloads(events, "NotificationSent")] == []
    assert [p["step_id"] for p in payloads(events, "StepStarted")] == ["quarantine"]


async def test_a_rerun_revokes_again_the_key_that_recovery_restored(
    time_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    """Each round's effects are new effects: the second revoke must reach the key store, not
    be answered by the first round's recorded revoke while the restored key stays live."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "rerun.yaml").write_text(REVOKE_AND_RESTORE)
    settings = fb_settings.model_copy(
        update={"playbooks_dir": playbooks, "incident_quiet_seconds": 600, "sla": []}
    )
    keys = LocalKeyStore(LocalPaths.under(lab.data_dir).keys)
    alert = make_alert(lab, "rerun_revoke")
    key = alert.resources.api_key
    assert key and keys.is_active(key)
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "restore")
        assert not keys.is_active(key), "round 0 revoked the key"
        await decide(time_client, inc, decision("restore"))
        await status_is(time_client, inc, IncidentStatus.resolved)
        assert keys.is_active(key), "round 0 restored it"

        late = make_alert(lab, "rerun_revoke", fingerprint=alert.fingerprint)
        await submit_alert(time_client, late, task_queue=settings.task_queue)
        again = await wait_for_pending(time_client, inc, "restore")
        assert again.reopened_count == 1
        assert not keys.is_active(key), "the rerun revoked the restored key again"
        await decide(time_client, inc, decision("restore", principal="bob"))
        await status_is(time_client, inc, IncidentStatus.resolved)
        assert keys.is_active(key)
        # Closed before its worker goes: a workflow left waiting on the shared time-skipping
        # server would hold its clock for every later test.
        await lifecycle(time_client, inc, "close", reason="rerun done")
        await final_state(time_client, alert.workflow_id)

    events = audit_stream(settings, inc)
    changed = [(p["step_id"], p["result"]["changed"]) for p in payloads(events, "StepSucceeded")]
    assert changed == [("revoke", True), ("restore", True)] * 2
