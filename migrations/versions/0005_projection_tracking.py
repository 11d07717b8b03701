"""The projector's read positions get their own word: `projection_checkpoints` becomes
`projection_tracking` ("checkpoints" are the ledger's signed chain heads).

A rename only: every row (each projection's last position) is kept, in both directions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps the primary key's name from the old table; SQLite's is unnamed.
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {old}_pkey TO {new}_pkey")


def upgrade() -> None:
    _rename("projection_checkpoints", "projection_tracking")


def downgrade() -> None:
    _rename("projection_tracking", "projection_checkpoints")
