"""The Temporal worker: the incident workflow, every action activity, audit and playbooks,
and the scheduled ledger checkpoint (its schedule made to match the settings at start).

Action activities are async functions over providers, run in the worker's event loop (no
thread or process per action); `audit.append` and the playbook activities are local.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.audit import AuditActivities
from activities.factory import build_activities
from activities.playbooks import PlaybookActivities
from activities.witnesses import CheckpointActivities, witnesses_from
from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.errors import ConfigError
from orchestrator.forwarding import (
    SinkConfig,
    SinkForwarder,
    forward,
    forwarders_for,
    forwarding_store,
)
from orchestrator.retention import periodic_prune
from orchestrator.settings import Settings
from orchestrator.telemetry.instruments import process_registry
from orchestrator.telemetry.metrics import ExportConfig, MetricsExport, export_config
from orchestrator.temporal.client import wait_for_temporal
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


WORKFLOWS: list[type] = [IncidentWorkflow, LedgerCheckpointWorkflow]
"""Every workflow a worker runs, and so every workflow a recorded history may need to replay."""


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
        workflows=WORKFLOWS,
        activities=[*actions, *own],
        workflow_runner=runner,
        nonsticky_to_sticky_poll_ratio=NEW_INCIDENT_POLL_RATIO,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
    )


async def run_worker(
    settings: Settings,
    announce: Callable[[str], None] = print,
    forward_to: Sequence[SinkConfig] = (),
    detect: bool = False,
) -> None:
    """Run until SIGINT/SIGTERM, then stop polling, give running activities
    `settings.worker_shutdown_seconds` to finish, and return.

    With `forward_to` (`firebreak worker --forward`) the process also streams the ledger to
    those SIEM sinks, as `firebreak audit forward` would, and stops forwarding on the signal.
    With `detect` (`firebreak worker --detect`) it also runs `firebreak detect run --follow`
    over `FIREBREAK_DETECT_INPUTS`; detection that ends by itself (an input it cannot open,
    a token the API refuses) stops the worker and is raised, never left silently off.

    An activity still running past the grace is cancelled; its attempt fails and Temporal
    retries it on another worker, which is safe because every effect is idempotent. Further
    signals during the stop change nothing: the grace is the bound. `announce` gets one line
    when the stop begins.

    An unreachable Temporal is waited for first (`wait_for_temporal`, one line per attempt);
    a signal during that wait returns at once. While it runs, the worker also prunes dead
    shared state (`orchestrator.retention`) every `settings.prune_interval_seconds`.
    """
    # On an unmigrated store every incident would stall on its first audit append: fail here.
    db.require_schema(settings.db_url)
    otlp = export_config()
    forwarders = []
    if forward_to:
        store = forwarding_store(settings, forward_to)
        forwarders = forwarders_for(store, forward_to, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        client = await wait_for_temporal(settings, announce, stop)
        if client is None:
            announce("worker stopping: stopped while waiting for Temporal")
            return
        worker = build_worker(client, settings)
        await ensure_checkpoint_schedule(client, settings)
        with worker_metrics(settings, otlp, announce):
            async with worker, periodic_prune(settings):
                detecting = None
                if detect:
                    # Imported only when asked for: its OTLP input loads the protobuf modules,
                    # which a worker without `--detect` never needs (tests/telemetry).
                    from orchestrator.detection.service import run_detection

                    detecting = asyncio.create_task(
                        run_detection(
                            settings,
                            settings.detect_inputs,
                            follow=True,
                            stop=stop,
                            announce=announce,
                        )
                    )
                    detecting.add_done_callback(lambda _task: stop.set())
                if forwarders:
                    await _forward_until(stop, forwarders, settings, announce)
                else:
                    await stop.wait()
                announce(
                    "worker stopping: polling stopped, running activities have"
                    f" {settings.worker_shutdown_seconds:g}s to finish"
                )
                if detecting is not None:
                    await detecting
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):
                loop.remove_signal_handler(sig)


@contextlib.contextmanager
def worker_metrics(
    settings: Settings, otlp: ExportConfig | None, announce: Callable[[str], None]
) -> Iterator[str | None]:
    """The worker's in-process metrics (it reads no projection: the API serves those) on
    `FIREBREAK_WORKER_METRICS_PORT` if set, and over OTLP if configured, while the block runs.
    Yields the metrics URL, or None when no port is set. The last OTLP export happens after
    the worker has drained, so it counts the final calls."""
    registry = process_registry()
    url = None
    server = None
    if settings.worker_metrics_port is not None:
        try:
            server, thread = start_http_server(
                settings.worker_metrics_port, settings.worker_metrics_host, registry
            )
        except OSError as exc:
            where = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
            raise ConfigError(
                f"FIREBREAK_WORKER_METRICS_PORT: cannot listen on {where} ({exc.strerror})"
            ) from None
        port = server.server_address[1]
        url = f"http://{settings.worker_metrics_host}:{port}/metrics"
        announce(f"worker metrics on {url}")
    exporting = None if otlp is None else MetricsExport(registry, "worker", otlp).start()
    try:
        yield url
    finally:
        if exporting is not None:
            exporting.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
            thread.join()


async def _forward_until(
    stop: asyncio.Event,
    forwarders: Sequence[SinkForwarder],
    settings: Settings,
    announce: Callable[[str], None],
) -> None:
    """Forward beside the worker until `stop`. Sinks failing is retried inside; forwarding
    that ends by itself before the signal (a bug) is raised here, which stops the worker
    loudly instead of leaving it running without forwarding."""
    forwarding = asyncio.create_task(forward(forwarders, settings, stop=stop, announce=announce))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({stopping, forwarding}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    await forwarding
