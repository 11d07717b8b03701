"""Checkpoints and the append head get the events' protection on PostgreSQL.

The events table refused UPDATE, DELETE and TRUNCATE since 0001, but the signed checkpoints
could be deleted and the head row moved back, after which a cut tail verified as intact. Now
`audit_checkpoints` is append-only too, and `audit_head` may only move forward (a later
position, or the same position with the same hash) and never be deleted. As for the events, a
database owner can still switch the triggers off: checkpoints kept outside the database
(`firebreak audit verify --checkpoint`) catch what an owner does.

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

CHECKPOINTS_GUARD = """
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
HEAD_GUARD = """
CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.position > OLD.position
            OR (NEW.position = OLD.position AND NEW.hash = OLD.hash)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
TRIGGERS = (
    "CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON"
    " audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only()",
    "CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head"
    " FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHECKPOINTS_GUARD)
    op.execute(HEAD_GUARD)
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in (
        ("audit_checkpoints_no_update_delete", "audit_checkpoints"),
        ("audit_checkpoints_no_truncate", "audit_checkpoints"),
        ("audit_head_forward", "audit_head"),
        ("audit_head_no_truncate", "audit_head"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    op.execute("DROP FUNCTION audit_checkpoints_append_only()")
    op.execute("DROP FUNCTION audit_head_forward_only()")
