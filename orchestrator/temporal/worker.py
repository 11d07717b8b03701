"""The Temporal worker: the incident workflow, every action activity, audit and playbooks,
and the scheduled ledger checkpoint (its schedule made to match the settings at start).

Action activities are async functions over providers, run in the worker's event loop (no
thread or process per action); `audit.append` and the playbook activities are local.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.audit import AuditActivities
from activities.factory import build_activities
from activities.playbooks import PlaybookActivities
from activities.witnesses import CheckpointActivities, witnesses_from
from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.settings import Settings
from orchestrator.temporal.client import connect
from orchestrator.temporal.logs import quiet_expected_failures
from orchestrator.temporal.runner import ContextFreeRunner, ignores_context
from orchestrator.temporal.schedules import ensure_checkpoint_schedule
from workflows.checkpoints import LedgerCheckpointWorkflow
from workflows.contracts import DEFAULT_HISTORY_LIMIT
from workflows.incident import IncidentWorkflow

NEW_INCIDENT_POLL_RATIO = 1.0
"""Pollers on the task queue (where every new incident's first workflow task waits) per poller
on this worker's sticky queue (where tasks of incidents it already runs go). The SDK's 0.2
starves new incidents behind a busy sticky queue: with 100 duplicate alerts/s on open
incidents, a new incident's first task waited up to 6 s in the queue (`docs/benchmarks.md`)."""


def build_worker(
    client: Client,
    settings: Settings,
    *,
    activities: list[Callable[..., Any]] | None = None,
    history_limit: int = DEFAULT_HISTORY_LIMIT,
) -> Worker:
    """A worker on `settings.task_queue`. Tests replace the action `activities` and lower the
    `history_limit` past which an incident continues as new."""
    quiet_expected_failures()
    store = open_event_store(settings)
    actions = build_activities(settings, store.engine) if activities is None else activities
    playbooks = PlaybookActivities(settings, history_limit)
    own: list[Callable[..., Any]] = [
        AuditActivities(store).append,
        CheckpointActivities(store, witnesses_from(settings)).checkpoint,
        playbooks.resolve,
        playbooks.assign,
    ]
    runner: WorkflowRunner = (
        ContextFreeRunner() if ignores_context(client.data_converter) else SandboxedWorkflowRunner()
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[IncidentWorkflow, LedgerCheckpointWorkflow],
        activities=[*actions, *own],
        workflow_runner=runner,
        nonsticky_to_sticky_poll_ratio=NEW_INCIDENT_POLL_RATIO,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
    )


async def run_worker(settings: Settings, announce: Callable[[str], None] = print) -> None:
    """Run until SIGINT/SIGTERM, then stop polling, give running activities
    `settings.worker_shutdown_seconds` to finish, and return.

    An activity still running past the grace is cancelled; its attempt fails and Temporal
    retries it on another worker, which is safe because every effect is idempotent. Further
    signals during the stop change nothing: the grace is the bound. `announce` gets one line
    when the stop begins.
    """
    # On an unmigrated store every incident would stall on its first audit append: fail here.
    db.require_schema(settings.db_url)
    client = await connect(settings)
    worker = build_worker(client, settings)
    await ensure_checkpoint_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()
        announce(
            "worker stopping: polling stopped, running activities have"
            f" {settings.worker_shutdown_seconds:g}s to finish"
        )
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):
            loop.remove_signal_handler(sig)
