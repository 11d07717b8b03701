"""Each SIEM sink's durable cursor: the last ledger position it acknowledged, with its totals
and current failure (`orchestrator.forwarding.models`).

Downgrading drops the cursors: forwarding again afterwards starts each sink from the beginning
of the ledger (SIEMs deduplicate by event id).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forwarder_cursors",
        sa.Column("sink", sa.String(200), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("forwarded", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forwarder_cursors")
