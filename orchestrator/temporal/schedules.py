"""The Temporal Schedule of ledger checkpoints, created or updated by every worker at start.

Idempotent and safe when several workers start at once: create; if it exists (another worker
won), update its interval and task queue to this worker's settings. An interval of 0 deletes
the schedule, so "off" really is off.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("firebreak.schedules")
SCHEDULE_PREFIX = "firebreak-ledger-checkpoint"
UPDATE_ATTEMPTS = 3


def schedule_id(settings: Settings) -> str:
    """One schedule per deployment (its task queue), so deployments sharing a namespace
    each checkpoint their own ledger."""
    return f"{SCHEDULE_PREFIX}-{settings.task_queue}"


def _schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CHECKPOINT_WORKFLOW,
            id=schedule_id(settings),
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


async def ensure_checkpoint_schedule(client: Client, settings: Settings) -> bool:
    """Make the schedule match `settings` (create, update, or delete when the interval is 0).

    A server that refuses (no permission for schedules, say) is logged and answered False: the
    worker still runs incidents, and checkpoints can be made by `firebreak audit checkpoint`."""
    try:
        await _ensure(client, settings)
    except RPCError as exc:
        log.warning(
            "checkpoint schedule %s not set up: %s %s",
            schedule_id(settings),
            exc.status.name,
            exc.message,
        )
        return False
    return True


async def _ensure(client: Client, settings: Settings) -> None:
    handle = client.get_schedule_handle(schedule_id(settings))
    if settings.checkpoint_interval_seconds == 0:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = _schedule(settings)
    try:
        await client.create_schedule(schedule_id(settings), wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        schedule.action = wanted.action
        schedule.spec = wanted.spec
        schedule.policy = wanted.policy
        return ScheduleUpdate(schedule=schedule)

    # Workers updating at once race on the schedule's conflict token: the loser re-reads.
    for attempt in range(UPDATE_ATTEMPTS):
        try:
            await handle.update(update)
            return
        except RPCError:
            if attempt == UPDATE_ATTEMPTS - 1:
                raise
