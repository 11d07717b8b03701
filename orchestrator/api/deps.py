"""Typed accessors for what the app holds: settings, event store, database engine, Temporal.

Endpoints depend on these instead of reaching into `request.app.state`, so a missing piece is
one clear 503 instead of an AttributeError, and an API started while Temporal was down
connects once it is back instead of needing a restart. They are coroutines although they do no
I/O: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from fastapi import Request
from temporalio.client import Client

from orchestrator.api.problems import problem_responses
from orchestrator.audit import EventStore
from orchestrator.errors import Unavailable
from orchestrator.settings import Settings

__all__ = ["get_engine", "get_settings", "get_store", "get_temporal", "problem_responses"]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


async def get_engine(request: Request) -> sa.Engine:
    return (await get_store(request)).engine


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
