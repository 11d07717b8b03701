"""Every built-in playbook end to end on a real dev server with the local providers."""

from __future__ import annotations

from collections import Counter

import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.audit import open_event_store
from orchestrator.domain import IncidentStatus, StepStatus
from orchestrator.playbooks.loader import builtin_playbooks
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe, submit_alert
from tests.support.incidents import (
    audit_stream,
    event_types,
    final_state,
    make_alert,
    payloads,
    running_worker,
)

PHASES = ["containment", "investigation", "eradication", "recovery"]
TYPES = sorted(t for pb in builtin_playbooks().values() for t in pb.alert_types)


def test_seven_incident_types_have_builtin_playbooks() -> None:
    assert (
        sorted(
            [
                "agent_tool_compromise",
                "api_key_abuse",
                "data_poisoning",
                "model_drift",
                "model_extraction",
                "model_inversion",
                "prompt_injection",
            ]
        )
        == TYPES
    )


@pytest.mark.parametrize("alert_type", TYPES)
async def test_builtin_playbook_runs_end_to_end(
    alert_type: str, dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, alert_type)
    playbook = next(p for p in builtin_playbooks().values() if alert_type in p.alert_types)
    async with running_worker(dev_client, fb_settings):
        submitted = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        final = await final_state(dev_client, submitted.workflow_id)
        described = await describe(dev_client, submitted.incident_id)

    assert submitted.opened
    assert final.incident_id == submitted.incident_id == described.incident_id
    assert final.status is IncidentStatus.closed and final.outcome == "resolved"
    assert final.playbook == playbook.id and final.playbook_hash == playbook.content_hash
    assert final.alert_count == 1
    expected_steps = [s.id for ph in playbook.phases for s in ph.steps]
    assert [s.step_id for s in final.steps] == expected_steps
    ran = [s for s in final.steps if s.condition is None or s.condition.met]
    assert all(s.status in (StepStatus.succeeded, StepStatus.compensated) for s in ran), [
        (s.step_id, s.status, s.error) for s in final.steps
    ]
    unmet = [s for s in final.steps if s not in ran]
    assert all(s.status is StepStatus.skipped for s in unmet)

    events = audit_stream(fb_settings, submitted.incident_id)
    types = event_types(events)
    assert types[0] == "IncidentOpened" and types[-1] == "IncidentClosed"
    opened = events[0].payload
    assert opened["playbook_hash"] == playbook.content_hash
    assert opened["alert_id"] == alert.id and opened["run_id"] == submitted.run_id
    assert [p["phase"] for p in payloads(events, "PhaseStarted")] == PHASES
    assert [p["phase"] for p in payloads(events, "PhaseCompleted")] == PHASES
    succeeded = Counter(p["step_id"] for p in payloads(events, "StepSucceeded"))
    expected_ran = [s.step_id for s in ran]
    assert succeeded == Counter(expected_ran), "each step's effect is recorded exactly once"
    assert {p["step_id"] for p in payloads(events, "StepSkipped")} == {s.step_id for s in unmet}
    assert len({e.id for e in events}) == len(events)
    undone = {s.undo for ph in playbook.phases for s in ph.steps if s.undo}
    assert {p["step_id"] for p in payloads(events, "StepCompensated")} == undone
    closed = events[-1].payload
    assert closed["outcome"] == "resolved" and closed["time_to_contain_seconds"] >= 0
    assert open_event_store(fb_settings).verify().ok
