"""The append-only, hash-chained audit event store: the one way events are written and read.

Appends are serialised on the single ``audit_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite): positions are assigned and committed strictly in order, so a
reader tailing by position never skips an event that commits later below what it has read, a
rolled-back append leaves no hole, and the chain's previous hash is always at hand. On
PostgreSQL the common path is one call of the server-side function ``audit_append``
(migrations/versions/0017, 0019), which does all of that and the hashing in one round trip.
The queries by type, actor and time read through a lookup table that appends never write
(`event_index`): under the head lock an append writes only the two indexes it needs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python
from sqlalchemy.exc import DBAPIError, IntegrityError

from orchestrator.audit import keys, schema
from orchestrator.audit.arrays import IntArray, TextArray, TimestampArray, register
from orchestrator.audit.chain import (
    HASHED_FIELDS,
    TIMESTAMP_FIELDS,
    EventFields,
    canonical_json,
    event_hash,
    json_timestamp,
    timestamp,
)
from orchestrator.audit.checkpoints import (
    Trusted,
    checkpoint_text,
    default_origin,
    from_row,
)
from orchestrator.audit.event_index import EventIndex, by_id, page
from orchestrator.audit.fields import key_id_of, open_fields, seal_fields
from orchestrator.audit.models import (
    AuditFilter,
    Checkpoint,
    ExportFormat,
    QueryPage,
    SigningKey,
    VerificationReport,
)
from orchestrator.audit.notes import VerifierKey, parse_note, sign_note
from orchestrator.audit.proofs import ConsistencyProof, InclusionProof
from orchestrator.audit.signing import CheckpointSigner, fingerprint
from orchestrator.audit.tree import MerkleTree
from orchestrator.audit.verify import Progress, verify_store
from orchestrator.db import DATABASE_ERRORS, database_unavailable, single_statement, writing
from orchestrator.domain import Actor, NewEvent, RecordedEvent
from orchestrator.errors import (
    ConcurrencyError,
    Conflict,
    CryptoError,
    FirebreakError,
    InvalidInput,
)
from orchestrator.ocsf import to_ocsf
from orchestrator.security.keyring import KeyRing
from orchestrator.telemetry.instruments import timed_append
from orchestrator.timeutil import as_utc

MAX_QUERY_LIMIT = 1000
MAX_VERSION = 2**31 - 1
"""A stream's highest version: the column is a 32-bit integer on PostgreSQL."""
EXPORT_PAGE = 1000
KEYS_STREAM = "audit-keys"
"""The stream of `CheckpointKeyRotated` events."""
STREAM_CHUNK = 500
"""Stream ids per `IN` list: well under SQLite's and PostgreSQL's bound-parameter limits."""

Row = sa.Row[Any]

# Built once: SQLAlchemy finds a statement's compiled form by its cache key, which a statement
# built per call has to recompute, and every transition of every incident is an append
# (figures: docs/benchmarks.md, "The audit store builds its append statements once").
READ_HEAD = sa.select(schema.head.c.position, schema.head.c.hash).where(schema.head.c.id == 1)
LOCK_HEAD = READ_HEAD.with_for_update()
MOVE_HEAD = (
    sa.update(schema.head)
    .where(schema.head.c.id == 1)
    .values(position=sa.bindparam("head_position"), hash=sa.bindparam("head_hash"))
)
INSERT_EVENTS = sa.insert(schema.events)
CLAIM_IDS = sa.insert(schema.event_ids)
STORED_BY_ID = by_id()
VERSIONS_OF = (
    sa.select(schema.events.c.stream_id, sa.func.max(schema.events.c.version))
    .where(schema.events.c.stream_id.in_(sa.bindparam("stream_ids", expanding=True)))
    .group_by(schema.events.c.stream_id)
)
# PostgreSQL's common path: migrations/versions/0017's function does all of `_write`'s work
# (head lock, version checks, chain hashes, insert, head move) in one statement, one round trip,
# given each event's encoded fields (`chain.event_fields_text`).
# `%(name)b`: the arrays go in PostgreSQL's binary format, written by `arrays` in one pass each
# (psycopg's own adaptation of a list, and the text form's escaping before it, cost more than
# the rest of the call's client side).
APPEND_CALL = (
    "SELECT audit_append(%(recorded_at)b, %(streams)b::text[], %(expected)b::integer[],"
    " %(counts)b::integer[], %(event_ids)b::text[], %(types)b::text[], %(actor_ids)b::text[],"
    " %(actor_roles)b::text[], %(occurred_at)b::timestamptz[], %(payloads)b::text[],"
    " %(encrypted_fields)b::text[], %(key_ids)b::text[], %(encoded)b::text[])"
)
APPEND_COLUMNS: dict[str, tuple[str, type[TextArray | TimestampArray]]] = {
    "event_ids": ("event_id", TextArray),
    "types": ("type", TextArray),
    "actor_ids": ("actor_id", TextArray),
    "actor_roles": ("actor_role", TextArray),
    "occurred_at": ("occurred_at", TimestampArray),
    "payloads": ("payload", TextArray),
    "encrypted_fields": ("encrypted_fields", TextArray),
    "key_ids": ("key_id", TextArray),
}
"""`audit_append`'s event arrays: the prepared row field each holds, and its array type."""


class EventStore:
    """Append, read, query, export and verify the audit log in one database."""

    def __init__(
        self,
        engine: sa.Engine,
        keyring: KeyRing | None = None,
        signer: CheckpointSigner | None = None,
        origin: str | None = None,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.signer = signer
        self._origin = origin
        self._postgres = engine.dialect.name == "postgresql"
        self.merkle = MerkleTree(engine)
        self.index = EventIndex(engine)

    # -- writing -------------------------------------------------------------------------------

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None = None
    ) -> list[int]:
        """`_append`, its latency observed (`firebreak_audit_append_seconds`)."""
        with timed_append():
            return self._append(stream_id, events, expected_version)

    def append_many(self, appends: Sequence[StreamAppend]) -> list[list[int] | FirebreakError]:
        """`_append_many`, its latency observed (`firebreak_audit_append_seconds`)."""
        with timed_append():
            return self._append_many(appends)

    def _append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None = None
    ) -> list[int]:
        """Append `events` atomically to `stream_id`; return their global positions.

        `expected_version`: None = no check, 0 = the stream must not exist yet, N = its current
        version must be N. An event id already stored with identical content is not written
        again; its stored position is returned.
        """
        _check_append_args(stream_id, events, expected_version)
        if not events:
            return []
        batch = [_Pending(StreamAppend(stream_id, events, expected_version), self)]
        try:
            return self._write(batch, {})[0]
        except (_Retry, IntegrityError):
            # A retried append (ids already stored) or a lost race: look the ids up this time,
            # with the lookup table extended so that few events are read past it.
            pass
        indexed = self.index.extend()
        try:
            return self._write(batch, None, indexed)[0]
        except _Retry as retry:
            raise retry.error from None
        except IntegrityError:
            raise Conflict(f"append to {stream_id!r} clashed with a concurrent one") from None

    def _append_many(self, appends: Sequence[StreamAppend]) -> list[list[int] | FirebreakError]:
        """Group commit: several streams' appends in one transaction when all of them go
        through as new events, which is the common case under load.

        Each append keeps `append`'s meaning; if any of them needs more than the fast path
        (an expected version that does not hold, an id already stored), each is retried on its
        own and gets its own outcome: positions, or the error `append` would have raised.
        """
        for item in appends:
            _check_append_args(item.stream_id, item.events, item.expected_version)
        live = [item for item in appends if item.events]
        outcomes: list[list[int] | FirebreakError] = []
        try:
            written = iter(self._write([_Pending(item, self) for item in live], {}))
            return [next(written) if item.events else [] for item in appends]
        except (_Retry, IntegrityError):
            pass
        for item in appends:
            try:
                outcomes.append(self._append(item.stream_id, item.events, item.expected_version))
            except FirebreakError as exc:
                outcomes.append(exc)
        return outcomes

    def _write(
        self, batch: list[_Pending], stored: dict[str, Row] | None, indexed: int = 0
    ) -> list[list[int]]:
        """One locked attempt for every append of `batch`. `stored={}` is the fast path that
        assumes every id is new and leaves duplicates to the id claims; `None` looks the
        ids up first, through the lookup table, which holds at least `indexed` events."""
        if self._postgres and stored == {}:
            return self._write_in_one_call(batch)
        with self._locked() as (conn, position, prev_hash):
            if stored is None:
                stored = self._stored_by_id(
                    conn, [event.id for item in batch for event in item.append.events], indexed
                )
            versions = self._versions(conn, [item.append.stream_id for item in batch])
            recorded_at = datetime.now(UTC)
            rows: list[dict[str, Any]] = []
            for item in batch:
                stream_id, expected = item.append.stream_id, item.append.expected_version
                fresh = [
                    row
                    for event, row in zip(item.append.events, item.prepared, strict=True)
                    if not self._is_duplicate(stream_id, event, stored.get(event.id))
                ]
                if not fresh:
                    continue
                version = versions.get(stream_id, 0)
                if expected is not None and expected != version:
                    raise _Retry(
                        ConcurrencyError(
                            f"stream {stream_id!r} is at version {version}, expected {expected}"
                        )
                    )
                for row in fresh:
                    position += 1
                    version += 1
                    row = {
                        **row,
                        "position": position,
                        "stream_id": stream_id,
                        "version": version,
                        "recorded_at": recorded_at,
                        "prev_hash": prev_hash,
                    }
                    row["hash"] = prev_hash = event_hash(**row)
                    rows.append(row)
                versions[stream_id] = version
            if rows:
                conn.execute(CLAIM_IDS, [{"event_id": row["event_id"]} for row in rows])
                conn.execute(INSERT_EVENTS, rows)
                conn.execute(MOVE_HEAD, {"head_position": position, "head_hash": prev_hash})
        new_positions = {row["event_id"]: row["position"] for row in rows}
        return [
            [
                new_positions[e.id] if e.id in new_positions else stored[e.id].position
                for e in item.append.events
            ]
            for item in batch
        ]

    def _write_in_one_call(self, batch: list[_Pending]) -> list[list[int]]:
        """`_write`'s fast path on PostgreSQL, done by `audit_append` on the server: the same
        lock, checks, hashes and rows (each event encoded here, as `chain.event_hash` encodes
        it; the function adds position, stream, version and previous hash), one round trip
        instead of seven, and the head row locked for that call only. A stale expected version
        comes back as no position and an id already stored as the id claims'
        `IntegrityError`; both send the caller to the looked-up path."""
        rows = [row for item in batch for row in item.prepared]
        params: dict[str, Any] = {
            name: array([row[field] for row in rows])
            for name, (field, array) in APPEND_COLUMNS.items()
        }
        params["recorded_at"] = recorded_at = datetime.now(UTC)
        recorded = json_timestamp(recorded_at)
        params["encoded"] = TextArray(
            [fields.text(recorded) for item in batch for fields in item.encoded]
        )
        params["streams"] = TextArray([item.append.stream_id for item in batch])
        params["expected"] = IntArray([item.append.expected_version for item in batch])
        params["counts"] = IntArray([len(item.prepared) for item in batch])
        first = self._call_append(params)
        if first is None:
            raise _Retry(ConcurrencyError("an expected version no longer holds"))
        positions = iter(range(first, first + len(rows)))
        return [[next(positions) for _ in item.prepared] for item in batch]

    def _call_append(self, params: dict[str, Any]) -> int | None:
        """One call of `audit_append`, made again once on a fresh connection when the pooled
        one turns out dead (the pool pings only connections idle for a while,
        `orchestrator.db.PING_AFTER_IDLE_SECONDS`). Repeating it is safe: if the first call
        committed before its connection died, the second meets its own event ids already
        claimed and `append` looks them up."""
        try:
            try:
                return self._call_append_once(params)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            return self._call_append_once(params)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    def _call_append_once(self, params: dict[str, Any]) -> int | None:
        first: int | None = single_statement(
            self.engine, APPEND_CALL, params, serialise=True, prepare=register
        )
        return first

    def _versions(self, conn: sa.Connection, stream_ids: list[str]) -> dict[str, int]:
        """Current version of each stream that exists, in one query."""
        rows = conn.execute(VERSIONS_OF, {"stream_ids": sorted(set(stream_ids))})
        return {stream_id: version for stream_id, version in rows}

    def _prepare(self, event: NewEvent) -> dict[str, Any]:
        """The row fields that do not depend on the stream's state, sensitive values sealed."""
        try:
            payload = to_jsonable_python(event.payload)
            sealed, names = seal_fields(self.keyring, event.id, payload, event.sensitive)
            text = canonical_json(sealed)
        except (PydanticSerializationError, ValueError, TypeError):
            raise InvalidInput(
                f"event {event.id}: payload is not JSON-serialisable", "payload"
            ) from None
        return {
            "event_id": event.id,
            "type": event.type,
            "actor_id": event.actor.id,
            "actor_role": event.actor.role,
            "occurred_at": as_utc(event.occurred_at),
            "payload": text,
            # Most events seal nothing; the encoder costs more to start than to write "[]".
            "encrypted_fields": canonical_json(names) if names else "[]",
            "key_id": key_id_of(sealed, names),
        }

    def _stored_by_id(self, conn: sa.Connection, ids: list[str], indexed: int) -> dict[str, Row]:
        params = {"event_ids": ids, "indexed": indexed}
        return {row.event_id: row for row in conn.execute(STORED_BY_ID, params)}

    def _is_duplicate(self, stream_id: str, event: NewEvent, row: Row | None) -> bool:
        """True if `row` stores `event` already; the same id with other content is a Conflict."""
        if row is None:
            return False
        names = json.loads(row.encrypted_fields)
        stored_payload = open_fields(self.keyring, row.event_id, json.loads(row.payload), names)
        same = (
            row.stream_id == stream_id
            and row.type == event.type
            and (row.actor_id, row.actor_role) == (event.actor.id, event.actor.role)
            and timestamp(row.occurred_at) == timestamp(event.occurred_at)
            and canonical_json(stored_payload) == canonical_json(to_jsonable_python(event.payload))
            and names == sorted({n for n in event.sensitive if n in event.payload})
        )
        if not same:
            raise Conflict(
                f"event id {event.id} is already stored at position {row.position}"
                " with different content"
            )
        return True

    @contextmanager
    def _locked(self) -> Iterator[tuple[sa.Connection, int, str]]:
        """A write transaction holding the append lock, with the current head (position, hash)."""
        # Appends serialise on the head row anyway: queueing this process's writers on its lock
        # first wakes the next the moment a commit ends, instead of leaving them to SQLite's
        # sleeping busy handler or parked on PostgreSQL's row lock holding pool connections.
        try:
            with writing(self.engine, serialise=True) as conn:
                query = LOCK_HEAD if self._postgres else READ_HEAD
                position, head_hash = conn.execute(query).one()
                yield conn, position, head_hash
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    def checkpoint(self) -> Checkpoint:
        """Sign the current head as a C2SP tlog-checkpoint note and store it.

        Appends are not held up: the head is read once (position and hash agree in one row),
        the Merkle root over the rows below it (which never change) is computed outside any
        lock, and the checkpoint row is inserted on its own."""
        if self.signer is None:
            raise CryptoError("no checkpoint signing key is configured")
        key = self.signer.private_key()
        origin = self.origin()
        now = datetime.now(UTC)
        self._require_active(key.public_key())
        self._register_key(origin, key.public_key(), now)
        self._require_active(key.public_key())  # two first keys registered at once: one signs
        position, head_hash = self.head()
        root = self.merkle_root(position)
        # Scheduled checkpoints also bound how far the query lookup table lags behind the log
        # where no reader extends it (`event_index`): the next filtered query has less to do.
        self.index.extend(position)
        text = checkpoint_text(origin, position, root, head_hash, now)
        note = sign_note(text, origin, key)
        checkpoint = Checkpoint(
            position=position,
            head_hash=head_hash,
            created_at=now,
            key_fingerprint=fingerprint(key.public_key()),
            signature=parse_note(note).signatures[0].signature.hex(),
            root_hash=root.hex(),
            note=note,
        )
        try:
            with writing(self.engine) as conn:
                conn.execute(sa.insert(schema.checkpoints).values(**checkpoint.model_dump()))
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None
        return checkpoint

    def checkpoint_if_moved(self) -> Checkpoint | None:
        """`checkpoint`, unless the latest checkpoint already covers the current head."""
        latest = self.checkpoints(limit=1)
        if latest and latest[0].note is not None and latest[0].position == self.head()[0]:
            return None
        return self.checkpoint()

    def origin(self) -> str:
        """The checkpoints' origin line (and key name): configured, else the one the first
        registered key was given, else derived from the active key."""
        if self._origin:
            return self._origin
        if self.signer is None:
            raise CryptoError("no checkpoint signing key is configured")
        try:
            named = keys.first_name(self.engine)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None
        return named or default_origin(self.signer.public_key())

    def rotate_signing_key(self, actor: Actor) -> SigningKey:
        """Retire the active checkpoint key and start signing with a new one; recorded as a
        `CheckpointKeyRotated` event in the `audit-keys` stream. Checkpoints signed before
        keep verifying under the retired key."""
        if self.signer is None:
            raise CryptoError("no checkpoint signing key is configured")
        origin = self.origin()
        old = self.signer.public_key()
        now = datetime.now(UTC)
        self._register_key(origin, old, now)
        new = self.signer.rotate().public_key()
        self._register_key(origin, new, now)
        try:
            retired = keys.retire_all_but(self.engine, new, now)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None
        added = VerifierKey(origin, new).text()
        event = NewEvent(
            id=str(uuid.uuid4()),
            type="CheckpointKeyRotated",
            actor=actor,
            occurred_at=now,
            payload={"verifier_key": added, "retired": retired},
        )
        self.append(KEYS_STREAM, [event])
        return next(k for k in self.signing_keys() if k.verifier_key == added)

    def _require_active(self, key: Ed25519PublicKey) -> None:
        """Refuse to sign with a key that is not the ledger's active one: a process started
        without the shared key file (which made a key of its own), or one still holding a key
        a rotation elsewhere retired. Its checkpoints would verify on no other host, and an
        auditor keeping the listed keys would be handed a key nobody rotated in."""
        listed = self.signing_keys()
        mine = fingerprint(key)
        active = [k for k in listed if k.retired_at is None]
        ours = next((k for k in listed if k.fingerprint == mine), None)
        labels = ", ".join(f"{k.name}+{k.key_hash}" for k in active) or "none"
        if ours is not None and ours.retired_at is not None:
            raise CryptoError(
                f"this process's checkpoint key {ours.name}+{ours.key_hash} was retired at"
                f" {ours.retired_at:%Y-%m-%d %H:%M:%S} UTC by a rotation; the active key is"
                f" {labels}: give this process that key file (FIREBREAK_SIGNING_KEY_FILE)"
            )
        if active and (ours is None or active[0].fingerprint != mine):
            raise CryptoError(
                f"this process's checkpoint key (sha256:{mine[:16]}) is not the ledger's active"
                f" key {labels}: every process must sign with the same key file"
                " (FIREBREAK_SIGNING_KEY_FILE); `firebreak audit keys rotate` changes it"
            )

    def _register_key(self, name: str, key: Ed25519PublicKey, now: datetime) -> None:
        try:
            keys.register(self.engine, name, key, now)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    def signing_keys(self) -> list[SigningKey]:
        """Every checkpoint key that has signed, oldest first (a directory, not a trust anchor)."""
        try:
            return keys.listed(self.engine)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    # -- Merkle proofs -------------------------------------------------------------------------

    def merkle_root(self, size: int | None = None) -> bytes:
        """The RFC 9162 root of the first `size` events (default: all of them), 32 bytes."""
        return self.merkle.root(self.head()[0] if size is None else size)

    def inclusion_proof(self, event_id: str, size: int | None = None) -> InclusionProof:
        """Proof that event `event_id` is in the tree of the first `size` events (default:
        the latest signed checkpoint's size if there is one, else the head)."""
        size = self.proof_size(size)
        return self.merkle.event_inclusion_proof(event_id, size, self.index.extend())

    def consistency_proof(self, old: int, new: int) -> ConsistencyProof:
        """Proof that the tree of the first `new` events extends that of the first `old`."""
        return self.merkle.consistency_proof(old, new)

    def proof_size(self, size: int | None = None) -> int:
        """`size`, else what proofs are made against by default: the latest signed
        checkpoint's size, which an auditor holds a signed root for, else the head."""
        if size is not None:
            return size
        latest = self.checkpoints(limit=1)
        return latest[0].position if latest else self.head()[0]

    # -- reading -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(last position, last hash); (0, 64 zeros) for an empty log."""
        with self._reading() as conn:
            row = conn.execute(READ_HEAD).one()
        return int(row.position), str(row.hash)

    def checkpoints(self, limit: int = 100) -> list[Checkpoint]:
        """The latest `limit` signed chain heads, newest first: what an auditor compares with
        the copies kept outside the database."""
        table = schema.checkpoints
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [from_row(r) for r in rows]

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        query = (
            sa.select(schema.events)
            .where(schema.events.c.stream_id == stream_id, schema.events.c.version > after_version)
            .order_by(schema.events.c.version)
        )
        with self._reading() as conn:
            return [self._recorded(row) for row in conn.execute(query)]

    def first_events_sealed(self, stream_ids: Sequence[str]) -> list[RecordedEvent]:
        """The first event of each of `stream_ids` that exists, by position, with its
        sensitive fields left sealed (their values are ciphertext): for listing many streams
        by their clear fields without decrypting each. `read_stream` opens one."""
        found: list[RecordedEvent] = []
        ids = sorted(set(stream_ids))
        c = schema.events.c
        with self._reading() as conn:
            for start in range(0, len(ids), STREAM_CHUNK):
                query = sa.select(schema.events).where(
                    c.stream_id.in_(ids[start : start + STREAM_CHUNK]), c.version == 1
                )
                found.extend(self._recorded(row, sealed=True) for row in conn.execute(query))
        return sorted(found, key=lambda event: event.position)

    def read_all(
        self,
        after_position: int = 0,
        batch_size: int = 500,
        types: Collection[str] | None = None,
        *,
        sealed: bool = False,
    ) -> Iterator[RecordedEvent]:
        """Every event after `after_position` in order, fetched in batches (no long transaction);
        only those of `types` when given, so a follower never decrypts what it would skip.
        `sealed`: sensitive fields stay ciphertext (no key ring needed), for a follower that
        passes them on without reading them (the SIEM forwarder's default).

        Consumers keep the last position they processed and resume from it: nothing is skipped.
        """
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1", "batch_size")
        selection = _matching(types=None if types is None else sorted(types))
        while True:
            page = self._page(selection, after_position, batch_size, sealed=sealed)
            yield from page.events
            if page.next_cursor is None:
                return
            after_position = page.next_cursor

    def query(
        self,
        *,
        stream: str | None = None,
        types: Sequence[str] | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_position: int = 0,
        limit: int = 100,
    ) -> QueryPage:
        """Events matching every given filter, by position; `since` inclusive, `until` exclusive
        (both on `occurred_at`). Page on with `after_position=page.next_cursor`."""
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_QUERY_LIMIT}", "limit")
        if after_position < 0:
            raise InvalidInput("after_position must not be negative", "after_position")
        selection = _matching(stream, types, actor, since, until)
        return self._page(selection, after_position, limit)

    def _page(
        self, selection: _Selection, after_position: int, limit: int, *, sealed: bool = False
    ) -> QueryPage:
        rows, next_cursor = self._rows(selection, after_position, limit)
        events = [self._recorded(row, sealed=sealed) for row in rows]
        return QueryPage(events=events, next_cursor=next_cursor)

    def _rows(
        self, selection: _Selection, after_position: int, limit: int
    ) -> tuple[list[Row], int | None]:
        """Up to `limit` rows after `after_position` that `selection` selects, in position
        order, and the cursor of the next page (None on the last)."""
        if selection.through_index:
            self.index.extend()
            query = page(selection.condition, after_position, limit + 1)
        else:
            query = (
                sa.select(schema.events)
                .where(schema.events.c.position > after_position, selection.condition)
                .order_by(selection.order)
                .limit(limit + 1)
            )
        with self._reading() as conn:
            rows = list(conn.execute(query).all())
        more = len(rows) > limit
        cursor = int(rows[limit - 1].position) if more else None
        if selection.through_index:
            # A lookup row of another event (the log was cut and appended to again: verify
            # names it) selects nothing.
            return [row for row in rows[:limit] if row.indexed_id == row.event_id], cursor
        return rows[:limit], cursor

    def export_pages(
        self,
        where: AuditFilter,
        after_position: int = 0,
        format: ExportFormat = ExportFormat.jsonl,
    ) -> Iterator[str]:
        """Events matching `where` as JSON Lines (one `RecordedEvent` per line, decrypted, with
        its hashes; or its OCSF record for `ExportFormat.ocsf`), one page of EXPORT_PAGE events
        per item. Each page is read when the previous one has been consumed, so however long
        the log, one page is in memory: the CLI writes them to a file (`export`), the API and
        the console stream them."""
        if after_position < 0:
            raise InvalidInput("after_position must not be negative", "after_position")
        selection = _matching(**where.model_dump())

        def line(row: Row) -> str:
            if format is ExportFormat.chain:  # the stored values themselves, nothing decrypted
                return chain_line(row)
            return _LINE_OF[format](self._recorded(row))

        cursor: int | None = after_position
        while cursor is not None:
            rows, cursor = self._rows(selection, cursor, EXPORT_PAGE)
            yield "".join(line(row) + "\n" for row in rows)

    def export(
        self,
        out: IO[str],
        *,
        after_position: int = 0,
        format: ExportFormat = ExportFormat.jsonl,
        progress: Callable[[int, None], None] | None = None,
        **filters: Any,
    ) -> int:
        """Write the events matching `filters` (`AuditFilter`'s fields, as `query` takes them)
        to `out` as JSON Lines in `format`; return how many were written. `progress(written,
        None)` is called after each page (how many will match is not known ahead)."""
        count = 0
        for lines in self.export_pages(AuditFilter(**filters), after_position, format):
            out.write(lines)
            count += lines.count("\n")  # JSON escapes newlines in values: one line per event
            if progress is not None and lines:
                progress(count, None)
        return count

    def verify(
        self,
        public_key: Ed25519PublicKey | Sequence[Trusted] | None = None,
        kept: Sequence[Checkpoint] = (),
        *,
        progress: Progress | None = None,
    ) -> VerificationReport:
        """Walk the whole chain and every checkpoint; report the first inconsistency.
        `progress(checked, total)` is called after each batch of events.

        Checkpoint signatures are checked against `public_key` (an Ed25519 public key, or
        several, bare or as named verifier keys), else the store's own active and retired
        signing keys (files, never the database's key table). `kept` are checkpoints kept
        outside the database: the chain must still match each, and each must still be
        stored. No encryption keys are needed.
        """
        trusted: list[Trusted]
        if public_key is None:
            trusted = [*self.signer.trusted_public_keys()] if self.signer is not None else []
        elif isinstance(public_key, Ed25519PublicKey):
            trusted = [public_key]
        else:
            trusted = list(public_key)
        try:
            return verify_store(self.engine, trusted, kept, progress)
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc, "audit store") from None

    def _recorded(self, row: Row, *, sealed: bool = False) -> RecordedEvent:
        names = [] if sealed else json.loads(row.encrypted_fields)
        payload = open_fields(self.keyring, row.event_id, json.loads(row.payload), names)
        return RecordedEvent(
            position=row.position,
            stream_id=row.stream_id,
            version=row.version,
            id=row.event_id,
            type=row.type,
            actor=Actor(id=row.actor_id, role=row.actor_role),
            occurred_at=as_utc(row.occurred_at),
            recorded_at=as_utc(row.recorded_at),
            payload=payload,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


@dataclass(frozen=True)
class _Selection:
    """A query's filters as SQL: the condition, the `audit_events` column its pages are sorted
    by (in position order), and whether the condition is on the lookup table
    (`event_index`), which the query then reads through, extended first; `event_index.page`
    sorts those pages itself."""

    condition: sa.ColumnElement[bool]
    order: sa.ColumnElement[Any]
    through_index: bool


def _matching(
    stream: str | None = None,
    types: Sequence[str] | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> _Selection:
    """`query`'s filters (`AuditFilter`'s fields) as one `_Selection`.

    One stream is read from `audit_events` alone, sorted by version, which rises with the
    position (both are assigned under the head lock) and lets the database read the stream
    from the (stream_id, version) index in order; sorted by position, PostgreSQL with
    statistics walks the primary key from the cursor instead, filtering: 100+ ms for a stream
    that starts late in a log of 1M events. Type, actor and time without a stream are read
    through the lookup table, whose indexes serve them. No filter reads the primary key."""
    if stream is not None:
        c: Any = schema.events.c
        order = c.version
    elif types or actor is not None or since is not None or until is not None:
        c = schema.event_index.c
        order = schema.events.c.position
    else:
        return _Selection(sa.true(), schema.events.c.position, through_index=False)
    conditions: list[sa.ColumnElement[bool]] = []
    if stream is not None:
        conditions.append(c.stream_id == stream)
    if types:
        conditions.append(c.type.in_(list(types)))
    if actor is not None:
        conditions.append(c.actor_id == actor)
    if since is not None:
        conditions.append(c.occurred_at >= as_utc(since))
    if until is not None:
        conditions.append(c.occurred_at < as_utc(until))
    return _Selection(sa.and_(*conditions), order, through_index=stream is None)


def chain_line(row: Row) -> str:
    """One event as `ExportFormat.chain` writes it: a JSON object of its `HASHED_FIELDS` in
    order, exactly the values its hash covers (`payload` and `encrypted_fields` as their
    stored JSON text, sealed values as ciphertext, timestamps as `chain.timestamp` writes
    them), then `hash`. docs/audit-ledger.md shows how to re-check it without Firebreak."""
    values = row._mapping
    fields = {
        name: timestamp(values[name]) if name in TIMESTAMP_FIELDS else values[name]
        for name in HASHED_FIELDS
    }
    return to_json({**fields, "hash": values["hash"]}).decode()


def _ocsf_line(event: RecordedEvent) -> str:
    # pydantic-core's encoder: about 6x json.dumps on these records (docs/benchmarks.md).
    return to_json(to_ocsf(event)).decode()


_LINE_OF: dict[ExportFormat, Callable[[RecordedEvent], str]] = {
    ExportFormat.jsonl: RecordedEvent.model_dump_json,
    ExportFormat.ocsf: _ocsf_line,
}
"""One event as one line of an export, per format."""


@dataclass(frozen=True)
class StreamAppend:
    """One stream's share of `EventStore.append_many`, with `append`'s arguments."""

    stream_id: str
    events: Sequence[NewEvent]
    expected_version: int | None = None


class _Pending:
    """An append with its rows prepared once (sealed, serialised, encoded) for every attempt."""

    def __init__(self, append: StreamAppend, store: EventStore) -> None:
        self.append = append
        self.prepared = [store._prepare(event) for event in append.events]
        self.encoded = [EventFields.of(row) for row in self.prepared] if store._postgres else []
        """Each row's part of the hashed encoding, for PostgreSQL's `audit_append`."""


class _Retry(Exception):
    """The fast path's expectation failed; the error stands unless the ids are already stored."""

    def __init__(self, error: ConcurrencyError) -> None:
        super().__init__(error.detail)
        self.error = error


def _check_append_args(
    stream_id: str, events: Sequence[NewEvent], expected_version: int | None
) -> None:
    if not stream_id or len(stream_id) > 200:
        raise InvalidInput("stream id must be 1 to 200 characters", "stream_id")
    if expected_version is not None and not 0 <= expected_version <= MAX_VERSION:
        raise InvalidInput(
            f"expected_version must be between 0 and {MAX_VERSION}", "expected_version"
        )
    ids = [event.id for event in events]
    if len(set(ids)) != len(ids):
        raise InvalidInput("an event id appears twice in one append", "events")
    for event in events:
        if not event.id or len(event.id) > 64:
            raise InvalidInput("event id must be 1 to 64 characters", "id")
        if not event.type or len(event.type) > 100:
            raise InvalidInput(f"event {event.id}: type must be 1 to 100 characters", "type")
        if len(event.actor.id) > 200 or len(event.actor.role) > 50:
            raise InvalidInput(f"event {event.id}: actor id or role too long", "actor")
