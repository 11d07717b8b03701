"""Incidents projection: incidents, their decisions, and the projection's checkpoint.

Derived data only (rebuilt from the audit log), so downgrading loses nothing that matters.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("opened_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(100)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(32)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("playbook", sa.String(200)),
        sa.Column("correlation_key", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(64)),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("resolved_alert_count", sa.Integer, nullable=False),
        sa.Column("time_to_contain_seconds", sa.Float),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("status", "type", "severity", "environment"):
        op.create_index(f"ix_incidents_{column}", "incidents", [column])
    op.create_table(
        "incident_decisions",
        sa.Column("decision_id", sa.String(128), primary_key=True),
        sa.Column("incident_id", sa.String(128), nullable=False),
        sa.Column("step_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Float),
    )
    op.create_index("ix_incident_decisions_incident_id", "incident_decisions", ["incident_id"])
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("projection_checkpoints")
    op.drop_table("incident_decisions")
    op.drop_table("incidents")
