"""`firebreak worker`: run the Temporal worker for incidents until SIGINT/SIGTERM."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.forward import sink_configs
from orchestrator.db import require_schema
from orchestrator.errors import ConfigError
from orchestrator.runtime import loop
from orchestrator.settings import load_settings
from orchestrator.telemetry import tracing
from orchestrator.temporal.worker import run_worker


def worker(
    forward: Annotated[
        bool,
        typer.Option(
            "--forward",
            help="Also stream the ledger to the SIEM sinks of FIREBREAK_FORWARD_SINKS"
            " (as `firebreak audit forward` does).",
        ),
    ] = False,
    detect: Annotated[
        bool,
        typer.Option(
            "--detect",
            help="Also run detection over FIREBREAK_DETECT_INPUTS (as `firebreak detect run"
            " --follow` does), raising alerts as FIREBREAK_DETECT_TOKEN's source.",
        ),
    ] = False,
) -> None:
    """Serve the incident workflow and every activity on FIREBREAK_TASK_QUEUE until
    SIGINT/SIGTERM, then let running activities finish (up to FIREBREAK_WORKER_SHUTDOWN_SECONDS)
    and exit 0."""
    settings = load_settings()
    sinks = sink_configs(settings, None, "set FIREBREAK_FORWARD_SINKS") if forward else []
    if detect and not settings.detect_inputs:
        raise ConfigError("--detect: set FIREBREAK_DETECT_INPUTS to a JSON list of --input specs")
    if detect and settings.detect_token is None:
        raise ConfigError("--detect: set FIREBREAK_DETECT_TOKEN to a source principal's token")
    require_schema(settings.db_url)
    typer.echo(
        f"worker on {settings.temporal_address} namespace {settings.temporal_namespace}"
        f" task queue {settings.task_queue}",
        err=True,
    )
    with tracing("firebreak-worker"):
        loop.run(run_worker(settings, announce=_announce, forward_to=sinks, detect=detect))
    typer.echo("worker stopped", err=True)


def _announce(line: str) -> None:
    typer.echo(line, err=True)
