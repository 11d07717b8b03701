"""Deadline -> escalation -> timeout rule, under the time-skipping test server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from orchestrator.domain import LIFECYCLE_STEP, IncidentState, IncidentStatus, StepStatus
from orchestrator.settings import Settings
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

DRILL = """
id: timeout-drill
title: Timeout drill
alert_types: [timeout_drill]
phases:
  - name: containment
    steps:
      - id: approve-on-timeout
        action: keys.usage
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          default: {mode: one, deadline_seconds: 600, escalation_seconds: 300,
                    escalate_to: duty-lead, on_timeout: approve}
      - id: deny-on-timeout
        action: keys.revoke
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          default: {mode: two, deadline_seconds: 600, escalation_seconds: 300,
                    escalate_to: duty-lead, on_timeout: deny}
      - id: keep-waiting
        action: keys.usage
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          default: {mode: one, deadline_seconds: 3600, escalation_seconds: 0,
                    escalate_to: ciso, on_timeout: escalate}
"""


def step(state: IncidentState, step_id: str) -> StepStatus:
    return next(s.status for s in state.steps if s.step_id == step_id)


async def test_deadline_escalates_then_applies_the_timeout_rule(
    temporal_time_env: WorkflowEnvironment,
    time_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "drill.yaml").write_text(DRILL)
    # No SLA: its own timers are tested in test_sla.py.
    settings = fb_settings.model_copy(update={"playbooks_dir": tmp_path / "playbooks", "sla": []})
    alert = make_alert(lab, "timeout_drill")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id
        await wait_for_pending(time_client, inc, "approve-on-timeout")

        await temporal_time_env.sleep(590)
        state = await describe(time_client, inc)
        assert step(state, "approve-on-timeout") is StepStatus.awaiting_approval
        assert not state.steps[0].escalated, "nothing happens before the deadline"

        await temporal_time_env.sleep(20)
        escalated = await eventually(
            lambda: _escalated(time_client, inc, "approve-on-timeout"), timeout=10
        )
        assert step(escalated, "approve-on-timeout") is StepStatus.awaiting_approval

        await temporal_time_env.sleep(300)
        await wait_for_pending(time_client, inc, "deny-on-timeout")
        await temporal_time_env.sleep(905)
        await wait_for_pending(time_client, inc, "keep-waiting")
        state = await describe(time_client, inc)
        assert step(state, "approve-on-timeout") is StepStatus.succeeded
        assert step(state, "deny-on-timeout") is StepStatus.rejected

        await temporal_time_env.sleep(3605)
        await eventually(lambda: _escalated(time_client, inc, "keep-waiting"), timeout=10)
        await temporal_time_env.sleep(7 * 24 * 3600)
        state = await describe(time_client, inc)
        assert step(state, "keep-waiting") is StepStatus.awaiting_approval, "escalate: wait on"
        await decide(time_client, inc, decision("keep-waiting"))
        final = await final_state(time_client, alert.workflow_id)

    assert step(final, "keep-waiting") is StepStatus.succeeded
    events = audit_stream(settings, inc)
    escalations = [(p["step_id"], p["escalate_to"]) for p in payloads(events, "StepEscalated")]
    assert escalations == [
        ("approve-on-timeout", "duty-lead"),
        ("deny-on-timeout", "duty-lead"),
        ("keep-waiting", "ciso"),
    ]
    by_timeout = [
        (e.type, e.payload["step_id"]) for e in events if e.actor.id == "firebreak/timeout"
    ]
    assert by_timeout == [
        ("StepApproved", "approve-on-timeout"),
        ("StepRejected", "deny-on-timeout"),
    ]
    notes = Counter((p["kind"], p["target"]) for p in payloads(events, "NotificationSent"))
    assert notes == {
        ("approval", None): 3,
        ("escalation", "duty-lead"): 2,
        ("escalation", "ciso"): 1,
    }
    assert "keys.revoke" not in {p["action"] for p in payloads(events, "StepStarted")}


async def _escalated(client: Client, incident_id: str, step_id: str) -> IncidentState | None:
    state = await describe(client, incident_id)
    found = next(s for s in state.steps if s.step_id == step_id)
    return state if found.escalated else None


async def test_a_resolved_incident_closes_once_its_alerts_go_quiet(
    temporal_time_env: WorkflowEnvironment, time_client: Client, lab: LabInfo
) -> None:
    """A late alert reopens a resolved incident (instead of opening another); it waits for a
    responder (`on_reopen: responder`, the default), then closes after a quiet period."""
    settings = Settings(
        data_dir=lab.data_dir,
        task_queue=f"quiet-{lab.data_dir.parent.name}",
        incident_quiet_seconds=900,
        sla=[],
    )
    alert = make_alert(lab, "api_key_abuse")
    async with running_worker(time_client, settings):
        inc = (await submit_alert(time_client, alert, task_queue=settings.task_queue)).incident_id

        async def status() -> IncidentStatus:
            return (await describe(time_client, inc)).status

        async def resolved() -> bool:
            return await status() is IncidentStatus.resolved

        await eventually(resolved, timeout=20)
        await temporal_time_env.sleep(600)
        late = make_alert(lab, "api_key_abuse", fingerprint=alert.fingerprint)
        attached = await submit_alert(time_client, late, task_queue=settings.task_queue)
        assert attached.incident_id == inc and not attached.opened
        await eventually(lambda: _is(status, IncidentStatus.open), timeout=20)
        await temporal_time_env.sleep(2000)
        state = await describe(time_client, inc)
        assert state.status is IncidentStatus.open and state.alert_count == 2, "it waits"
        resolve = decision(LIFECYCLE_STEP, "resolve", reason="same stolen key, still revoked")
        await decide(time_client, inc, resolve)
        await eventually(resolved, timeout=20)
        await temporal_time_env.sleep(890)
        assert await status() is IncidentStatus.resolved
        await temporal_time_env.sleep(20)
        final = await final_state(time_client, alert.workflow_id)

    assert final.outcome == "resolved" and final.reopened_count == 1
    events = audit_stream(settings, inc)
    resolved_at = [e.occurred_at for e in events if e.type == "IncidentResolved"][-1]
    assert (events[-1].occurred_at - resolved_at).total_seconds() >= 900


async def _is(status: Callable[[], Awaitable[IncidentStatus]], want: IncidentStatus) -> bool:
    return await status() is want
