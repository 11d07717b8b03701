"""Creating, authenticating and revoking principals; their webhook signing secrets.

Tokens are `fbk_` + 32 random bytes (URL-safe), shown once and stored only as a SHA-256 hash:
a leaked database does not leak working tokens. Authentication reads the row on every request,
so a revocation takes effect at once on every API replica. Webhook signing secrets
(`whsec_<base64>`) are sealed with the key ring because verifying an HMAC needs the secret
itself; at most two are active per source, so a sender can rotate without dropped deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrator.audit import EventStore
from orchestrator.db import DATABASE_ERRORS, database_unavailable, writing
from orchestrator.domain import Actor, Environment, EventType, NewEvent, Role
from orchestrator.errors import Conflict, InvalidInput, NotFound
from orchestrator.principals.models import (
    TOKEN_PREFIX,
    Principal,
    PrincipalInfo,
    principals,
    webhook_secrets,
)
from orchestrator.security.keyring import KeyRing

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks secret prefix
ACTIVE_SECRETS = 2
AUDIT_STREAM = "principals"

# The reads on every alert's path are built once: SQLAlchemy caches a statement object's
# compiled form by its cache key, which a statement built per request has to recompute
# (figures: docs/benchmarks.md, "The alert path's reads are built once").
BY_TOKEN = sa.select(principals).where(
    principals.c.token_hash == sa.bindparam("token_hash"), principals.c.revoked_at.is_(None)
)
ACTIVE_SECRETS_OF = sa.select(webhook_secrets.c.id, webhook_secrets.c.sealed_secret).where(
    webhook_secrets.c.principal_id == sa.bindparam("principal_id"),
    webhook_secrets.c.retired_at.is_(None),
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_principal(
    engine: sa.Engine,
    name: str,
    role: Role,
    environments: Iterable[Environment],
    *,
    actor: Actor | None = None,
) -> tuple[Principal, str]:
    """Store a new principal and return it with its token, which is never shown again.

    No environments means every tier. The creation is recorded in the audit log.
    """
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            "name must be 1-100 letters, digits or . _ @ - and start with a letter or digit",
            "name",
        )
    envs = frozenset(environments) or frozenset(Environment)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    principal = Principal(id=uuid.uuid4().hex, name=name, role=role, environments=envs)
    now = datetime.now(UTC)
    try:
        with writing(engine) as conn:
            conn.execute(
                sa.insert(principals).values(
                    id=principal.id,
                    name=name,
                    role=role.value,
                    environments=sorted(e.value for e in envs),
                    token_prefix=token[: len(TOKEN_PREFIX) + 6],
                    token_hash=hash_token(token),
                    created_at=now,
                )
            )
    except IntegrityError:
        raise Conflict(f"an active principal named {name!r} already exists") from None
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    _record(engine, EventType.principal_created, principal, actor, now)
    return principal, token


def authenticate(engine: sa.Engine, token: str) -> Principal | None:
    """The active principal holding `token`, or None (unknown or revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    try:
        with engine.connect() as conn:
            row = conn.execute(BY_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    if row is None:
        return None
    return Principal.from_row(row)


def list_principals(engine: sa.Engine, *, include_revoked: bool = False) -> list[PrincipalInfo]:
    active = (
        sa.select(webhook_secrets.c.principal_id, sa.func.count().label("n"))
        .where(webhook_secrets.c.retired_at.is_(None))
        .group_by(webhook_secrets.c.principal_id)
        .subquery()
    )
    query = (
        sa.select(principals, sa.func.coalesce(active.c.n, 0).label("secrets"))
        .outerjoin(active, active.c.principal_id == principals.c.id)
        .order_by(principals.c.created_at, principals.c.id)
    )
    if not include_revoked:
        query = query.where(principals.c.revoked_at.is_(None))
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    return [
        PrincipalInfo(
            id=r.id,
            name=r.name,
            role=Role(r.role),
            environments=[Environment(e) for e in r.environments],
            token_prefix=r.token_prefix,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
            webhook_secrets=r.secrets,
        )
        for r in rows
    ]


def revoke_principal(
    engine: sa.Engine, name_or_id: str, *, actor: Actor | None = None
) -> Principal:
    """Revoke the active principal with this name or id; its token stops working at once."""
    now = datetime.now(UTC)
    try:
        with writing(engine) as conn:
            principal = _active(conn, name_or_id)
            conn.execute(
                sa.update(principals).where(principals.c.id == principal.id).values(revoked_at=now)
            )
            conn.execute(
                sa.update(webhook_secrets)
                .where(
                    webhook_secrets.c.principal_id == principal.id,
                    webhook_secrets.c.retired_at.is_(None),
                )
                .values(retired_at=now)
            )
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    _record(engine, EventType.principal_revoked, principal, actor, now)
    return principal


def add_webhook_secret(engine: sa.Engine, ring: KeyRing, name_or_id: str) -> str:
    """A new signing secret for a source, shown once. The previous one stays active (rotation);
    anything older is retired, so at most two verify at a time."""
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    now = datetime.now(UTC)
    try:
        with writing(engine) as conn:
            principal = _active(conn, name_or_id)
            secret_id = uuid.uuid4().hex
            conn.execute(
                sa.insert(webhook_secrets).values(
                    id=secret_id,
                    principal_id=principal.id,
                    sealed_secret=_seal(ring, secret_id, secret),
                    created_at=now,
                )
            )
            _retire(conn, _active_secret_ids(conn, principal.id)[ACTIVE_SECRETS:], now)
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    return secret


def retire_webhook_secrets(engine: sa.Engine, name_or_id: str, *, keep_newest: bool) -> int:
    """Finish a rotation (`keep_newest`) or stop requiring signatures; returns how many retired."""
    now = datetime.now(UTC)
    try:
        with writing(engine) as conn:
            principal = _active(conn, name_or_id)
            ids = _active_secret_ids(conn, principal.id)[1 if keep_newest else 0 :]
            _retire(conn, ids, now)
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    return len(ids)


def active_webhook_secrets(engine: sa.Engine, ring: KeyRing, principal_id: str) -> list[bytes]:
    """The decoded HMAC keys that may sign this source's deliveries (none: no signing)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(ACTIVE_SECRETS_OF, {"principal_id": principal_id}).all()
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "principals table") from None
    return [decode_secret(_open(ring, r.id, r.sealed_secret)) for r in rows]


def decode_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_<base64>` secret (the Standard Webhooks convention)."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        raise InvalidInput("a webhook secret is whsec_ followed by base64", "secret") from None
    if not key:
        raise InvalidInput("a webhook secret is whsec_ followed by base64", "secret")
    return key


def _active(conn: sa.Connection, name_or_id: str) -> Principal:
    row = conn.execute(
        sa.select(principals).where(
            sa.or_(principals.c.name == name_or_id, principals.c.id == name_or_id),
            principals.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"no active principal {name_or_id!r}")
    return Principal.from_row(row)


def _active_secret_ids(conn: sa.Connection, principal_id: str) -> list[str]:
    """Ids of the principal's active secrets, newest first."""
    query = (
        sa.select(webhook_secrets.c.id)
        .where(
            webhook_secrets.c.principal_id == principal_id,
            webhook_secrets.c.retired_at.is_(None),
        )
        .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
    )
    return list(conn.execute(query).scalars())


def _retire(conn: sa.Connection, secret_ids: list[str], at: datetime) -> None:
    if secret_ids:
        conn.execute(
            sa.update(webhook_secrets)
            .where(webhook_secrets.c.id.in_(secret_ids))
            .values(retired_at=at)
        )


def _seal(ring: KeyRing, secret_id: str, secret: str) -> str:
    return base64.b64encode(ring.seal(secret.encode(), secret_id.encode())).decode()


def _open(ring: KeyRing, secret_id: str, sealed: str) -> str:
    return ring.open(base64.b64decode(sealed), secret_id.encode()).decode()


def _record(
    engine: sa.Engine, kind: EventType, principal: Principal, actor: Actor | None, at: datetime
) -> None:
    event = NewEvent(
        id=str(uuid.uuid4()),
        type=kind.value,
        actor=actor or Actor.system("principals"),
        occurred_at=at,
        payload={
            "principal_id": principal.id,
            "name": principal.name,
            "role": principal.role.value,
            "environments": sorted(e.value for e in principal.environments),
        },
    )
    EventStore(engine).append(AUDIT_STREAM, [event])
