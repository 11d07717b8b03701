"""A PostgreSQL append in one round trip: the head lock, version checks, chain hashes and the
insert in one server-side function.

Before, an append made seven round trips (pool ping, BEGIN, ``SELECT … FOR UPDATE`` of the
head, the streams' versions, INSERT, UPDATE of the head, COMMIT) and held the head row lock
across five of them. `audit_append` does all of it inside one statement, so a connection in
autocommit mode sends one call and the transaction (and the head lock) lasts as long as the
server's own work and the commit.

`audit_event_hash` is `orchestrator.audit.chain.event_hash` in SQL, byte for byte: the JSON
text of ``["firebreak.audit.event.v1", position, …, prev_hash]`` exactly as Python's
``json.dumps(…, ensure_ascii=False, separators=(",", ":"))`` writes it. ``to_json(text)``
escapes the same characters the same way (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other
characters below U+0020 as lowercase ``\\u00xx``, everything else, U+2028 included, as UTF-8);
timestamps are rendered with ``to_char`` as verification renders them.
tests/audit/test_append_function.py holds the two encodings to each other. The published
format (docs/audit-ledger.md) is unchanged: nothing new is hashed.

SQLite keeps appending from Python (its appends make no network round trips).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The encoding in three parts: the fields an event brings (`audit_event_tail`, computed before
# the head is locked: it holds the costly part, the payload's JSON string and the timestamps),
# the position and version the lock assigns (`audit_event_prefix`), and the link that takes
# the previous hash, which is sequential (`audit_chain_link`).
EVENT_TAIL = """
CREATE FUNCTION audit_event_tail(
    p_event_id text, p_type text, p_actor_id text, p_actor_role text,
    p_occurred_at timestamptz, p_recorded_at timestamptz, p_payload text,
    p_encrypted_fields text, p_key_id text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT to_json(p_event_id)::text
    || ',' || to_json(p_type)::text
    || ',' || to_json(p_actor_id)::text
    || ',' || to_json(p_actor_role)::text
    || ',"' || to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'
    || ',"' || to_char(p_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'
    || ',' || to_json(p_payload)::text
    || ',' || to_json(p_encrypted_fields)::text
    || ',' || coalesce(to_json(p_key_id)::text, 'null')
    || ','
$$
"""
EVENT_PREFIX = """
CREATE FUNCTION audit_event_prefix(
    p_position bigint, p_stream_id text, p_version integer, p_tail text
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT '["firebreak.audit.event.v1",' || p_position::text || ',' || to_json(p_stream_id)::text
    || ',' || p_version::text || ',' || p_tail
$$
"""
CHAIN_LINK = """
CREATE FUNCTION audit_chain_link(p_prefix text, p_prev_hash text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT encode(sha256(convert_to(p_prefix || to_json(p_prev_hash)::text || ']', 'UTF8')), 'hex')
$$
"""
EVENT_HASH = """
CREATE FUNCTION audit_event_hash(
    p_position bigint, p_stream_id text, p_version integer, p_event_id text, p_type text,
    p_actor_id text, p_actor_role text, p_occurred_at timestamptz, p_recorded_at timestamptz,
    p_payload text, p_encrypted_fields text, p_key_id text, p_prev_hash text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT audit_chain_link(audit_event_prefix(p_position, p_stream_id, p_version,
    audit_event_tail(p_event_id, p_type, p_actor_id, p_actor_role, p_occurred_at,
                     p_recorded_at, p_payload, p_encrypted_fields, p_key_id)), p_prev_hash)
$$
"""

# Appends in order: item i is `p_counts[i]` events of stream `p_streams[i]`, checked against
# `p_expected[i]` (null: no check); the event arrays hold every item's events one after the
# other. Returns the position of the first event, the rest following it, or null, writing
# nothing, when an expected version does not hold. A repeated event id fails on the unique
# index (the caller then looks the ids up); the whole call is one transaction either way.
APPEND = """
CREATE FUNCTION audit_append(
    p_recorded_at timestamptz, p_streams text[], p_expected integer[], p_counts integer[],
    p_event_ids text[], p_types text[], p_actor_ids text[], p_actor_roles text[],
    p_occurred_at timestamptz[], p_payloads text[], p_encrypted_fields text[], p_key_ids text[]
) RETURNS bigint LANGUAGE plpgsql
-- Its statements' plans are the same for every call: planning them per call (a custom plan)
-- cost more server time than the rest of a single-event append.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    total integer := coalesce(array_length(p_event_ids, 1), 0);
    head_position bigint;
    head_hash text;
    first_hash text;
    known text[];
    known_versions integer[];
    k integer;
    ev_positions bigint[];
    ev_streams text[];
    ev_versions integer[];
    tails text[];
    prefixes text[];
    hashes text[] := '{}';
BEGIN
    -- Before the lock: every event's own part of the encoding, in order.
    SELECT array_agg(audit_event_tail(e.event_id, e.type, e.actor_id, e.actor_role,
                                      e.occurred_at, p_recorded_at, e.payload,
                                      e.encrypted_fields, e.key_id) ORDER BY e.n)
        INTO tails
        FROM unnest(p_event_ids, p_types, p_actor_ids, p_actor_roles, p_occurred_at,
                    p_payloads, p_encrypted_fields, p_key_ids) WITH ORDINALITY
             AS e(event_id, type, actor_id, actor_role, occurred_at, payload,
                  encrypted_fields, key_id, n);
    SELECT h.position, h.hash INTO head_position, head_hash
        FROM audit_head h WHERE h.id = 1 FOR UPDATE;
    SELECT coalesce(array_agg(s.stream_id), '{}'), coalesce(array_agg(s.version), '{}')
        INTO known, known_versions
        FROM (SELECT u.stream_id,
                     coalesce((SELECT max(e.version) FROM audit_events e
                               WHERE e.stream_id = u.stream_id), 0) AS version
              FROM (SELECT DISTINCT unnest(p_streams) AS stream_id) u) s;
    DECLARE
        running integer[] := known_versions;
        counted integer := 0;
    BEGIN
        FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
            k := array_position(known, p_streams[i]);
            IF p_expected[i] IS NOT NULL AND p_expected[i] <> running[k] THEN
                RETURN NULL;
            END IF;
            running[k] := running[k] + p_counts[i];
            counted := counted + p_counts[i];
        END LOOP;
        IF counted <> total THEN
            RAISE EXCEPTION 'audit_append: % events given, the counts say %', total, counted
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END;
    IF total = 0 THEN
        RETURN head_position + 1;
    END IF;
    -- Under the lock, in one pass: each row's position, its stream's next version, and the
    -- encoding of everything but the previous hash. One stream (every `append`) needs no
    -- ranking of the events by stream.
    IF array_length(p_streams, 1) = 1 THEN
        SELECT array_agg(head_position + g.n ORDER BY g.n),
               array_agg(p_streams[1]),
               array_agg(known_versions[1] + g.n ORDER BY g.n),
               array_agg(audit_event_prefix(head_position + g.n, p_streams[1],
                                            known_versions[1] + g.n, tails[g.n]) ORDER BY g.n)
            INTO ev_positions, ev_streams, ev_versions, prefixes
            FROM generate_series(1, total) AS g(n);
    ELSE
        SELECT array_agg(head_position + x.n ORDER BY x.n),
               array_agg(x.stream_id ORDER BY x.n),
               array_agg(x.version ORDER BY x.n),
               array_agg(audit_event_prefix(head_position + x.n, x.stream_id, x.version,
                                            tails[x.n]) ORDER BY x.n)
            INTO ev_positions, ev_streams, ev_versions, prefixes
            FROM (SELECT u.stream_id,
                         row_number() OVER (ORDER BY u.item, g.j) AS n,
                         (b.version + row_number() OVER (PARTITION BY u.stream_id
                                                         ORDER BY u.item, g.j))::integer
                             AS version
                  FROM unnest(p_streams, p_counts) WITH ORDINALITY AS u(stream_id, count, item)
                  CROSS JOIN generate_series(1, u.count) AS g(j)
                  JOIN unnest(known, known_versions) AS b(stream_id, version)
                    ON b.stream_id = u.stream_id) x;
    END IF;
    first_hash := head_hash;
    FOR i IN 1 .. total LOOP
        head_hash := audit_chain_link(prefixes[i], head_hash);
        hashes := hashes || head_hash;
    END LOOP;
    WITH stored AS (
        INSERT INTO audit_events (position, stream_id, version, event_id, type, actor_id,
                                  actor_role, occurred_at, recorded_at, payload,
                                  encrypted_fields, key_id, prev_hash, hash)
        SELECT w.position, w.stream_id, w.version, w.event_id, w.type, w.actor_id,
               w.actor_role, w.occurred_at, p_recorded_at, w.payload, w.encrypted_fields,
               w.key_id, w.prev_hash, w.hash
        FROM unnest(ev_positions, ev_streams, ev_versions, p_event_ids, p_types, p_actor_ids,
                    p_actor_roles, p_occurred_at, p_payloads, p_encrypted_fields, p_key_ids,
                    (ARRAY[first_hash] || hashes)[1:total], hashes)
             AS w(position, stream_id, version, event_id, type, actor_id, actor_role,
                  occurred_at, payload, encrypted_fields, key_id, prev_hash, hash)
    )
    UPDATE audit_head SET position = head_position + total, hash = head_hash WHERE id = 1;
    RETURN head_position + 1;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in (EVENT_TAIL, EVENT_PREFIX, CHAIN_LINK, EVENT_HASH, APPEND):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP FUNCTION audit_append(timestamptz, text[], integer[], integer[], text[], text[],"
        " text[], text[], timestamptz[], text[], text[], text[])"
    )
    op.execute(
        "DROP FUNCTION audit_event_hash(bigint, text, integer, text, text, text, text,"
        " timestamptz, timestamptz, text, text, text, text)"
    )
    op.execute("DROP FUNCTION audit_chain_link(text, text)")
    op.execute("DROP FUNCTION audit_event_prefix(bigint, text, integer, text)")
    op.execute(
        "DROP FUNCTION audit_event_tail(text, text, text, text, timestamptz, timestamptz,"
        " text, text, text)"
    )
