"""The incidents projection follows the lifecycle: acknowledged and resolved times, reopenings,
the SLA an incident opened with and the legs it missed (one row each in
`incident_sla_breaches`, so metrics count them in SQL).

Derived data only: existing rows get empty values, which is what incidents opened before the
lifecycle have (`IncidentProjector.rebuild` recomputes every row from the log).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("acknowledged_at", sa.DateTime(timezone=True), {}),
    ("acknowledged_by", sa.String(200), {}),
    ("resolved_at", sa.DateTime(timezone=True), {}),
    ("time_to_acknowledge_seconds", sa.Float, {}),
    ("time_to_resolve_seconds", sa.Float, {}),
    ("reopened_count", sa.Integer, {"nullable": False, "server_default": "0"}),
    ("sla", sa.JSON, {}),
    ("sla_breached", sa.JSON, {"nullable": False, "server_default": "[]"}),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name, type_, options in COLUMNS:
            batch.add_column(sa.Column(name, type_, **options))
    op.create_table(
        "incident_sla_breaches",
        sa.Column("incident_id", sa.String(128), primary_key=True),
        sa.Column("leg", sa.String(16), primary_key=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_sla_breaches")
    with op.batch_alter_table("incidents") as batch:
        for name, _, _ in reversed(COLUMNS):
            batch.drop_column(name)
