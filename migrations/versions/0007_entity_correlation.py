"""The entity index of entity correlation and merges (`orchestrator/correlation/models.py`).

Rows are claims with an expiry, rebuilt by the next alerts after a downgrade: dropping the
table loses only the joins of windows still open.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_claims",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("window_seconds", sa.Integer, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_entity_claims_workflow_id", "entity_claims", ["workflow_id"])


def downgrade() -> None:
    op.drop_table("entity_claims")
