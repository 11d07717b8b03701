"""The incident workflow's edges (no playbook at all: `tests/workflows/test_triage.py`): a stalled
step, short actions run as local activities, a dry run, continue-as-new in a long storm, and
the PostgreSQL event store."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.factory import build_activities
from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.lab import LabInfo
from activities.providers.local.paths import LocalPaths
from orchestrator.db import upgrade
from orchestrator.domain import (
    ActionInput,
    ActionResult,
    AlertStatus,
    DecisionKind,
    Environment,
    IncidentStatus,
    Resources,
    StepStatus,
)
from orchestrator.errors import NotFound
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import decide, describe, submit_alert
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

KEY_PLAYBOOK = """
id: key-drill
title: Key drill
alert_types: [key_drill]
dry_run: {dry_run}
phases:
  - name: containment
    steps:
      - id: revoke
        action: keys.revoke
        params: {{key_id: "{{{{ alert.resources.api_key }}}}"}}
  - name: investigation
    steps:
      - id: usage
        action: keys.usage
        params: {{key_id: "{{{{ alert.resources.api_key }}}}"}}
        stall_after_seconds: 1
"""


def with_playbook(settings: Settings, tmp_path: Path, dry_run: bool) -> Settings:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "drill.yaml").write_text(KEY_PLAYBOOK.format(dry_run=str(dry_run).lower()))
    return settings.model_copy(update={"playbooks_dir": folder})


async def key_is_active(lab: LabInfo) -> bool:
    store = LocalKeyStore(LocalPaths.under(lab.data_dir).keys)
    return not (await store.restore(lab.ingest_key, idempotency_key="probe")).changed


class SlowUsage:
    @activity.defn(name="keys.usage")
    async def run(self, inp: ActionInput) -> ActionResult:
        await asyncio.sleep(2.5)
        return ActionResult(action=inp.action, changed=False, summary="no traffic")


def with_slow_usage(settings: Settings) -> list[Callable[..., Any]]:
    real = [
        fn
        for fn in build_activities(settings)
        if activity._Definition.must_from_callable(fn).name != "keys.usage"
    ]
    return [*real, SlowUsage().run]


async def test_short_actions_run_inside_the_workflow_task(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    """Revoking a key and suspending a tool are local activities: no activity task goes through
    the server for them, so containment needs no round trip beyond the incident's first
    workflow task. Evidence collection, which may move large files, stays a scheduled one."""
    alert = make_alert(lab, "prompt_injection", Environment.dev)
    async with running_worker(dev_client, fb_settings):
        submitted = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        final = await final_state(dev_client, alert.workflow_id)
    assert final.outcome == "resolved"
    history = dev_client.get_workflow_handle(alert.workflow_id).fetch_history_events()
    scheduled, markers = [], 0
    async for event in history:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        markers += event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    assert scheduled == ["evidence.collect"]
    assert markers >= 5  # the five keys/agents actions, besides playbook and audit appends
    succeeded = payloads(audit_stream(fb_settings, submitted.incident_id), "StepSucceeded")
    assert [(p["action"], p["result"]["changed"]) for p in succeeded] == [
        ("keys.revoke", True),
        ("keys.usage", False),
        ("evidence.collect", False),
        ("agents.suspend_tool", True),
        ("agents.restore_tool", True),
        ("keys.restore", True),
    ]
    assert await key_is_active(lab), "revoked, then restored at recovery"


async def test_a_failed_local_action_asks_people_like_a_regular_one(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    """A local activity's failure reaches the workflow as the bare ApplicationError, not as an
    ActivityError: the step must still fail into a decision, not fail the incident."""
    settings = with_playbook(fb_settings, tmp_path, dry_run=False)
    alert = make_alert(lab, "key_drill", resources=Resources(api_key="key-that-does-not-exist"))
    async with running_worker(dev_client, settings):
        submitted = await submit_alert(dev_client, alert, task_queue=settings.task_queue)
        state = await wait_for_pending(dev_client, submitted.incident_id, "revoke")
        (pending,) = state.pending
        assert pending.reason == "failure"
        revoke = next(s for s in state.steps if s.step_id == "revoke")
        assert revoke.error and revoke.error.startswith("ResourceNotFound:")
        skip = DecisionKind.skip
        await decide(dev_client, submitted.incident_id, decision("revoke", kind=skip))
        # `usage` of the same missing key runs as a regular activity (it wants an early stall
        # report) and fails the same way.
        await wait_for_pending(dev_client, submitted.incident_id, "usage")
        await decide(dev_client, submitted.incident_id, decision("usage", kind=skip))
        final = await final_state(dev_client, alert.workflow_id)
    assert final.outcome == "resolved"
    assert [s.status for s in final.steps] == [StepStatus.skipped, StepStatus.skipped]
    failed = payloads(audit_stream(settings, submitted.incident_id), "StepFailed")
    assert [(p["step_id"], p["error"].split(":")[0]) for p in failed] == [
        ("revoke", "ResourceNotFound"),
        ("usage", "ResourceNotFound"),
    ]


async def test_step_without_progress_past_its_deadline_is_reported_stalled(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = with_playbook(fb_settings, tmp_path, dry_run=False)
    alert = make_alert(lab, "key_drill")
    async with running_worker(dev_client, settings, with_slow_usage(settings)):
        submitted = await submit_alert(dev_client, alert, task_queue=settings.task_queue)
        final = await final_state(dev_client, alert.workflow_id)
    usage = next(s for s in final.steps if s.step_id == "usage")
    assert usage.stalled and usage.status is StepStatus.succeeded
    events = audit_stream(settings, submitted.incident_id)
    (stalled,) = payloads(events, "StepStalled")
    assert stalled["step_id"] == "usage" and stalled["running_seconds"] == 1
    assert [p["kind"] for p in payloads(events, "NotificationSent")] == ["stalled"]
    types = event_types(events)
    assert types.index("StepStalled") < types.index("StepSucceeded", types.index("StepStalled"))
    assert not await key_is_active(lab), "the real revoke ran"


async def test_dry_run_playbook_records_what_it_would_do(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    settings = with_playbook(fb_settings, tmp_path, dry_run=True)
    alert = make_alert(lab, "key_drill")
    async with running_worker(dev_client, settings):
        submitted = await submit_alert(dev_client, alert, task_queue=settings.task_queue)
        await final_state(dev_client, alert.workflow_id)
    events = audit_stream(settings, submitted.incident_id)
    assert events[0].payload["dry_run"] is True
    revoke = next(p for p in payloads(events, "StepSucceeded") if p["step_id"] == "revoke")
    assert revoke["result"]["summary"].startswith("dry run") and not revoke["result"]["changed"]
    assert await key_is_active(lab)


async def test_long_storm_continues_as_new_keeping_the_incident(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    async with running_worker(dev_client, fb_settings, history_limit=150):
        first = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        inc = first.incident_id
        await wait_for_pending(dev_client, inc, "quarantine-dataset")
        await decide(dev_client, inc, decision("quarantine-dataset", decision_id="d-quarantine"))
        await wait_for_pending(dev_client, inc, "rollback-model")
        await decide(dev_client, inc, decision("rollback-model"))
        for _ in range(120):
            more = make_alert(
                lab, "data_poisoning", Environment.prod, fingerprint=alert.fingerprint
            )
            assert (
                await submit_alert(dev_client, more, task_queue=fb_settings.task_queue)
            ).incident_id == inc
        state = await wait_for_pending(dev_client, inc, "rollback-model")
        assert state.incident_id == inc and state.alert_count == 121
        run = (await dev_client.get_workflow_handle(alert.workflow_id).describe()).run_id
        assert run != first.run_id, "the storm made the incident continue as new"
        pending = next(p for p in state.pending if p.step_id == "rollback-model")
        assert pending.approved_by == ["alice"], "approvals so far survive continue-as-new"
        again = await decide(
            dev_client, inc, decision("quarantine-dataset", decision_id="d-quarantine")
        )
        assert again.step_status is StepStatus.approved, "decision ids stay idempotent"
        await decide(dev_client, inc, decision("rollback-model", principal="bob"))
        await wait_for_pending(dev_client, inc, "promote-retrained", timeout=60)
        before = (await dev_client.get_workflow_handle(alert.workflow_id).describe()).run_id
        for _ in range(120):
            more = make_alert(
                lab, "data_poisoning", Environment.prod, fingerprint=alert.fingerprint
            )
            await submit_alert(dev_client, more, task_queue=fb_settings.task_queue)
        state = await wait_for_pending(dev_client, inc, "promote-retrained")
        after = (await dev_client.get_workflow_handle(alert.workflow_id).describe()).run_id
        assert after != before, "the second storm made it continue as new again"
        await decide(dev_client, inc, decision("promote-retrained"))
        await decide(dev_client, inc, decision("promote-retrained", principal="bob"))
        await wait_for_pending(dev_client, inc, "restore-ingest-key")
        await decide(dev_client, inc, decision("restore-ingest-key", principal="carol"))
        final = await final_state(dev_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed and final.incident_id == inc
    events = audit_stream(fb_settings, inc)
    counts = Counter(event_types(events))
    assert counts["IncidentOpened"] == 1 and counts["AlertAttached"] == 241
    assert counts["StepRequested"] == 4 and counts["PhaseStarted"] == 4
    assert counts["StepSucceeded"] == 13
    # Outputs recorded before continue-as-new are read after it: the promotion ran with the
    # retrained version, and the condition evaluated in the new run saw the earlier score.
    started = [p for p in payloads(events, "StepStarted") if p["step_id"] == "promote-retrained"]
    assert [p["params"]["version"] for p in started] == ["4"]
    (skipped,) = payloads(events, "StepSkipped")
    assert skipped["step_id"] == "report-kept-restored"
    assert skipped["condition"]["value"] == "true" and not skipped["condition"]["met"]


async def test_resolved_alert_never_opens_an_incident(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "api_key_abuse")
    resolved = alert.model_copy(update={"id": "later", "status": AlertStatus.resolved})
    with pytest.raises(NotFound, match="no incident for resolved alert 'later'"):
        await submit_alert(dev_client, resolved, task_queue=fb_settings.task_queue)
    async with running_worker(dev_client, fb_settings):
        opened = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        await final_state(dev_client, alert.workflow_id)
    after = await submit_alert(dev_client, resolved, task_queue=fb_settings.task_queue)
    assert after.incident_id == opened.incident_id and not after.opened
    handle = dev_client.get_workflow_handle(alert.workflow_id)
    assert (await handle.describe()).run_id == opened.run_id, "no new incident"


async def test_incident_on_postgresql(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, pg_url: str
) -> None:
    upgrade(pg_url)
    settings = Settings(
        data_dir=lab.data_dir,
        task_queue=fb_settings.task_queue,
        incident_quiet_seconds=0,
        database_url=pg_url,
    )
    alert = make_alert(lab, "api_key_abuse")
    async with running_worker(dev_client, settings):
        submitted = await submit_alert(dev_client, alert, task_queue=settings.task_queue)
        await final_state(dev_client, alert.workflow_id)
    events = audit_stream(settings, submitted.incident_id)
    assert events[0].type == "IncidentOpened" and events[-1].type == "IncidentClosed"
    assert audit_stream(fb_settings, submitted.incident_id) == [], "nothing went to SQLite"


async def test_closed_incidents_key_opens_a_new_incident_with_a_new_id(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "api_key_abuse")
    again = make_alert(lab, "api_key_abuse", fingerprint=alert.fingerprint)
    async with running_worker(dev_client, fb_settings):
        first = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        await final_state(dev_client, alert.workflow_id)
        second = await submit_alert(dev_client, again, task_queue=fb_settings.task_queue)
        await final_state(dev_client, alert.workflow_id)
        assert (await describe(dev_client, second.incident_id)).alert_count == 1
        with pytest.raises(NotFound):
            await describe(dev_client, first.incident_id)
    assert second.opened and second.workflow_id == first.workflow_id
    assert second.incident_id != first.incident_id
    first_stream = audit_stream(fb_settings, first.incident_id)
    second_stream = audit_stream(fb_settings, second.incident_id)
    assert first_stream[0].payload["alert_id"] == alert.id
    assert second_stream[0].payload["alert_id"] == again.id
    assert not {e.id for e in first_stream} & {e.id for e in second_stream}
