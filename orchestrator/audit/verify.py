"""Verification: recompute the chain from the stored rows and check the signed checkpoints.

Needs no encryption keys (hashes cover ciphertext). Detects rows modified, deleted, inserted or
reordered behind the application's back, including a tail cut off together with the head row,
and a whole rewritten suffix with recomputed hashes (through the checkpoints signed before it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from orchestrator.audit import schema
from orchestrator.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    TIMESTAMP_FIELDS,
    TIMESTAMP_FORMAT,
    encoded_hash,
)
from orchestrator.audit.checkpoints import (
    RootAccumulator,
    Trusted,
    check_signatures,
    fields_unlike_note,
    from_row,
)
from orchestrator.audit.merkle import EMPTY_ROOT
from orchestrator.audit.models import (
    Checkpoint,
    KeyUse,
    UnverifiedCheckpoint,
    Verdict,
    VerificationReport,
)

BATCH = 5000
POSITION, PREV_HASH = HASHED_FIELDS.index("position"), HASHED_FIELDS.index("prev_hash")


@dataclass
class _Problem(Exception):
    position: int
    what: str


Progress = Callable[[int, int], None]
"""Called with (events checked, events to check) after each batch of the walk."""


def verify_store(
    engine: sa.Engine,
    trusted: Sequence[Trusted],
    kept: Sequence[Checkpoint] = (),
    progress: Progress | None = None,
) -> VerificationReport:
    """`trusted` are the keys checkpoint signatures must verify under. `kept` are checkpoints
    an auditor kept outside the database: each must still be matched by the chain (and, for
    signed notes, by the Merkle root), signed by a trusted key, and present in the
    checkpoints table, so a cut tail, a rewritten head row or deleted checkpoints after it
    are named."""
    with engine.connect() as conn:
        head_position, head_hash = conn.execute(
            sa.select(schema.head.c.position, schema.head.c.hash).where(schema.head.c.id == 1)
        ).one()
        wanted = {
            int(p)
            for p in conn.execute(
                sa.select(schema.checkpoints.c.position).where(
                    schema.checkpoints.c.position <= head_position
                )
            ).scalars()
        }
    wanted |= {k.position for k in kept if k.position <= head_position}
    seen = _Seen({0: GENESIS_HASH}, {0: EMPTY_ROOT})
    checked = 0
    checkpoints_checked = 0
    signatures = _Signatures(trusted)
    try:
        checked = _walk_chain(engine, head_position, head_hash, wanted, seen, progress)
        _check_kept(engine, kept, head_position, seen, signatures)
        checkpoints_checked = _check_checkpoints(engine, head_position, seen, signatures)
    except _Problem as problem:
        return VerificationReport(
            ok=False,
            verdict=Verdict.tampered,
            checked=checked,
            first_bad_position=problem.position,
            problem=problem.what,
            head_position=head_position,
            head_hash=head_hash,
            checkpoints_checked=checkpoints_checked,
            keys=signatures.key_uses(),
            unverified=signatures.unverified,
        )
    unverified = signatures.unverified
    return VerificationReport(
        ok=not unverified,
        verdict=Verdict.unverified if unverified else Verdict.intact,
        checked=checked,
        problem=_unverified_problem(unverified, trusted) if unverified else None,
        head_position=head_position,
        head_hash=head_hash,
        checkpoints_checked=checkpoints_checked,
        kept_checked=len(kept) - sum(1 for u in unverified if u.kept),
        keys=signatures.key_uses(),
        unverified=unverified,
    )


def _unverified_problem(unverified: list[UnverifiedCheckpoint], trusted: Sequence[Trusted]) -> str:
    """One sentence on why the checkpoints anchor nothing, and what to pass instead."""
    count = f"{len(unverified)} checkpoint{'s' if len(unverified) > 1 else ''}"
    if not trusted:
        return (
            f"{count} cannot be checked: no trusted key was given"
            " (--public-key or --vkey; or this host's signing key files)"
        )
    keys = sorted({key for u in unverified for key in u.signed_by})
    positions = ", ".join(f"{u.position}{' (kept)' if u.kept else ''}" for u in unverified[:5])
    more = f" and {len(unverified) - 5} more" if len(unverified) > 5 else ""
    return (
        f"{count} (at {positions}{more}) signed only by keys you did not trust:"
        f" {', '.join(keys) or 'none named'}; if one is yours, pass it as --vkey"
        " (`firebreak audit keys list` prints them)"
    )


class _Signatures:
    """Each checkpoint's signatures against the trusted keys: which key signed what, and the
    checkpoints no trusted key signed. A checkpoint that contradicts its own signed note, or
    names a trusted key whose signature does not hold, is tampered with."""

    def __init__(self, trusted: Sequence[Trusted]) -> None:
        self.trusted = trusted
        self.uses: dict[str, list[int]] = {}
        self.unverified: list[UnverifiedCheckpoint] = []

    def check(self, point: Checkpoint, where: str, *, kept: bool) -> bool:
        """True when a trusted key signed `point`; False (and noted) when none did."""
        edited = fields_unlike_note(point)
        if edited:
            raise _Problem(
                point.position,
                f"{where}: its {' and '.join(edited)} {'differ' if len(edited) > 1 else 'differs'}"
                " from the note it was signed as (the signature covers the note): edited",
            )
        found = check_signatures(point, self.trusted)
        if found.valid:
            self.uses.setdefault(found.valid[0], []).append(point.position)
            return True
        if found.failed:
            raise _Problem(
                point.position,
                f"{where} has a signature by the trusted key {found.failed[0]} that does not"
                " verify: it was forged or edited",
            )
        self.unverified.append(
            UnverifiedCheckpoint(position=point.position, kept=kept, signed_by=found.claimed)
        )
        return False

    def key_uses(self) -> list[KeyUse]:
        return [
            KeyUse(key=key, checkpoints=len(ps), first_position=min(ps), last_position=max(ps))
            for key, ps in self.uses.items()
        ]


@dataclass
class _Seen:
    """The chain's hash and the Merkle root at each position a checkpoint names."""

    hashes: dict[int, str]
    roots: dict[int, bytes]


def _walk_chain(
    engine: sa.Engine,
    head_position: int,
    head_hash: str,
    wanted: set[int],
    seen: _Seen,
    progress: Progress | None = None,
) -> int:
    """Check every row up to the head read at the start; return how many were checked."""
    expected, prev_hash = 1, GENESIS_HASH
    roots = RootAccumulator()
    c = schema.events.c
    while expected <= head_position:
        # A bounded position range, not `>= expected … LIMIT`: positions are dense, so the range
        # holds at most BATCH rows, and the planner never sorts the rest of the log per batch.
        upper = min(head_position, expected + BATCH - 1)
        rows = rows_between(engine, expected, upper)
        if not rows:
            raise _Problem(
                expected,
                f"events {expected}..{upper} are missing (the head says {head_position})",
            )
        for row in rows:
            # By index, not by name: a named lookup on a row costs more than its hashing.
            if row[POSITION] != expected:
                raise _Problem(expected, f"event at position {expected} is missing")
            if row[PREV_HASH] != prev_hash:
                raise _Problem(
                    expected, f"prev_hash does not match the hash of position {expected - 1}"
                )
            stored = row[-1]
            if encoded_hash(row[:-1]) != stored:
                raise _Problem(expected, "stored hash does not match the event's contents")
            roots.add(bytes.fromhex(stored))
            if expected in wanted:
                seen.hashes[expected] = stored
                seen.roots[expected] = roots.root()
            prev_hash = stored
            expected += 1
        if progress is not None:
            progress(expected - 1, head_position)
    if prev_hash != head_hash:
        raise _Problem(head_position, "the head row's hash does not match the last event")
    with engine.connect() as conn:
        beyond = conn.execute(
            sa.select(sa.func.min(c.position)).where(
                c.position
                > sa.select(schema.head.c.position).where(schema.head.c.id == 1).scalar_subquery()
            )
        ).scalar_one_or_none()
    if beyond is not None:
        raise _Problem(int(beyond), "event stored beyond the head (inserted behind the store)")
    return head_position


def rows_between(engine: sa.Engine, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """The `hashed_columns` of positions `lo`..`hi` in order, as the driver's own tuples.

    Fetched through the DBAPI cursor: every column is text or an integer with no result
    processing to do, and building SQLAlchemy rows cost about a sixth of verification's time
    (docs/benchmarks.md, "Audit store")."""
    statement = _RANGE_QUERIES.get(engine.dialect.name)
    if statement is None:
        c = schema.events.c
        query = (
            sa.select(*hashed_columns(engine.dialect.name))
            .where(c.position >= sa.bindparam("lo"), c.position <= sa.bindparam("hi"))
            .order_by(c.position)
        )
        statement = query.compile(dialect=engine.dialect)
        _RANGE_QUERIES[engine.dialect.name] = statement
    params = statement.construct_params({"lo": lo, "hi": hi})
    args: Any = (
        tuple(params[k] for k in statement.positiontup or ()) if statement.positional else params
    )
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(str(statement), args)
            return list(cursor.fetchall())
        finally:
            cursor.close()


_RANGE_QUERIES: dict[str, SQLCompiler] = {}
"""`rows_between`'s statement, compiled once per dialect."""


def hashed_columns(dialect: str) -> list[sa.ColumnElement[Any]]:
    """`chain.HASHED_FIELDS` in order, then the stored hash: what `encoded_hash` re-checks."""
    c = schema.events.c
    hashed = [
        _timestamp_text(c[name], dialect) if name in TIMESTAMP_FIELDS else c[name]
        for name in HASHED_FIELDS
    ]
    return [*hashed, c.hash]


# `to_char` equivalents of the strftime directives `chain.TIMESTAMP_FORMAT` uses.
_TO_CHAR = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS", "%f": "US"}


def _to_char_pattern(strftime: str) -> str:
    """PostgreSQL's `to_char` pattern for `strftime`, literal letters quoted."""
    parts = re.findall(r"%.|[^%]+", strftime)
    return "".join(
        _TO_CHAR[part] if part.startswith("%") else f'"{part}"' if part.isalpha() else part
        for part in parts
    )


def _timestamp_text(column: sa.Column[Any], dialect: str) -> sa.ColumnElement[str]:
    """`column` as `chain.timestamp` writes it, rendered by the database itself: parsing every
    timestamp into a datetime and back would cost most of the verification time."""
    if dialect == "postgresql":
        pattern = _to_char_pattern(TIMESTAMP_FORMAT)
        return sa.func.to_char(sa.func.timezone("UTC", column), pattern, type_=sa.String)
    # SQLAlchemy stores SQLite datetimes as text, "%Y-%m-%d %H:%M:%S.%f" (UTC here): the
    # canonical form but for the "T" and the "Z".
    raw = sa.cast(sa.type_coerce(column, sa.String), sa.String)
    return sa.func.replace(raw, " ", "T", type_=sa.String).concat("Z")


def _check_checkpoints(
    engine: sa.Engine, head_position: int, seen: _Seen, signatures: _Signatures
) -> int:
    """Every stored checkpoint. One that contradicts the chain is tampering whoever signed
    it: either the chain was rewritten or a false checkpoint was written beside it."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(schema.checkpoints).order_by(schema.checkpoints.c.position)
        ).all()
    for row in rows:
        point = from_row(row)
        where = f"checkpoint of {point.created_at:%Y-%m-%d %H:%M:%S}"
        if point.position > head_position:
            raise _Problem(
                head_position + 1,
                f"{where} covers position {point.position} beyond the head: events were removed",
            )
        _matches_chain(point, where, seen)
        signatures.check(point, where, kept=False)
    return len(rows)


def _matches_chain(point: Checkpoint, where: str, seen: _Seen) -> None:
    rewritten = f"the log was rewritten at or before position {point.position}"
    if seen.hashes.get(point.position) != point.head_hash:
        raise _Problem(point.position, f"{where} signed a different head hash: {rewritten}")
    root = seen.roots.get(point.position)
    if point.root_hash is not None and (root is None or root.hex() != point.root_hash):
        raise _Problem(point.position, f"{where} signed a different Merkle root: {rewritten}")


def _check_kept(
    engine: sa.Engine,
    kept: Sequence[Checkpoint],
    head_position: int,
    seen: _Seen,
    signatures: _Signatures,
) -> None:
    """Each checkpoint kept outside the database, oldest first: the strongest anchor, so it
    is checked before the database's own checkpoints (which an insider can delete). One
    that no trusted key signed is the auditor's unauthenticated input, so it anchors nothing
    and is not held against the database: it is reported unverified."""
    if not kept:
        return
    c = schema.checkpoints.c
    with engine.connect() as conn:
        stored = {
            (int(r.position), str(r.head_hash), str(r.signature), r.note)
            for r in conn.execute(sa.select(c.position, c.head_hash, c.signature, c.note))
        }
    notes = {entry[3] for entry in stored if entry[3] is not None}
    for point in sorted(kept, key=lambda k: k.position):
        where = (
            f"kept checkpoint at position {point.position} ({point.created_at:%Y-%m-%d %H:%M:%S})"
        )
        if not signatures.check(point, where, kept=True):
            continue
        if point.position > head_position:
            raise _Problem(
                head_position + 1,
                f"{where} covers events beyond the head at {head_position}: events were removed",
            )
        _matches_chain(point, where, seen)
        present = (
            point.note in notes
            if point.note is not None
            else (point.position, point.head_hash, point.signature, None) in stored
        )
        if not present:
            raise _Problem(
                point.position, f"{where} is missing from the database: checkpoints were deleted"
            )
