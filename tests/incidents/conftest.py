"""Fixtures for the projection tests: a migrated database with a real event store, and the
projector that folds it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from orchestrator import db
from orchestrator.audit import EventStore
from orchestrator.incidents.projector import IncidentProjector


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
