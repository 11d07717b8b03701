"""Fixtures for the API part B tests: a migrated database with a real event store, and the
whole API served by uvicorn over a real worker and Temporal dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
import sqlalchemy as sa
from temporalio.client import Client

from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.audit import EventStore, open_event_store
from orchestrator.domain import Environment, Role
from orchestrator.incidents.projector import IncidentProjector
from orchestrator.principals.service import create_principal
from orchestrator.settings import Settings
from tests.api_b.server import serving
from tests.support.incidents import running_worker


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> EventStore:
    return EventStore(engine)


@pytest.fixture
def projector(engine: sa.Engine, store: EventStore) -> IncidentProjector:
    return IncidentProjector(engine, store, batch_size=3)


@dataclass(frozen=True)
class Tokens:
    ann: str  # responder, prod + dev
    ben: str  # responder, prod
    devon: str  # responder, dev only
    audrey: str  # auditor, every environment
    source: str  # alert source, prod


@pytest.fixture
def tokens(fb_settings: Settings) -> Tokens:
    engine = db.make_engine(fb_settings.db_url)
    try:

        def token(name: str, role: Role, *envs: Environment) -> str:
            return create_principal(engine, name, role, envs)[1]

        return Tokens(
            ann=token("ann", Role.responder, Environment.prod, Environment.dev),
            ben=token("ben", Role.responder, Environment.prod),
            devon=token("devon", Role.responder, Environment.dev),
            audrey=token("audrey", Role.auditor),
            source=token("detector-1", Role.source, Environment.prod),
        )
    finally:
        engine.dispose()


@pytest_asyncio.fixture
async def api(
    dev_client: Client, fb_settings: Settings, tokens: Tokens
) -> AsyncIterator[tuple[str, Tokens]]:
    """The real app under uvicorn, a real worker, Temporal dev server, SQLite event store."""
    app = create_app(fb_settings, temporal_client=dev_client, store=open_event_store(fb_settings))
    async with running_worker(dev_client, fb_settings), serving(app) as url:
        yield url, tokens
