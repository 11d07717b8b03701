"""Group commit of alerts into workflows: a burst for one incident travels in few signals,
every alert is attached exactly once, and a failed send fails every request waiting on it."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.errors import Unavailable
from orchestrator.settings import Settings
from orchestrator.temporal.coalescer import AlertCoalescer
from orchestrator.temporal.incidents import describe
from tests.support.incidents import eventually, make_alert, running_worker

BURST = 80


async def test_a_burst_for_one_incident_travels_in_few_signals(
    dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    coalescer = AlertCoalescer(dev_client, fb_settings.task_queue)
    first = make_alert(lab, "model_extraction", Environment.dev)
    burst = [first.model_copy(update={"id": f"{first.id}-{i}"}) for i in range(BURST)]
    other = make_alert(lab, "prompt_injection", Environment.dev)
    async with running_worker(dev_client, fb_settings):
        results = await asyncio.gather(*(coalescer.submit(a) for a in [*burst, other]))
        *mine, theirs = results
        assert len({r.incident_id for r in mine}) == 1
        assert theirs.incident_id != mine[0].incident_id, "another key, another incident"
        assert sum(r.opened for r in mine) == 1, "exactly one alert opened the incident"

        async def all_attached() -> bool:
            return (await describe(dev_client, mine[0].incident_id)).alert_count == BURST

        await eventually(all_attached)
    history = await dev_client.get_workflow_handle(first.workflow_id).fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert 1 <= len(signals) < BURST // 4, f"{len(signals)} signals for {BURST} alerts"


async def test_a_failed_send_fails_every_request_waiting_on_it(
    dev_client: Client, lab: LabInfo
) -> None:
    coalescer = AlertCoalescer(dev_client, task_queue="")  # the server refuses an empty queue
    first = make_alert(lab, "model_extraction", Environment.dev)
    burst = [first.model_copy(update={"id": f"{first.id}-{i}"}) for i in range(5)]
    outcomes = await asyncio.gather(*(coalescer.submit(a) for a in burst), return_exceptions=True)
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    with pytest.raises(Unavailable):
        await coalescer.submit(first)
