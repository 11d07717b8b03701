"""Indexes on the time columns `orchestrator.retention` prunes by.

Each prune batch selects up to a thousand dead rows by `expires_at`, `claimed_at`,
`recorded_at` or `received_at`; without an index every batch, and the last one that finds no
more, would scan the whole table, which after months of webhook deliveries is millions of rows
every hour. `console_sessions.expires_at` has had its index since `0004`.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = [
    ("entity_claims", "expires_at"),
    ("guard_claims", "claimed_at"),
    ("effect_records", "recorded_at"),
    ("webhook_deliveries", "received_at"),
]


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table)
