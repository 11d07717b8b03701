"""A migrated, empty event store per test, on SQLite and on PostgreSQL (via `db_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.db import make_engine, upgrade
from orchestrator.security.keyring import KeyRing


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
