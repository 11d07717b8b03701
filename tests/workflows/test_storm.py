"""An alert storm: 1,000 alerts with one correlation key make one incident with 1,000 alerts;
a stream of duplicates while the incident waits is appended to the ledger in batches."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import AlertStatus, Environment, SubmitResult
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe, submit_alert
from tests.support.incidents import (
    audit_stream,
    eventually,
    make_alert,
    payloads,
    running_worker,
    wait_for_pending,
)

STORM = 1000
STREAM = 40


async def test_storm_of_one_key_lands_in_one_incident(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    first = make_alert(lab, "data_poisoning", Environment.prod)
    alerts = [first] + [
        make_alert(lab, "data_poisoning", Environment.prod, fingerprint=first.fingerprint)
        for _ in range(STORM - 1)
    ]
    gate = asyncio.Semaphore(50)

    async def send(alert: object) -> SubmitResult:
        async with gate:
            return await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)  # type: ignore[arg-type]

    async with running_worker(dev_client, fb_settings):
        opened = await send(first)
        results = await asyncio.gather(*(send(a) for a in alerts[1:]))
        retried = await send(alerts[7])
        resolved = await send(alerts[3].model_copy(update={"status": AlertStatus.resolved}))
        inc = opened.incident_id
        await wait_for_pending(dev_client, inc, "quarantine-dataset")

        async def all_attached() -> bool:
            state = await describe(dev_client, inc)
            return state.alert_count == STORM and state.resolved_alert_count == 1

        await eventually(all_attached, timeout=120)

        def all_recorded() -> bool:  # the ledger follows within a second (`batched-attach`)
            events = audit_stream(fb_settings, inc)
            return len(payloads(events, "AlertAttached")) == STORM and bool(
                payloads(events, "AlertResolved")
            )

        await eventually(all_recorded, timeout=30)

    assert opened.opened and not any(r.opened for r in [*results, retried, resolved])
    assert {r.incident_id for r in [*results, retried, resolved]} == {inc}
    events = audit_stream(fb_settings, inc)
    attached = payloads(events, "AlertAttached")
    assert len(attached) == STORM, "a retried delivery of one alert id is not counted twice"
    assert sorted(p["alert_count"] for p in attached) == list(range(1, STORM + 1))
    assert {p["alert_id"] for p in attached} == {a.id for a in alerts}
    assert payloads(events, "AlertResolved") == [
        {"alert_id": alerts[3].id, "resolved_alert_count": 1}
    ]
    assert len([e for e in events if e.type == "IncidentOpened"]) == 1


async def _local_activities(client: Client, workflow_id: str) -> int:
    history = client.get_workflow_handle(workflow_id).fetch_history_events()
    return sum([e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED async for e in history])


async def test_duplicates_while_waiting_are_appended_in_batches(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    """One signal per duplicate, sent one after another to an incident waiting for approval:
    the state counts each at once, the ledger gets every one, in a few audit appends instead
    of one local activity (and one more workflow task) per signal."""
    first = make_alert(lab, "data_poisoning", Environment.prod)
    async with running_worker(dev_client, fb_settings):
        inc = (await submit_alert(dev_client, first, task_queue=fb_settings.task_queue)).incident_id
        await wait_for_pending(dev_client, inc, "quarantine-dataset")
        before = await _local_activities(dev_client, first.workflow_id)
        for _ in range(STREAM):
            more = make_alert(
                lab, "data_poisoning", Environment.prod, fingerprint=first.fingerprint
            )
            await submit_alert(dev_client, more, task_queue=fb_settings.task_queue)
            await asyncio.sleep(0.05)  # a stream, not a burst that one workflow task takes whole
        assert (await describe(dev_client, inc)).alert_count == STREAM + 1

        async def all_recorded() -> bool:
            return len(payloads(audit_stream(fb_settings, inc), "AlertAttached")) == STREAM + 1

        await eventually(all_recorded, timeout=30)
        appends = await _local_activities(dev_client, first.workflow_id) - before
    counts = [p["alert_count"] for p in payloads(audit_stream(fb_settings, inc), "AlertAttached")]
    assert counts == list(range(1, STREAM + 2))
    assert 1 <= appends <= STREAM // 4, f"{appends} audit appends for {STREAM} signals"
