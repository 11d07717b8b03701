"""Triage: an alert no playbook fits opens an incident that waits for a responder, keeps
attaching its storm, and runs the playbook a responder assigns (or closes with a reason)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.lab import LabInfo
from activities.providers.local.paths import LocalPaths
from orchestrator.domain import TRIAGE_STEP, Alert, IncidentStatus, Resources, Role
from orchestrator.errors import Conflict, Forbidden
from orchestrator.settings import Settings
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
from workflows.incident import IncidentWorkflow


async def key_is_revoked(lab: LabInfo) -> bool:
    """Probe by restoring: a restore changes something only if the key was revoked."""
    store = LocalKeyStore(LocalPaths.under(lab.data_dir).keys)
    probe = f"probe-{uuid.uuid4().hex}"
    return (await store.restore(lab.ingest_key, idempotency_key=probe)).changed


async def open_in_triage(client: Client, settings: Settings, alert: Alert) -> str:
    """Submit `alert` and wait until its incident waits in triage; its id."""
    submitted = await submit_alert(client, alert, task_queue=settings.task_queue)
    await wait_for_pending(client, submitted.incident_id, TRIAGE_STEP)
    return submitted.incident_id


async def test_an_unknown_type_waits_in_triage_then_runs_the_assigned_playbook(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "crypto_mining")
    async with running_worker(dev_client, fb_settings):
        submitted = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        state = await wait_for_pending(dev_client, submitted.incident_id, TRIAGE_STEP)
        assert state.status is IncidentStatus.open
        [pending] = state.pending
        assert (pending.reason, pending.phase) == ("triage", None)
        assert state.triage is not None
        assert "no playbook handles alert type 'crypto_mining'" in state.triage.reason
        events = audit_stream(fb_settings, submitted.incident_id)
        [notified] = payloads(events, "NotificationSent")
        assert notified["kind"] == "triage" and notified["delivered"] is True

        outcome = await decide(
            dev_client,
            submitted.incident_id,
            decision(TRIAGE_STEP, "assign", playbook="api-key-abuse", reason="a stolen key"),
        )
        assert outcome.kind.value == "assign"
        final = await final_state(dev_client, alert.workflow_id)
    assert final.outcome == "resolved" and final.playbook == "api-key-abuse"
    assert final.playbook_hash and final.playbook_hash.startswith("sha256:")
    assert await key_is_revoked(lab)
    events = audit_stream(fb_settings, submitted.incident_id)
    types = event_types(events)
    assert types[:3] == ["IncidentOpened", "AlertAttached", "IncidentTriaged"]
    assert types.index("PlaybookAssigned") < types.index("PhaseStarted")
    [assigned] = [e for e in events if e.type == "PlaybookAssigned"]
    assert assigned.actor.id == "alice"
    assert assigned.payload["playbook_hash"] == final.playbook_hash


async def test_a_missing_parameter_names_the_field_and_the_responder_supplies_it(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "api_key_abuse", resources=Resources(model=lab.model))
    async with running_worker(dev_client, fb_settings):
        submitted = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        state = await wait_for_pending(dev_client, submitted.incident_id, TRIAGE_STEP)
        assert state.triage is not None
        assert "'alert.resources.api_key' is empty" in state.triage.reason
        assert not await key_is_revoked(lab), "nothing ran before a person assigned it"
        await decide(
            dev_client,
            submitted.incident_id,
            decision(
                TRIAGE_STEP,
                "assign",
                playbook="api-key-abuse",
                resources=Resources(api_key=lab.ingest_key),
            ),
        )
        final = await final_state(dev_client, alert.workflow_id)
    assert final.outcome == "resolved"
    assert await key_is_revoked(lab)


async def test_an_assignment_that_does_not_resolve_keeps_waiting_then_a_close_needs_a_reason(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "crypto_mining")
    async with running_worker(dev_client, fb_settings):
        incident = await open_in_triage(dev_client, fb_settings, alert)
        await decide(dev_client, incident, decision(TRIAGE_STEP, "assign", playbook="nope"))

        async def failed_once() -> bool:
            state = await describe(dev_client, incident)
            return bool(state.triage and state.triage.failed_assignments == 1 and state.pending)

        await eventually(failed_once)
        state = await describe(dev_client, incident)
        assert state.triage is not None and "no playbook 'nope'" in state.triage.reason
        await decide(
            dev_client, incident, decision(TRIAGE_STEP, "close", principal="bob", reason="noise")
        )
        final = await final_state(dev_client, alert.workflow_id)
    assert final.outcome == "closed_in_triage" and final.status is IncidentStatus.closed
    events = audit_stream(fb_settings, incident)
    [failed] = payloads(events, "PlaybookAssignFailed")
    assert failed["playbook"] == "nope" and "no playbook 'nope'" in failed["error"]
    notified = payloads(events, "NotificationSent")
    assert [n["attempt"] for n in notified] == [0, 1], "told again after the failed assignment"
    closed = events[-1]
    assert closed.type == "IncidentClosed" and closed.actor.id == "bob"
    assert closed.payload["reason"] == "noise" and closed.payload["principal"] == "bob"


async def test_triage_decisions_follow_the_rules_of_every_decision(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "crypto_mining")
    async with running_worker(dev_client, fb_settings):
        incident = await open_in_triage(dev_client, fb_settings, alert)
        assign = {"playbook": "api-key-abuse"}
        with pytest.raises(Forbidden, match="raised the alert"):
            await decide(
                dev_client,
                incident,
                decision(TRIAGE_STEP, "assign", principal=alert.source, **assign),
            )
        with pytest.raises(Forbidden, match="auditor"):
            await decide(
                dev_client, incident, decision(TRIAGE_STEP, "assign", role=Role.auditor, **assign)
            )
        with pytest.raises(Conflict, match="does not apply"):
            await decide(dev_client, incident, decision(TRIAGE_STEP, "approve"))
        with pytest.raises(Conflict, match="names the playbook"):
            await decide(dev_client, incident, decision(TRIAGE_STEP, "assign"))
        state = await describe(dev_client, incident)
        assert state.triage is not None and state.triage.failed_assignments == 0
        assert [p.step_id for p in state.pending] == [TRIAGE_STEP]
        await decide(dev_client, incident, decision(TRIAGE_STEP, "close", reason="drill"))
        await final_state(dev_client, alert.workflow_id)


async def test_a_storm_no_playbook_fits_is_one_incident(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    first = make_alert(lab, "crypto_mining")
    storm = [first.model_copy(update={"id": f"{first.id}-{i}"}) for i in range(40)]
    async with running_worker(dev_client, fb_settings):
        ids = {
            (await submit_alert(dev_client, a, task_queue=fb_settings.task_queue)).incident_id
            for a in [first, *storm]
        }
        [incident] = ids

        async def all_attached() -> bool:
            return (await describe(dev_client, incident)).alert_count == 41

        await eventually(all_attached)
        await decide(dev_client, incident, decision(TRIAGE_STEP, "close", reason="known miner"))
        final = await final_state(dev_client, first.workflow_id)
    assert final.alert_count == 41 and final.outcome == "closed_in_triage"


async def test_an_incident_queried_while_it_opens_in_triage_replays(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    """A query during the first workflow task cuts it after the playbook's local activity;
    replay must still take the same branch (patch asked before, notification always local)."""
    alert = make_alert(lab, "crypto_mining")
    async with running_worker(dev_client, fb_settings):
        incident = await open_in_triage(dev_client, fb_settings, alert)
        await decide(dev_client, incident, decision(TRIAGE_STEP, "close", reason="drill"))
        await final_state(dev_client, alert.workflow_id)
    history = await dev_client.get_workflow_handle(alert.workflow_id).fetch_history()
    replayer = Replayer(workflows=[IncidentWorkflow], data_converter=dev_client.data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
