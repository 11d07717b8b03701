"""Console sessions: signing in with an API token, resolving a cookie, signing out.

A session lives in the database (never in the cookie), so signing out, expiry and revoking
the principal end it on every API replica at once: each request re-reads the session joined
with its principal, and a revoked principal's row no longer matches.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from orchestrator.console.models import ConsoleSession, sessions
from orchestrator.db import DATABASE_ERRORS, database_unavailable, writing
from orchestrator.errors import Forbidden
from orchestrator.principals.models import Permission, Principal, principals
from orchestrator.principals.service import authenticate
from orchestrator.timeutil import as_utc

MAX_SESSION_ID_LENGTH = 100


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def sign_in(
    engine: sa.Engine, token: str, lifetime: timedelta
) -> tuple[str, ConsoleSession] | None:
    """A new session for the token's principal, with its raw id for the cookie; None for an
    unknown or revoked token. Expired sessions are swept here, the one write path.

    Only roles that may read incidents get a session: a `source` token has nothing to see.
    """
    principal = authenticate(engine, token)
    if principal is None:
        return None
    if not principal.has(Permission.incidents_read):
        raise Forbidden(f"role {principal.role.value!r} has no access to the console")
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires_at = now + lifetime
    try:
        with writing(engine) as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                sa.insert(sessions).values(
                    id_hash=_hash(session_id),
                    principal_id=principal.id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "console session store") from None
    return session_id, ConsoleSession(principal, csrf_token, expires_at)


def resolve(engine: sa.Engine, session_id: str) -> ConsoleSession | None:
    """The live session with this id: unexpired, and its principal still active."""
    if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        return None
    query = (
        sa.select(sessions.c.csrf_token, sessions.c.expires_at, principals)
        .join(principals, principals.c.id == sessions.c.principal_id)
        .where(
            sessions.c.id_hash == _hash(session_id),
            sessions.c.expires_at > datetime.now(UTC),
            principals.c.revoked_at.is_(None),
        )
    )
    try:
        with engine.connect() as conn:
            row = conn.execute(query).one_or_none()
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "console session store") from None
    if row is None:
        return None
    principal = Principal.from_row(row)
    return ConsoleSession(principal, row.csrf_token, as_utc(row.expires_at))


def sign_out(engine: sa.Engine, session_id: str) -> None:
    try:
        with writing(engine) as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.id_hash == _hash(session_id)))
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "console session store") from None
