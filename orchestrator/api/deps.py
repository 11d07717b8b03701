"""Typed accessors for what the app holds: settings, event store, database engine, Temporal,
and the alert ingress's per-process parts (admission, rate limiter, write side).

Endpoints depend on these instead of reaching into `request.app.state`, so a missing piece is
one clear 503 instead of an AttributeError, and an API started while Temporal was down
connects once it is back instead of needing a restart. They are coroutines although they do no
I/O: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

import sqlalchemy as sa
from fastapi import Request
from temporalio.client import Client

from orchestrator.alerts.admission import Admission
from orchestrator.alerts.limits import RateLimiter
from orchestrator.alerts.service import Ingest
from orchestrator.api.problems import problem_responses
from orchestrator.audit import EventStore
from orchestrator.errors import Unavailable
from orchestrator.evidence.service import EvidenceReader
from orchestrator.routing.service import RouteTable
from orchestrator.settings import Settings
from orchestrator.suppression.cache import ActiveWindows
from orchestrator.temporal.coalescer import AlertCoalescer

__all__ = [
    "get_alert_admission",
    "get_alert_ingest",
    "get_alert_rate_limiter",
    "get_engine",
    "get_evidence_reader",
    "get_routes",
    "get_settings",
    "get_store",
    "get_suppressions",
    "get_temporal",
    "problem_responses",
]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


async def get_engine(request: Request) -> sa.Engine:
    return (await get_store(request)).engine


async def get_evidence_reader(request: Request) -> EvidenceReader:
    """The evidence store the process that built the app handed it (`create_app(evidence=)`)."""
    reader: EvidenceReader | None = request.app.state.evidence
    if reader is None:
        raise Unavailable("this API process was started without an evidence store")
    return reader


async def get_temporal(request: Request) -> Client:
    """The Temporal client; connects on first need if Temporal was down at start-up."""
    state = request.app.state
    client: Client | None = getattr(state, "temporal", None)
    if client is not None:
        return client
    connector: Callable[[], Awaitable[Client]] | None = getattr(state, "temporal_connect", None)
    if connector is None:
        raise Unavailable("not connected to Temporal")
    async with state.temporal_lock:
        if state.temporal is None:
            state.temporal = await connector()
    connected: Client = state.temporal
    return connected


async def get_alert_admission(request: Request) -> Admission:
    return cast(Admission, request.app.state.alert_admission)


async def get_alert_rate_limiter(request: Request) -> RateLimiter:
    return cast(RateLimiter, request.app.state.alert_rate_limiter)


async def get_routes(request: Request) -> RouteTable:
    """The routes loaded when the app was created (a bad routes file stops the start)."""
    return cast(RouteTable, request.app.state.routes)


async def get_suppressions(request: Request) -> ActiveWindows:
    """This process's view of the suppression windows, shared by every request."""
    return cast(ActiveWindows, request.app.state.suppressions)


async def get_alert_ingest(request: Request) -> Ingest:
    """The alert write side, one per app: grouping only helps if every request of the process
    shares it. Built on first need, as it signals through the Temporal client; the ingress
    asks for it only once a delivery has something to record, so a retry answered from the
    database still answers while Temporal is down."""
    state = request.app.state
    ingest: Ingest | None = state.alert_ingest
    if ingest is None:
        client = await get_temporal(request)
        if state.alert_ingest is None:  # not built by a request that connected meanwhile
            settings = await get_settings(request)
            coalescer = AlertCoalescer(client, settings.task_queue)
            state.alert_ingest = Ingest(await get_store(request), coalescer)
        ingest = state.alert_ingest
    return ingest
