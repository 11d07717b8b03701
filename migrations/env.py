"""Alembic environment: runs every revision on the connection `orchestrator.db` hands over.

Kept generic on purpose (no target metadata): revisions spell their DDL with ``op.*`` so the
same files run on SQLite and PostgreSQL, and several teams can chain revisions here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orchestrator.db import make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported; run `firebreak db upgrade`"
    )
run_migrations_online()
