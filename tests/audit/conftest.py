"""A migrated, empty event store per test, on SQLite and on PostgreSQL (via `db_url`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Actor, NewEvent
from orchestrator.security.keyring import KeyRing

RESPONDER = Actor(id="alice", role="responder")


def new_event(type: str = "StepStarted", actor: Actor = RESPONDER, **fields: Any) -> NewEvent:
    return NewEvent(
        id=fields.pop("id", str(uuid.uuid4())),
        type=type,
        actor=actor,
        occurred_at=fields.pop("occurred_at", datetime.now(UTC)),
        **fields,
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def signer(tmp_path: Path) -> CheckpointSigner:
    return CheckpointSigner(tmp_path / "keys" / "checkpoint.pem")


@pytest.fixture
def store(engine: sa.Engine, keyring: KeyRing, signer: CheckpointSigner) -> EventStore:
    return EventStore(engine, keyring=keyring, signer=signer)
