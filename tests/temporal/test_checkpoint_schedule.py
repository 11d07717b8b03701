"""The checkpoint schedule on a real Temporal dev server: workers starting together create it
once, a run checkpoints the ledger and publishes the note to the witness, a changed interval
updates it, and an interval of 0 removes it. `/readyz` says what the last run left the
witnesses in: failing while a witness refuses, ok once the retry reached it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, ScheduleIntervalSpec
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.providers.local.lab import LabInfo
from activities.witnesses import CheckpointActivities, witnesses_from
from orchestrator.api.app import create_app
from orchestrator.audit import checkpoint_from_note, open_event_store
from orchestrator.settings import Settings
from orchestrator.temporal.schedules import ensure_checkpoint_schedule, schedule_id
from orchestrator.temporal.worker import build_worker
from tests.support.events import new_event
from tests.support.incidents import eventually, lab_settings
from tests.support.providers import Loopback
from workflows.checkpoints import CHECKPOINT_WORKFLOW
from workflows.contracts import CHECKPOINT_LEDGER, CheckpointOutcome


@workflow.defn(name=CHECKPOINT_WORKFLOW)
class CheckpointOnce:
    """The scheduled checkpoint with one attempt instead of five: Temporal gives up on a
    failing witness at once rather than after a minute and a quarter of retries."""

    @workflow.run
    async def run(self) -> CheckpointOutcome:
        outcome: CheckpointOutcome = await workflow.execute_activity(
            CHECKPOINT_LEDGER,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
            result_type=CheckpointOutcome,
        )
        return outcome


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

        async def idle() -> bool:
            return not (await handle.describe()).info.running_actions

        # The schedule skips a trigger while a run is open (overlap SKIP), and the note is
        # written before the run closes: the next trigger waits for the run's end.
        await eventually(idle, timeout=60)
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


async def test_readyz_says_degraded_while_a_witness_fails_its_last_publish(
    dev_client: Client, fb_settings: Settings, loopback: Loopback
) -> None:
    """Read from Temporal, where the run's outcome is, so every API replica sees it whichever
    worker published; a failing witness degrades readiness and never fails it."""
    answers = {"status": 503}
    loopback.handler = lambda r: (answers["status"], {}, b"")
    witness = loopback.url.replace("http://", "http://w:s3cr3t@") + "/add-checkpoint"
    settings = fb_settings.model_copy(update={"witnesses": [*fb_settings.witnesses, witness]})
    store = open_event_store(settings)
    app = create_app(settings, temporal_client=dev_client, store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as http:

        async def witnesses() -> dict[str, str]:
            body = (await http.get("/readyz")).json()
            return {"status": body["status"], **body["checks"]["witnesses"]}

        assert await witnesses() == {
            "status": "degraded",  # no worker polls yet either
            "state": "none",
            "detail": f"no checkpoint schedule {schedule_id(settings)}",
        }
        store.append("inc-1", [new_event()])
        assert await ensure_checkpoint_schedule(dev_client, settings)
        handle = dev_client.get_schedule_handle(schedule_id(settings))
        async with build_worker(dev_client, settings):
            await handle.trigger()

            async def failing() -> dict[str, str] | None:
                found = await witnesses()
                return found if found["state"] == "failing" else None

            seen = await eventually(failing, timeout=60)
            assert seen["status"] == "degraded"
            assert seen["detail"] == (
                f"checkpoint at 1 stored; not published to: {loopback.url}/add-checkpoint"
                " (retrying)"
            )
            answers["status"] = 202  # the witness is back: the activity's retry reaches it

            async def reached() -> dict[str, str] | None:
                found = await witnesses()
                return found if found["state"] == "ok" else None

            ok = await eventually(reached, timeout=60)
            assert ok["status"] == "ready"
            both = f"{settings.witnesses[0]}, {loopback.url}/add-checkpoint"
            assert ok["detail"] == f"checkpoint at 1 published to {both}"
        await handle.delete()
    assert "s3cr3t" not in str(seen) + str(ok)
    store.engine.dispose()


async def test_readyz_names_the_witness_of_a_run_temporal_gave_up_on(
    dev_client: Client, fb_settings: Settings, loopback: Loopback
) -> None:
    loopback.handler = lambda r: (500, {}, b"")
    settings = fb_settings.model_copy(update={"witnesses": [loopback.url]})
    store = open_event_store(settings)
    store.append("inc-1", [new_event()])
    app = create_app(settings, temporal_client=dev_client, store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    assert await ensure_checkpoint_schedule(dev_client, settings)
    handle = dev_client.get_schedule_handle(schedule_id(settings))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as http,
        Worker(
            dev_client,
            task_queue=settings.task_queue,
            workflows=[CheckpointOnce],
            activities=[CheckpointActivities(store, witnesses_from(settings)).checkpoint],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ),
    ):
        await handle.trigger()

        async def failed() -> dict[str, str] | None:
            check: dict[str, str] = (await http.get("/readyz")).json()["checks"]["witnesses"]
            return check if check["state"] == "failing" else None

        check = await eventually(failed, timeout=60)
        assert check["detail"] == f"checkpoint at 1 stored; not published to: {loopback.url}"
        assert len(loopback.requests) == 1, "one attempt: the run failed, not retrying"
    await handle.delete()
    store.engine.dispose()
