"""Per-resource guard: one remediation per resource per window, across incidents.

The rule: when incident A has applied a remediating action (revoke a key, roll back or retrain
a model, quarantine a dataset, suspend an agent tool) to a resource, another incident asking
for a remediation of the *same resource* within `guard_window_seconds` gets `changed=False`
and a summary naming A and the time, and nothing is done. Incident A itself is never blocked
(its retries and later steps pass). Inverses (restore, release) claim nothing and do not
clear the claim, so a remediate -> restore -> re-alert loop still stops at the guard; but an
inverse asked for by an incident other than the holder is refused within the window, so an
incident whose own remediation was refused cannot undo the holder's. A new claim whose effect
failed is withdrawn, so a failed attempt blocks nobody.

The claims live in the event-store database (`guard_claims`, migration `0008`), one row per
resource, so every worker on every host sees the same holder. A claim is one upsert that
takes the row only when it is free or its holder's window has passed: two workers racing for
one resource each send it, the database orders them (PostgreSQL's row lock on the conflict,
SQLite's single writer), and exactly one finds its incident in the row. The guard sits in the
activities rather than in providers, so every provider gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel

from activities.errors import ProviderError, database_errors
from orchestrator.db import upsert, writing
from orchestrator.timeutil import as_utc

metadata = sa.MetaData()
claims = sa.Table(
    "guard_claims",
    metadata,
    sa.Column("resource", sa.Text, primary_key=True),
    sa.Column("incident_id", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

CLAIM_ATTEMPTS = 5
"""Rounds of upsert-then-read a claim may take: a round is lost only when the row it lost to
is withdrawn before it is read (its holder's effect failed in between)."""


class GuardHold(BaseModel):
    """The incident that already remediated a resource, and when."""

    incident_id: str
    action: str
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ResourceGuard:
    def __init__(
        self,
        engine: sa.Engine,
        window_seconds: int,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock

    def check(self, resource: str, incident_id: str) -> GuardHold | None:
        """The other incident holding `resource`, without claiming it (for dry runs and
        inverses)."""
        with database_errors("resource guard"), self.engine.connect() as conn:
            return self._holder(_read(conn, resource), incident_id, self.clock())

    def claim(self, resource: str, incident_id: str, action: str) -> GuardHold | bool:
        """Claim `resource` for `incident_id`: the other incident holding it, or whether the
        claim is new (only a new claim may be withdrawn when the effect fails)."""
        now = self.clock()
        row = {"resource": resource, "incident_id": incident_id, "action": action}
        statement = upsert(self.engine, claims).values(**row, claimed_at=now)
        take = statement.on_conflict_do_update(
            index_elements=[claims.c.resource],
            set_={
                "incident_id": statement.excluded.incident_id,
                "action": statement.excluded.action,
                "claimed_at": statement.excluded.claimed_at,
            },
            where=sa.and_(
                claims.c.incident_id != statement.excluded.incident_id,
                claims.c.claimed_at <= now - self.window,
            ),
        ).returning(claims.c.resource)
        for _ in range(CLAIM_ATTEMPTS):
            with database_errors("resource guard"), writing(self.engine) as conn:
                if conn.execute(take).first() is not None:
                    return True
                current = _read(conn, resource)
            if current is not None:
                return self._holder(current, incident_id, now) or False
        raise ProviderError(f"guard: could not settle the claim on {resource}")

    def withdraw(self, resource: str, incident_id: str) -> None:
        """Drop `incident_id`'s claim after its effect failed."""
        mine = sa.and_(claims.c.resource == resource, claims.c.incident_id == incident_id)
        with database_errors("resource guard"), writing(self.engine) as conn:
            conn.execute(claims.delete().where(mine))

    def _holder(self, claim: GuardHold | None, incident_id: str, now: datetime) -> GuardHold | None:
        if claim is None or claim.incident_id == incident_id:
            return None
        return claim if now - claim.at < self.window else None


def _read(conn: sa.Connection, resource: str) -> GuardHold | None:
    row = conn.execute(
        sa.select(claims.c.incident_id, claims.c.action, claims.c.claimed_at).where(
            claims.c.resource == resource
        )
    ).first()
    if row is None:
        return None
    return GuardHold(incident_id=row.incident_id, action=row.action, at=as_utc(row.claimed_at))
