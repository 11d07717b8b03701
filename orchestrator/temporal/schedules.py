"""The Temporal Schedule of ledger checkpoints, created or updated by every worker at start.

Idempotent and safe when several workers start at once: create; if it exists (another worker
won), update its interval and task queue to this worker's settings. An interval of 0 deletes
the schedule, so "off" really is off.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from orchestrator.settings import Settings
from workflows.checkpoints import CHECKPOINT_WORKFLOW

SCHEDULE_ID = "firebreak-ledger-checkpoint"


def _schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CHECKPOINT_WORKFLOW,
            id=f"{SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.checkpoint_interval_seconds))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_checkpoint_schedule(client: Client, settings: Settings) -> None:
    """Make the schedule match `settings` (create, update, or delete when the interval is 0)."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if settings.checkpoint_interval_seconds == 0:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = _schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        schedule.action = wanted.action
        schedule.spec = wanted.spec
        schedule.policy = wanted.policy
        return ScheduleUpdate(schedule=schedule)

    await handle.update(update)
