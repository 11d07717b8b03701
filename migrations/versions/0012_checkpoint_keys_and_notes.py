"""Checkpoint signing keys get ids and a table; checkpoints keep their C2SP signed note.

`audit_signing_keys`: every public key that has signed checkpoints (its note key name, the
4-byte key hash as 8 hex digits, the verifier key text, the SHA-256 fingerprint of the raw
key that pre-note checkpoints name), when it was first used and when it was retired, so
auditors can list them and verification can say which key signed what. The table is a
directory, never a trust anchor: `audit verify` checks signatures against keys the auditor
holds.

`audit_checkpoints` gains `root_hash` (the RFC 9162 Merkle root at the checkpoint's position,
hex) and `note` (the signed note exactly as published to witnesses). Both stay null on the
checkpoints made before, which keep verifying by their JSON signature.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_signing_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(8), nullable=False),
        sa.Column("verifier_key", sa.String(300), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("name", "key_hash", name="uq_audit_signing_keys_name_hash"),
    )
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.add_column(sa.Column("root_hash", sa.String(64)))
        batch.add_column(sa.Column("note", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("note")
        batch.drop_column("root_hash")
    op.drop_table("audit_signing_keys")
