"""The auditors' query indexes leave the append path: event ids are claimed before the head
lock, and the type, actor, time and id lookups live in a derived table extended by readers.

Every writer waits for whatever an append does under the head lock, and on PostgreSQL most of
that was index maintenance: six B-tree leaves per event (position, stream and version, event
id, type, actor, occurred_at) where a plain event store keeps two (docs/benchmarks.md, "where
the 4-writer batch-of-100 cell's WAL goes"). Now:

- `audit_event_ids` (event id, primary key) is inserted first in the append's transaction,
  before the head lock, in one id order: concurrent appends check uniqueness in parallel and
  cannot deadlock on each other's ids, and a repeated id still fails the whole append (the
  caller then looks the ids up, as before).
- `audit_event_index` (position, event id, type, actor, occurred_at) holds the query indexes.
  It is derived from `audit_events` like the Merkle nodes (0011): always a prefix of the log,
  extended by whoever reads through it (`orchestrator.audit.event_index`), never by an append.
- `audit_events` keeps its primary key and `(stream_id, version)`: the two indexes the append
  itself needs.

What is stored and hashed is unchanged. On PostgreSQL both new tables are append-only like the
events (a deleted index row would hide an event from filtered queries; a deleted id claim
would let the id be used again).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

QUERY_INDEXES = (
    ("ix_audit_events_type_position", ["type", "position"]),
    ("ix_audit_events_actor_position", ["actor_id", "position"]),
    ("ix_audit_events_occurred_at", ["occurred_at"]),
)
LOOKUP_INDEXES = (
    ("ix_audit_event_index_event_id", ["event_id"]),
    ("ix_audit_event_index_type_position", ["type", "position"]),
    ("ix_audit_event_index_actor_position", ["actor_id", "position"]),
    ("ix_audit_event_index_occurred_at", ["occurred_at"]),
)
LOCK_HEAD = "    SELECT h.position, h.hash INTO head_position, head_hash\n"
CLAIM_IDS = """    -- Claimed before the head lock, so concurrent appends check ids in parallel; in
    -- one order (bytes), so two appends that share ids cannot deadlock on each other.
    INSERT INTO audit_event_ids (event_id)
        SELECT u.id FROM unnest(p_event_ids) AS u(id) ORDER BY u.id COLLATE "C";
"""
GUARD = """
CREATE FUNCTION audit_derived_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
GUARDED = ("audit_event_ids", "audit_event_index")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    collation = "C" if postgres else None
    op.create_table(
        "audit_event_ids",
        sa.Column("event_id", sa.String(64, collation=collation), primary_key=True),
    )
    op.create_table(
        "audit_event_index",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64, collation=collation), nullable=False),
        sa.Column("type", sa.String(100, collation=collation), nullable=False),
        sa.Column("actor_id", sa.String(200, collation=collation), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute("INSERT INTO audit_event_ids (event_id) SELECT event_id FROM audit_events")
    op.execute(
        "INSERT INTO audit_event_index (position, event_id, type, actor_id, occurred_at)"
        " SELECT position, event_id, type, actor_id, occurred_at FROM audit_events"
    )
    for name, columns in LOOKUP_INDEXES:
        op.create_index(name, "audit_event_index", columns)
    for name, _ in QUERY_INDEXES:
        op.drop_index(name, "audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_event_id", type_="unique")
    if postgres:
        op.execute(GUARD)
        for table in GUARDED:
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION audit_derived_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION audit_derived_append_only()"
            )
        op.execute(append_function())


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_revision_0017().APPEND.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {table}_no_update_delete ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION audit_derived_append_only()")
    with op.batch_alter_table("audit_events") as batch:
        batch.create_unique_constraint("uq_audit_events_event_id", ["event_id"])
    for name, columns in QUERY_INDEXES:
        op.create_index(name, "audit_events", columns)
    op.drop_table("audit_event_index")
    op.drop_table("audit_event_ids")


def append_function() -> str:
    """0017's `audit_append`, claiming the event ids before it takes the head lock."""
    text = _revision_0017().APPEND
    if text.count(LOCK_HEAD) != 1:
        raise RuntimeError("0017's audit_append no longer has one head lock to claim ids before")
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        LOCK_HEAD, CLAIM_IDS + LOCK_HEAD, 1
    )


def _revision_0017() -> ModuleType:
    """Migration 0017's module, whose `APPEND` is the function this one extends."""
    path = Path(__file__).with_name("0017_audit_append_encoded.py")
    spec = importlib.util.spec_from_file_location("firebreak_migration_0017", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
