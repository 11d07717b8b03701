"""Database fixtures: every store test runs on SQLite and on PostgreSQL, each in its own database.

PostgreSQL is required: if it is not reachable the test fails (never skips), so CI cannot go
green without it. Override the server with FIREBREAK_TEST_PG_URL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from orchestrator import db

PG_ADMIN_URL = os.environ.get(
    "FIREBREAK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_pg_database() -> str:
    """Create a fresh, uniquely named database and return its SQLAlchemy URL."""
    name = f"fbtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'firebreak.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'firebreak.db'}"
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "firebreak.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_sqlite_url(_migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite store at the head revision: a copy of one migrated once per session (for
    suites that need the activities' tables in every test, not the migrations themselves)."""
    path = tmp_path / "migrated.db"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite:///{path}"
