"""Step outputs and `when:` on the real workflow and activities: the data-poisoning playbook
retrains, scores the retrained version against the restored one and promotes it only when it
passed (two approvals in prod); a failing score keeps the restored version serving and says so;
a reference with no value fails its step naming it; outputs read across continue-as-new."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.paths import LocalPaths
from orchestrator.db import upgrade
from orchestrator.domain import DecisionKind, Environment, IncidentStatus, StepStatus
from orchestrator.playbooks.loader import builtin_playbooks
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import decide, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    final_state,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)

BUILTIN = Path(__file__).parents[2] / "orchestrator/playbooks/builtin/data_poisoning.yaml"


def serving(lab: LabInfo) -> str:
    registry = LocalModelRegistry(LocalPaths.under(lab.data_dir).models)
    return str(registry._state(lab.model).read()["aliases"]["production"])


def with_playbooks(lab: LabInfo, playbooks_dir: Path) -> Settings:
    """Settings for the lab whose worker loads the user playbooks in `playbooks_dir`."""
    settings = Settings(
        data_dir=lab.data_dir,
        task_queue=f"fb-{uuid.uuid4().hex[:12]}",
        incident_quiet_seconds=0,
        playbooks_dir=playbooks_dir,
    )
    upgrade(settings.db_url)
    return settings


def step_event(events: list, type_: str, step_id: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in payloads(events, type_) if p["step_id"] == step_id)


async def test_prod_promotes_the_retrained_version_after_two_approvals(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    async with running_worker(dev_client, fb_settings):
        inc = (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
        await wait_for_pending(dev_client, inc, "quarantine-dataset")
        await decide(dev_client, inc, decision("quarantine-dataset"))
        await wait_for_pending(dev_client, inc, "rollback-model")
        await decide(dev_client, inc, decision("rollback-model"))
        await decide(dev_client, inc, decision("rollback-model", principal="bob"))
        state = await wait_for_pending(dev_client, inc, "promote-retrained", timeout=60)
        promote = next(s for s in state.steps if s.step_id == "promote-retrained")
        assert promote.params["version"] == "4", "approvers see the version they promote"
        assert serving(lab) == "2", "nothing is promoted before the approvals"
        await decide(dev_client, inc, decision("promote-retrained"))
        await decide(dev_client, inc, decision("promote-retrained", principal="bob"))
        await wait_for_pending(dev_client, inc, "restore-ingest-key")
        await decide(dev_client, inc, decision("restore-ingest-key"))
        final = await final_state(dev_client, alert.workflow_id)

    assert final.status is IncidentStatus.closed and final.outcome == "resolved"
    assert serving(lab) == "4"
    steps = {s.step_id: s for s in final.steps}
    scored = steps["evaluate-retrained"]
    assert scored.params["version"] == "4" and scored.params["baseline_version"] == "2"
    assert scored.result is not None and scored.result.outputs["passed"] == "true"
    assert float(scored.result.outputs["score"]) >= 0.95
    assert steps["report-kept-restored"].status is StepStatus.skipped

    events = audit_stream(fb_settings, inc)
    requested = step_event(events, "StepRequested", "promote-retrained")
    assert requested["approvals_required"] == 2
    assert requested["condition"] == {
        "output": "steps.evaluate-retrained.outputs.passed",
        "comparison": "equals",
        "operand": "true",
        "value": "true",
        "met": True,
        "reason": "",
    }
    started = step_event(events, "StepStarted", "promote-retrained")
    assert started["params"]["version"] == "4" and started["condition"]["met"] is True
    promoted = step_event(events, "StepSucceeded", "promote-retrained")["result"]
    assert promoted["outputs"]["from_version"] == "2" and promoted["outputs"]["to_version"] == "4"
    skipped = step_event(events, "StepSkipped", "report-kept-restored")
    assert skipped["condition"]["value"] == "true" and skipped["condition"]["met"] is False
    assert "condition not met" in skipped["reason"]


async def test_a_failed_validation_keeps_the_restored_version_and_says_so(
    dev_client: Client, lab: LabInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strict = tmp_path / "playbooks"
    strict.mkdir()
    text = BUILTIN.read_text().replace('min_score: "0.95"', 'min_score: "0.9999"')
    (strict / "data_poisoning.yaml").write_text(text)
    settings = with_playbooks(lab, strict)
    caplog.set_level(logging.WARNING, logger="firebreak.notify")
    alert = make_alert(lab, "data_poisoning")
    async with running_worker(dev_client, settings):
        inc = (await submit_alert(dev_client, alert, task_queue=settings.task_queue)).incident_id
        final = await final_state(dev_client, alert.workflow_id, timeout=90)

    assert final.outcome == "resolved" and serving(lab) == "2"
    steps = {s.step_id: s for s in final.steps}
    assert steps["promote-retrained"].status is StepStatus.skipped
    assert steps["report-kept-restored"].status is StepStatus.succeeded
    events = audit_stream(settings, inc)
    skipped = step_event(events, "StepSkipped", "promote-retrained")
    assert skipped["condition"]["value"] == "false"
    assert "found 'false'" in skipped["reason"]
    told = step_event(events, "StepStarted", "report-kept-restored")["params"]
    assert told["title"] == ("Retrained version 4 failed validation; version 2 keeps serving")
    assert "below the threshold 0.9999" in told["body"]
    assert "Retrained version 4 failed validation" in caplog.text


REFERENCES_MISSING = """
id: missing-output
title: A reference whose step did not return it
alert_types: [data_poisoning]
phases:
  - name: containment
    steps:
      - id: pin
        action: models.snapshot
        params: {model: "{{ alert.resources.model }}"}
  - name: recovery
    steps:
      - id: usage
        action: keys.usage
        params: {key_id: "{{ steps.pin.outputs.model }}-{{ alert.resources.api_key }}"}
      - id: restore
        action: models.restore
        params:
          model: "{{ alert.resources.model }}"
          version: "{{ steps.usage.outputs.last_used_at }}"
"""


async def test_a_reference_without_a_value_fails_its_step_naming_it(
    dev_client: Client, lab: LabInfo, tmp_path: Path
) -> None:
    user = tmp_path / "playbooks"
    user.mkdir()
    (user / "missing.yaml").write_text(REFERENCES_MISSING)
    settings = with_playbooks(lab, user)
    alert = make_alert(lab, "data_poisoning")
    async with running_worker(dev_client, settings):
        inc = (await submit_alert(dev_client, alert, task_queue=settings.task_queue)).incident_id
        state = await wait_for_pending(dev_client, inc, "usage")
        usage = next(s for s in state.steps if s.step_id == "usage")
        assert usage.status is StepStatus.awaiting_decision
        assert usage.params["key_id"] == f"{lab.model}-{lab.ingest_key}", "rendered, then run"
        assert usage.error is not None and usage.error.startswith("ResourceNotFound")
        await decide(dev_client, inc, decision("usage", kind=DecisionKind.skip))
        state = await wait_for_pending(dev_client, inc, "restore")
        restore = next(s for s in state.steps if s.step_id == "restore")
        assert restore.error == (
            "parameter version: steps.usage.outputs.last_used_at has no value: "
            "step usage is skipped"
        )
        await decide(dev_client, inc, decision("restore", kind=DecisionKind.skip))
        final = await final_state(dev_client, alert.workflow_id)

    assert serving(lab) == "3", "a step whose parameter has no value never acts"
    events = audit_stream(settings, inc)
    failed = step_event(events, "StepFailed", "restore")
    assert "steps.usage.outputs.last_used_at has no value" in failed["error"]
    assert not [p for p in payloads(events, "StepStarted") if p["step_id"] == "restore"]
    assert final.status is IncidentStatus.closed


def test_the_builtin_file_is_the_one_loaded() -> None:
    assert builtin_playbooks()["data-poisoning"].phases[-1].steps[3].id == "evaluate-retrained"
