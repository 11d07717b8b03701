"""`audit_append` is given each event's encoded fields and does under the head lock only what
needs it: positions, versions, the chain's SHA-256 and the insert.

0013's function encoded every event in SQL (``to_json`` of seven fields, ``to_char`` of two
timestamps, a dozen concatenations) and ranked events with several array queries: about
three fifths of its server time for a single-event append went there, and on two cores
that time is what a writer waits for (docs/benchmarks.md, "Audit store"). Now the client
sends `chain.event_fields_text` of each event (the same encoder the Python append and
verification use, so there is one) and the function adds the three parts only the lock
knows (``["firebreak.audit.event.v1",<position>,<stream id>,<version>,`` … ``,"<prev>"]``),
with one loop over the items instead of four queries. What is stored and hashed is
unchanged (docs/audit-ledger.md); verification re-checks every hash from the columns, so
a client whose encoded text disagreed with its columns would be named at that position.

The four SQL encoding functions of 0013 go: nothing calls them.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Item i is `p_counts[i]` events of stream `p_streams[i]`, checked against `p_expected[i]`
# (null: no check); the event arrays hold every item's events one after the other, and
# `p_encoded[n]` is event n's `chain.event_fields_text`. Returns the position of the first
# event, the rest following it, or null, writing nothing, when an expected version does not
# hold. A repeated event id fails on the unique index (the caller then looks the ids up); the
# whole call is one transaction either way.
APPEND = """
CREATE FUNCTION audit_append(
    p_recorded_at timestamptz, p_streams text[], p_expected integer[], p_counts integer[],
    p_event_ids text[], p_types text[], p_actor_ids text[], p_actor_roles text[],
    p_occurred_at timestamptz[], p_payloads text[], p_encrypted_fields text[], p_key_ids text[],
    p_encoded text[]
) RETURNS bigint LANGUAGE plpgsql
-- Its statements' plans are the same for every call: planning them per call (a custom plan)
-- cost more server time than the rest of a single-event append (0013's measurement).
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    total integer := coalesce(array_length(p_event_ids, 1), 0);
    items integer := coalesce(array_length(p_streams, 1), 0);
    counted integer := 0;
    head_position bigint;
    head_hash text;
    first_hash text;
    version integer;
    known text[];
    versions integer[];
    k integer;
    n integer := 0;
    stream_json text;
    ev_streams text[] := '{}';
    ev_versions integer[] := '{}';
    hashes text[] := '{}';
BEGIN
    FOR i IN 1 .. items LOOP
        counted := counted + p_counts[i];
    END LOOP;
    IF counted IS DISTINCT FROM total OR coalesce(array_length(p_encoded, 1), 0) <> total THEN
        RAISE EXCEPTION 'audit_append: % events given, the counts say %, % encoded',
            total, counted, coalesce(array_length(p_encoded, 1), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT h.position, h.hash INTO head_position, head_hash
        FROM audit_head h WHERE h.id = 1 FOR UPDATE;
    first_hash := head_hash;
    -- The streams' versions are read under the lock, so every committed append is seen.
    IF items = 1 THEN
        -- One stream (every `append`): versions and the stream follow from the ordinal.
        SELECT coalesce(max(e.version), 0) INTO version
            FROM audit_events e WHERE e.stream_id = p_streams[1];
        IF p_expected[1] IS NOT NULL AND p_expected[1] <> version THEN
            RETURN NULL;
        END IF;
        IF total = 0 THEN
            RETURN head_position + 1;
        END IF;
        stream_json := to_json(p_streams[1])::text;
        FOR j IN 1 .. total LOOP
            head_hash := encode(sha256(convert_to(
                '["firebreak.audit.event.v1",' || (head_position + j)::text || ','
                || stream_json || ',' || (version + j)::text || ',' || p_encoded[j]
                || ',"' || head_hash || '"]', 'UTF8')), 'hex');
            hashes[j] := head_hash;
        END LOOP;
        IF total = 1 THEN
            -- Most appends (an incident's next transition): a plain VALUES row, where unnest
            -- over a dozen arrays would materialise each of them first.
            INSERT INTO audit_events (position, stream_id, version, event_id, type, actor_id,
                                      actor_role, occurred_at, recorded_at, payload,
                                      encrypted_fields, key_id, prev_hash, hash)
            VALUES (head_position + 1, p_streams[1], version + 1, p_event_ids[1], p_types[1],
                    p_actor_ids[1], p_actor_roles[1], p_occurred_at[1], p_recorded_at,
                    p_payloads[1], p_encrypted_fields[1], p_key_ids[1], first_hash, head_hash);
        ELSE
            INSERT INTO audit_events (position, stream_id, version, event_id, type, actor_id,
                                      actor_role, occurred_at, recorded_at, payload,
                                      encrypted_fields, key_id, prev_hash, hash)
            SELECT head_position + w.n, p_streams[1], version + w.n::integer, w.event_id,
                   w.type, w.actor_id, w.actor_role, w.occurred_at, p_recorded_at,
                   w.payload, w.encrypted_fields, w.key_id, w.prev_hash, w.hash
            FROM unnest(p_event_ids, p_types, p_actor_ids, p_actor_roles, p_occurred_at,
                        p_payloads, p_encrypted_fields, p_key_ids,
                        first_hash || hashes[1:total - 1], hashes)
                 WITH ORDINALITY
                 AS w(event_id, type, actor_id, actor_role, occurred_at, payload,
                      encrypted_fields, key_id, prev_hash, hash, n);
        END IF;
    ELSE
        -- Several streams (a group commit of `append_many`), in the order given.
        SELECT coalesce(array_agg(u.stream_id), '{}'),
               coalesce(array_agg((SELECT coalesce(max(e.version), 0) FROM audit_events e
                                   WHERE e.stream_id = u.stream_id)), '{}')
            INTO known, versions
            FROM (SELECT DISTINCT unnest(p_streams) AS stream_id) u;
        FOR i IN 1 .. items LOOP
            k := array_position(known, p_streams[i]);
            IF p_expected[i] IS NOT NULL AND p_expected[i] <> versions[k] THEN
                RETURN NULL;
            END IF;
            stream_json := to_json(p_streams[i])::text;
            FOR j IN 1 .. p_counts[i] LOOP
                n := n + 1;
                versions[k] := versions[k] + 1;
                ev_streams[n] := p_streams[i];
                ev_versions[n] := versions[k];
                head_hash := encode(sha256(convert_to(
                    '["firebreak.audit.event.v1",' || (head_position + n)::text || ','
                    || stream_json || ',' || versions[k]::text || ',' || p_encoded[n]
                    || ',"' || head_hash || '"]', 'UTF8')), 'hex');
                hashes[n] := head_hash;
            END LOOP;
        END LOOP;
        IF total = 0 THEN
            RETURN head_position + 1;
        END IF;
        INSERT INTO audit_events (position, stream_id, version, event_id, type, actor_id,
                                  actor_role, occurred_at, recorded_at, payload,
                                  encrypted_fields, key_id, prev_hash, hash)
        SELECT head_position + w.n, w.stream_id, w.version, w.event_id, w.type, w.actor_id,
               w.actor_role, w.occurred_at, p_recorded_at, w.payload, w.encrypted_fields,
               w.key_id, w.prev_hash, w.hash
        FROM unnest(ev_streams, ev_versions, p_event_ids, p_types, p_actor_ids, p_actor_roles,
                    p_occurred_at, p_payloads, p_encrypted_fields, p_key_ids,
                    first_hash || hashes[1:total - 1], hashes)
             WITH ORDINALITY
             AS w(stream_id, version, event_id, type, actor_id, actor_role, occurred_at,
                  payload, encrypted_fields, key_id, prev_hash, hash, n);
    END IF;
    UPDATE audit_head SET position = head_position + total, hash = head_hash WHERE id = 1;
    RETURN head_position + 1;
END;
$$
"""
DROP_0013 = (
    "DROP FUNCTION audit_append(timestamptz, text[], integer[], integer[], text[], text[],"
    " text[], text[], timestamptz[], text[], text[], text[])",
    "DROP FUNCTION audit_event_hash(bigint, text, integer, text, text, text, text,"
    " timestamptz, timestamptz, text, text, text, text)",
    "DROP FUNCTION audit_chain_link(text, text)",
    "DROP FUNCTION audit_event_prefix(bigint, text, integer, text)",
    "DROP FUNCTION audit_event_tail(text, text, text, text, timestamptz, timestamptz,"
    " text, text, text)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DROP_0013:
        op.execute(statement)
    op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP FUNCTION audit_append(timestamptz, text[], integer[], integer[], text[], text[],"
        " text[], text[], timestamptz[], text[], text[], text[], text[])"
    )
    _revision_0013().upgrade()


def _revision_0013() -> ModuleType:
    """Migration 0013's module, whose `upgrade` creates its functions again."""
    path = Path(__file__).with_name("0013_audit_append_function.py")
    spec = importlib.util.spec_from_file_location("firebreak_migration_0013", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
