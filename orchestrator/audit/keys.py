"""The directory of checkpoint signing keys in the database (`audit_signing_keys`).

Lists which public keys have signed checkpoints and when each was retired, for auditors and
for verification's report. It is never a trust anchor: anyone who can write the database can
write this table, so `verify` checks signatures against keys the auditor holds.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import IntegrityError

from orchestrator.audit import schema
from orchestrator.audit.models import SigningKey
from orchestrator.audit.notes import VerifierKey, hint_text
from orchestrator.audit.signing import fingerprint, public_key_pem
from orchestrator.timeutil import as_utc

table = schema.signing_keys


def first_name(engine: sa.Engine) -> str | None:
    """The key name of the first key registered: the log's origin unless configured."""
    query = sa.select(table.c.name).order_by(table.c.id).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


def register(engine: sa.Engine, name: str, key: Ed25519PublicKey, now: datetime) -> bool:
    """Record `key` under `name` unless it is there; True when this call added it. Concurrent
    callers (workers starting together) end with one row."""
    vkey = VerifierKey(name, key)
    exists = sa.select(table.c.id).where(
        table.c.name == name, table.c.key_hash == hint_text(vkey.hint)
    )
    with engine.connect() as conn:
        if conn.execute(exists).first() is not None:
            return False
    row = {
        "name": name,
        "key_hash": hint_text(vkey.hint),
        "verifier_key": vkey.text(),
        "fingerprint": fingerprint(key),
        "created_at": now,
    }
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(table).values(**row))
    except IntegrityError:
        return False
    return True


def retire_all_but(engine: sa.Engine, key: Ed25519PublicKey, now: datetime) -> list[str]:
    """Mark every other unretired key retired at `now`; return their verifier keys."""
    others = sa.and_(table.c.fingerprint != fingerprint(key), table.c.retired_at.is_(None))
    with engine.begin() as conn:
        retired = list(conn.execute(sa.select(table.c.verifier_key).where(others)).scalars())
        conn.execute(sa.update(table).where(others).values(retired_at=now))
    return retired


def listed(engine: sa.Engine) -> list[SigningKey]:
    """Every registered key, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
    keys = []
    for row in rows:
        vkey = VerifierKey.parse(row.verifier_key)
        keys.append(
            SigningKey(
                name=row.name,
                key_hash=row.key_hash,
                verifier_key=row.verifier_key,
                fingerprint=row.fingerprint,
                public_key_pem=public_key_pem(vkey.key),
                created_at=as_utc(row.created_at),
                retired_at=as_utc(row.retired_at) if row.retired_at else None,
            )
        )
    return keys
