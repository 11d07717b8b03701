"""The checkpoint schedule on a real Temporal dev server: workers starting together create it
once, a run checkpoints the ledger and publishes the note to the witness, a changed interval
updates it, and an interval of 0 removes it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleIntervalSpec
from temporalio.service import RPCError, RPCStatusCode

from activities.providers.local.lab import LabInfo
from orchestrator.audit import checkpoint_from_note, open_event_store
from orchestrator.settings import Settings
from orchestrator.temporal.schedules import ensure_checkpoint_schedule, schedule_id
from orchestrator.temporal.worker import build_worker
from tests.support.events import new_event
from tests.support.incidents import eventually, lab_settings


@pytest.fixture
def fb_settings(lab: LabInfo, tmp_path: Path) -> Settings:
    return lab_settings(
        lab, checkpoint_interval_seconds=3600, witnesses=[f"file://{tmp_path / 'witness'}"]
    )


async def test_the_schedule_checkpoints_and_publishes(
    dev_client: Client, fb_settings: Settings, tmp_path: Path
) -> None:
    store = open_event_store(fb_settings)
    for _ in range(3):
        store.append("inc-1", [new_event()])
    # Three workers starting at once: one creates the schedule, the others update it.
    made = [ensure_checkpoint_schedule(dev_client, fb_settings) for _ in range(3)]
    assert await asyncio.gather(*made) == [True, True, True]
    handle = dev_client.get_schedule_handle(schedule_id(fb_settings))
    described = await handle.describe()
    assert described.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(hours=1))]

    latest = tmp_path / "witness" / "checkpoint"
    async with build_worker(dev_client, fb_settings):
        await handle.trigger()

        async def published() -> int | None:
            return checkpoint_from_note(latest.read_text()).position if latest.exists() else None

        assert await eventually(published, timeout=60) == 3
        store.append("inc-1", [new_event()])
        await handle.trigger()

        async def moved() -> bool:
            return await published() == 4

        await eventually(moved, timeout=60)
    stored = store.checkpoints()
    assert [p.position for p in stored] == [4, 3]
    assert stored[0].note == latest.read_text()
    assert store.verify(kept=[checkpoint_from_note(latest.read_text())]).ok

    faster = fb_settings.model_copy(update={"checkpoint_interval_seconds": 60})
    await ensure_checkpoint_schedule(dev_client, faster)
    spec = (await handle.describe()).schedule.spec
    assert spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=1))]

    off = fb_settings.model_copy(update={"checkpoint_interval_seconds": 0})
    await ensure_checkpoint_schedule(dev_client, off)
    await ensure_checkpoint_schedule(dev_client, off)  # already off: still fine
    with pytest.raises(RPCError) as info:
        await handle.describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND
    store.engine.dispose()


async def test_a_server_that_refuses_schedules_is_logged_not_fatal(
    dev_client: Client, fb_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = Client(**{**dev_client.config(), "namespace": "no-such-namespace"})
    with caplog.at_level(logging.WARNING, "firebreak.schedules"):
        assert await ensure_checkpoint_schedule(elsewhere, fb_settings) is False
    assert f"checkpoint schedule {schedule_id(fb_settings)} not set up: NOT_FOUND" in caplog.text
