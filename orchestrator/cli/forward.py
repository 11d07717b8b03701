"""`firebreak audit forward`: stream the ledger to SIEM sinks until SIGINT/SIGTERM, or with
`--once` until every sink has everything appended so far.

Exit codes: 0 done (or stopped by a signal), 1 a sink failed under `--once` (its cursor kept
what it acknowledged: run again), 2 a configuration mistake (a sink URL, a variable not set).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import anyio
import typer

from orchestrator import db
from orchestrator.audit import EventStore
from orchestrator.errors import ConfigError
from orchestrator.forwarding import (
    Cursors,
    SinkConfig,
    forward,
    forwarder_for,
    forwarders_for,
    forwarding_store,
    parse_sinks,
)
from orchestrator.forwarding.models import Rejected, SinkError
from orchestrator.runtime import loop
from orchestrator.settings import Settings, load_settings

STATUS_EVERY_SECONDS = 30.0


def sink_configs(
    settings: Settings,
    urls: list[str] | None,
    hint: str = "give --sink URL or set FIREBREAK_FORWARD_SINKS",
) -> list[SinkConfig]:
    """The sinks of `--sink` (repeatable), else FIREBREAK_FORWARD_SINKS; none is a mistake."""
    configs = parse_sinks(urls or settings.forward_sinks)
    if not configs:
        raise ConfigError(f"no sink: {hint}")
    return configs


def status_lines(store: EventStore, names: list[str]) -> list[str]:
    head, _ = store.head()
    lines = []
    for status in Cursors(store.engine).statuses(head):
        if status.sink not in names:
            continue
        line = (
            f"{status.sink}: at position {status.position}, lag {status.lag},"
            f" forwarded {status.forwarded}"
        )
        if status.last_error:
            line += f", failing: {status.last_error}"
        lines.append(line)
    return lines


def forward_command(
    sink: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            help="Sink URL (syslog+tls://, hec+https://, elasticsearch+https://); repeatable."
            " Default: FIREBREAK_FORWARD_SINKS.",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Forward what is there, then exit (1 if a sink fails).")
    ] = False,
) -> None:
    """Stream ledger events to SIEM sinks, each from its own durable cursor (at least once,
    every record carrying the event's id and position)."""
    settings = load_settings()
    configs = sink_configs(settings, sink)
    db.require_schema(settings.db_url)
    store = forwarding_store(settings, configs)
    names = [config.name for config in configs]
    if once:
        raise typer.Exit(loop.run(_once(store, settings, configs)))
    loop.run(_follow(store, settings, configs))
    for line in status_lines(store, names):
        typer.echo(line, err=True)
    typer.echo("forwarder stopped", err=True)


async def _once(store: EventStore, settings: Settings, configs: list[SinkConfig]) -> int:
    failed = 0
    for config in configs:
        forwarder = forwarder_for(store, config, settings)
        try:
            count = await forwarder.catch_up()
            position = await anyio.to_thread.run_sync(forwarder.cursors.position, config.name)
            typer.echo(f"{config.name}: forwarded {count}, at position {position}", err=True)
        except (SinkError, Rejected) as exc:
            await anyio.to_thread.run_sync(forwarder.cursors.failed, config.name, exc.detail)
            typer.echo(f"firebreak: forwarding to {exc.detail}", err=True)
            failed += 1
        finally:
            await forwarder.sink.close()
    return 1 if failed else 0


async def _follow(store: EventStore, settings: Settings, configs: list[SinkConfig]) -> None:
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        running.add_signal_handler(sig, stop.set)
    names = [config.name for config in configs]
    forwarders = forwarders_for(store, configs, settings)

    async def report() -> None:
        while not stop.is_set():
            with anyio.move_on_after(STATUS_EVERY_SECONDS):
                await stop.wait()
            if not stop.is_set():
                for line in await anyio.to_thread.run_sync(status_lines, store, names):
                    typer.echo(line, err=True)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(report)
            await forward(forwarders, settings, stop=stop, announce=_announce)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):
                running.remove_signal_handler(sig)


def _announce(line: str) -> None:
    typer.echo(line, err=True)
