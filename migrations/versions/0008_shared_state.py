"""State that every worker and API replica must agree on moves out of the data dirs.

`guard_claims`: the resource guard's claims (one remediation per resource per window across
incidents; `activities/guard.py`), one row per resource, claimed by one upsert so two workers
racing for a resource cannot both win. `effect_records`: the first answer of each provider
effect by operation and idempotency key (`activities/effects.py`), so a retried activity on
any worker answers what the first attempt did and does nothing again. `rate_budgets`: the
ingest rate limit's token bucket per source (`orchestrator/alerts/limits.py`), spent by one
atomic UPDATE per admitted alert, so N API replicas admit the configured rate, not N times it.

The data they replace (JSON files in a worker's data dir, a dict in an API process) was local
and disposable; nothing is carried over, and downgrading drops the tables.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_claims",
        sa.Column("resource", sa.Text, primary_key=True),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "effect_records",
        sa.Column("operation", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("refilled_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_budgets")
    op.drop_table("effect_records")
    op.drop_table("guard_claims")
