"""The all-in-one process behind `firebreak up`: worker and API in one asyncio loop.

Temporal is embedded (a supervised dev server) unless an address was configured explicitly;
either way the worker and API connect as the distributed worker does (`wait_for_temporal`, which
waits for an external Temporal still starting), so there is no code path that exists only here.
Shutdown order on SIGINT/SIGTERM: stop accepting HTTP, drain the worker, then stop the embedded
server.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from activities.factory import build_evidence_reader
from orchestrator.api.app import create_app
from orchestrator.api.serving import server_config
from orchestrator.audit import open_event_store
from orchestrator.errors import Unavailable
from orchestrator.retention import periodic_prune
from orchestrator.runtime.devserver import DevServer, DevServerConfig
from orchestrator.runtime.ports import ensure_port_free
from orchestrator.settings import Settings
from orchestrator.temporal.binaries import find_binary
from orchestrator.temporal.client import wait_for_temporal
from orchestrator.temporal.schedules import ensure_checkpoint_schedule
from orchestrator.temporal.worker import build_worker

API_START_SECONDS = 30.0


@dataclass(frozen=True)
class Running:
    """What is serving, for the banner."""

    api_url: str
    temporal_address: str
    temporal_ui_url: str | None


OnReady = Callable[[Running], Awaitable[None]]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def embedded_temporal(settings: Settings) -> DevServerConfig | None:
    """The dev server to supervise, or None when FIREBREAK_TEMPORAL_ADDRESS was set explicitly."""
    if "temporal_address" in settings.model_fields_set:
        return None
    return DevServerConfig(
        db_file=(settings.data_dir / "temporal.db").resolve(),
        log_file=(settings.data_dir / "temporal.log").resolve(),
        port=settings.temporal_port,
        ui_port=settings.temporal_ui_port,
        namespace=settings.temporal_namespace,
    )


def preflight(settings: Settings, devserver: DevServerConfig | None) -> None:
    """Fail before touching anything when a port `up` needs is taken or `temporal` is missing."""
    ensure_port_free(settings.api_host, settings.api_port, "FIREBREAK_API_PORT")
    if devserver is not None:
        find_binary("temporal")
        ensure_port_free(devserver.host, devserver.port, "FIREBREAK_TEMPORAL_PORT")
        ensure_port_free(devserver.host, devserver.ui_port, "FIREBREAK_TEMPORAL_UI_PORT")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the stack owns SIGINT/SIGTERM and the order in
    which things stop (uvicorn would otherwise re-raise the signal after serving)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve(
    settings: Settings,
    devserver: DevServerConfig | None,
    *,
    on_ready: OnReady,
    until: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or until `until()` returns, for `--exit-after-demo`)."""
    server = DevServer(devserver) if devserver else None
    if server:
        server.start()
        atexit.register(server.stop)
    stop = asyncio.Event()
    try:
        with _stop_on_signals(stop):
            if server:
                await _until_stopped(server.wait_ready(), stop)
            if not stop.is_set():
                watch = server.watch if server else None
                await _run_processes(settings, devserver, stop, on_ready, until, watch)
    finally:
        if server:
            server.stop()
            atexit.unregister(server.stop)


async def _until_stopped(work: Awaitable[Any], stop: asyncio.Event) -> None:
    """Await `work` unless a stop signal comes first (Ctrl-C while the server boots)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    task.result()


async def _run_processes(
    settings: Settings,
    devserver: DevServerConfig | None,
    stop: asyncio.Event,
    on_ready: OnReady,
    until: Callable[[], Awaitable[Any]] | None,
    watch: Callable[[], Awaitable[None]] | None,
) -> None:
    # An external Temporal may still be starting: wait for it as `firebreak worker` does.
    client = await wait_for_temporal(settings, _say, stop)
    if client is None:
        return
    worker = build_worker(client, settings)
    await ensure_checkpoint_schedule(client, settings)
    store = open_event_store(settings)
    app = create_app(
        settings,
        temporal_client=client,
        store=store,
        evidence=build_evidence_reader(settings),
    )
    api = _Server(server_config(app, settings, log_level="warning"))
    async with worker, periodic_prune(settings):
        api_task = asyncio.create_task(api.serve())
        watched: set[asyncio.Future[Any]] = {api_task, asyncio.ensure_future(stop.wait())}
        try:
            await _wait_started(api, api_task)
            running = Running(
                api_url=f"http://{settings.api_host}:{settings.api_port}",
                temporal_address=settings.temporal_address,
                temporal_ui_url=devserver.ui_url if devserver else None,
            )
            await on_ready(running)
            for extra in (until, watch):
                if extra is not None:
                    watched.add(asyncio.ensure_future(extra()))
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in watched - {api_task}:
                task.cancel()
            api.should_exit = True
            await api_task
            store.engine.dispose()


async def _wait_started(api: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + API_START_SECONDS
    while not api.started:
        if task.done():
            task.result()
            raise Unavailable("the API server stopped while starting")
        if loop.time() > deadline:
            raise Unavailable(f"the API server did not start within {API_START_SECONDS:.0f}s")
        await asyncio.sleep(0.05)
