"""The ledger's indexed identifiers compare as bytes (``COLLATE "C"``) on PostgreSQL.

`stream_id`, `event_id`, `type` and `actor_id` are identifiers: they are only ever compared
for equality (a stream's versions, an idempotent append's id, a query's filter), never sorted
for a reader. Under the database's default collation every comparison inside their four
indexes goes through the C library's `strcoll` on copies of both strings; with ``"C"`` it is
one `memcmp`. Index maintenance is most of `audit_append`'s server time, and every writer
waits for it under the head lock (docs/benchmarks.md, "Audit store"). Equality is the same in
both: PostgreSQL's libc collations are deterministic, so two identifiers are equal exactly when
their bytes are. Only an ``ORDER BY`` on one of these columns could change, and none is made.

The column types stay `varchar(n)`: the change rebuilds the columns' indexes (and takes the
table's lock while it does, seconds per million events) but rewrites no row, so no hash
changes. SQLite's default comparison is already bytewise.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# (column, its varchar length in 0001)
IDENTIFIERS = (("stream_id", 200), ("event_id", 64), ("type", 100), ("actor_id", 200))


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate("pg_catalog.default")


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE audit_events "
        + ", ".join(
            f"ALTER COLUMN {column} TYPE varchar({length}) COLLATE {collation}"
            for column, length in IDENTIFIERS
        )
    )
