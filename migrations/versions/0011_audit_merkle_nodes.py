"""The audit log's Merkle tree: the hash of every perfect subtree of its events.

A row ``(level, idx, hash)`` is the RFC 9162 hash of the ``2**level`` events at positions
``idx * 2**level + 1`` to ``(idx + 1) * 2**level`` (level 0: one event's leaf hash), so any
root or proof on any size reads about 2·log2(size) rows by primary key. The rows are derived
from the events and written when a root or proof is first asked for (never on the append
path); every value is deterministic, so concurrent writers insert-or-ignore the same rows.
Dropping the table loses nothing: it is rebuilt from the events.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_merkle_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_merkle_nodes")
