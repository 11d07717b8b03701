"""Suppression windows, and the one-row version every API replica reads to know whether its
cached windows are current.

Downgrading drops the windows (their creation and end stay in the ledger).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppression_windows",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("environments", sa.JSON, nullable=False),
        sa.Column("match", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_by", sa.String(200)),
        sa.Column("end_reason", sa.Text),
    )
    op.create_index("ix_suppression_windows_expires_at", "suppression_windows", ["expires_at"])
    state = op.create_table(
        "suppression_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("suppression_state")
    op.drop_table("suppression_windows")
