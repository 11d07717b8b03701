"""Undo and abort run an inverse only for effects that changed something: a step the resource
guard refused (another incident already remediated the key) has nothing to undo."""

from __future__ import annotations

from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment, IncidentState, StepState, StepStatus
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.support.incidents import audit_stream, final_state, make_alert, payloads, running_worker


async def test_a_guarded_step_is_not_undone_by_the_second_incident(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    first = make_alert(lab, "prompt_injection", Environment.dev)
    second = make_alert(lab, "prompt_injection", Environment.dev)
    async with running_worker(dev_client, fb_settings):
        await submit_alert(dev_client, first, task_queue=fb_settings.task_queue)
        one = await final_state(dev_client, first.workflow_id)
        inc = (
            await submit_alert(dev_client, second, task_queue=fb_settings.task_queue)
        ).incident_id
        two = await final_state(dev_client, second.workflow_id)

    def steps(state: IncidentState) -> dict[str, StepState]:
        return {s.step_id: s for s in state.steps}

    assert steps(one)["restore-caller-key"].status is StepStatus.succeeded
    revoke = steps(two)["revoke-caller-key"]
    assert revoke.status is StepStatus.succeeded and revoke.result is not None
    assert not revoke.result.changed and "already remediated" in revoke.result.summary
    assert steps(two)["restore-caller-key"].status is StepStatus.skipped
    skipped = payloads(audit_stream(fb_settings, inc), "StepSkipped")
    assert any(
        p["step_id"] == "restore-caller-key" and "changed nothing" in p["reason"] for p in skipped
    )
