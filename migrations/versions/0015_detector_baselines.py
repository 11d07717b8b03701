"""Detector baselines: what `firebreak detect` learned per detector and subject (a caller, an
API key, a model), so baselines survive restarts and are shared by replicas
(`orchestrator.detection.store`).

Downgrading drops the table: detectors start learning again (warm-up limits apply meanwhile).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detector_baselines",
        sa.Column("detector", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(500), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("detector_baselines")
