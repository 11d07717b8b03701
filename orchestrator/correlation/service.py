"""Which open incident an alert joins, by the entities it names or a merge, agreed on by every
API replica through the entity index (`models.py`).

An alert whose route has a `correlation` section names entities: its resources of the kinds
the section lists, each keyed by environment, kind and value. For each, in the section's
order, the ingress *claims* the entity's row for the incident the alert would go to:

0. read who holds each entity: the first one another incident holds is where the alert goes;
1. insert the row (the primary key is the entity's key); the first alert wins;
2. else take over a row whose window passed (a conditional update, so one racer wins);
3. else the row is live: read whose it is and slide its window to this alert's arrival plus
   the rule's window.

Steps 1-3 are each one atomic statement on SQLite and PostgreSQL alike, so two replicas racing
with alerts of different fingerprints for one entity agree on one incident (a holder that
appears between step 0 and the claim is found by the claim, and followed). The first entity
another incident holds decides where the alert goes (`Alert.joined`, recorded with the alert
and on the incident); the alert's other entities are claimed for that incident too, so a later
alert naming only one of them still finds it. A resolved alert follows its entity's incident
(step 0) but claims nothing.

A merged incident's own workflow gets a row too (`kind` `merged`, see `repoint`): every alert
is looked up by its own workflow id before anything else, so alerts of the merged incident's
key land in the survivor while that row's window lasts (each such alert slides it).

An index row that outlives its incident does no harm: the alert goes to that workflow id,
and Temporal opens a new incident there when the old one has closed, so a closed incident is
never joined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from orchestrator.correlation.models import entity_claims
from orchestrator.domain import Alert, AlertStatus, EntityJoin
from orchestrator.timeutil import as_utc

MERGED = "merged"
"""The kind of a merged incident's row, and of the joins it causes."""
MERGE_RULE = "merge"
MERGE_WINDOW_SECONDS = 24 * 3600
"""How long a merged incident's key keeps leading to the survivor when none of its entities
had a longer window; each alert of that key slides it."""
VALUE_CHARS = 200
"""The longest entity value kept (the column's width); longer ones are keyed in full."""

c = entity_claims.c
LIVE_OF = sa.select(c.key, c.workflow_id).where(
    c.key.in_(sa.bindparam("keys", expanding=True)), c.expires_at > sa.bindparam("now")
)


@dataclass(frozen=True)
class Entity:
    """One entity an alert names, keyed as the index keys it."""

    key: str
    environment: str
    kind: str
    value: str


def entity_key(environment: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{environment}\n{kind}\n{value}".encode()).hexdigest()


def merged_key(workflow_id: str) -> str:
    return hashlib.sha256(f"{MERGED}\n{workflow_id}".encode()).hexdigest()


def entities_of(alert: Alert) -> list[Entity]:
    """The entities of the alert's correlation rule that it names, in the rule's order."""
    rule = alert.correlation
    if rule is None:
        return []
    env = alert.environment.value
    found = []
    for kind in rule.kinds:
        value = getattr(alert.resources, kind, None)
        if value:
            found.append(Entity(entity_key(env, kind, value), env, kind, value[:VALUE_CHARS]))
    return found


def merge_redirects(conn: sa.Connection, alerts: list[Alert]) -> dict[str, str]:
    """Own workflow id -> survivor's, for the alerts whose own incident was merged away (one
    indexed read; part of what the ingress reads before writing)."""
    keys = {merged_key(a.own_workflow_id): a.own_workflow_id for a in alerts}
    if not keys:
        return {}
    now = min(a.received_at for a in alerts)
    rows = conn.execute(LIVE_OF, {"keys": sorted(keys), "now": now}).all()
    return {keys[key]: workflow_id for key, workflow_id in rows}


def needs_claims(alerts: list[Alert], redirects: dict[str, str]) -> bool:
    """Whether `correlate` has anything to do (else the ingress skips its write)."""
    return bool(redirects) or any(entities_of(a) for a in alerts)


def correlate(conn: sa.Connection, alerts: list[Alert], redirects: dict[str, str]) -> list[Alert]:
    """Each alert with `joined` set where another incident holds it (module docstring), its
    entities claimed; in the caller's write transaction."""
    return [_correlate(conn, alert, redirects.get(alert.own_workflow_id)) for alert in alerts]


def _correlate(conn: sa.Connection, alert: Alert, redirect: str | None) -> Alert:
    now = alert.received_at
    firing = alert.status is AlertStatus.firing
    joined: EntityJoin | None = None
    if redirect is not None:
        joined = EntityJoin(
            workflow_id=redirect, kind=MERGED, value=alert.own_workflow_id, rule=MERGE_RULE
        )
        if firing:
            _slide(conn, merged_key(alert.own_workflow_id), now)
    rule = alert.correlation
    entities = entities_of(alert)
    if rule is None or not entities:
        return alert if joined is None else alert.model_copy(update={"joined": joined})
    own = alert.own_workflow_id

    def join(holder: str, entity: Entity) -> EntityJoin:
        return EntityJoin(workflow_id=holder, kind=entity.kind, value=entity.value, rule=rule.rule)

    # First the holder of the first entity another incident holds, so that the entities
    # before it in the rule's order are claimed for that incident, not for this alert's own.
    for entity in entities if joined is None else []:
        holder = _holder(conn, entity.key, now)
        if holder is not None and holder != own:
            joined = join(holder, entity)
            break
    if firing:
        for entity in entities:
            target = joined.workflow_id if joined is not None else own
            holder = _claim(conn, entity, target, rule.rule, rule.window_seconds, now)
            if joined is None and holder != own:  # claimed by a racer since it was read
                joined = join(holder, entity)
    return alert if joined is None else alert.model_copy(update={"joined": joined})


def _claim(
    conn: sa.Connection,
    entity: Entity,
    workflow_id: str,
    rule: str,
    window_seconds: int,
    now: datetime,
) -> str:
    """The workflow that holds `entity` once this alert claimed it (steps 1-3 above)."""
    expires = now + timedelta(seconds=window_seconds)
    claim = {
        "workflow_id": workflow_id,
        "rule": rule,
        "window_seconds": window_seconds,
        "claimed_at": now,
        "expires_at": expires,
    }
    row = {"key": entity.key, "environment": entity.environment, "kind": entity.kind}
    insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = insert(entity_claims).values(**row, value=entity.value, **claim)
    take_over = (
        sa.update(entity_claims).where(c.key == entity.key, c.expires_at <= now).values(**claim)
    )
    slide = (
        sa.update(entity_claims)
        .where(c.key == entity.key, c.expires_at < expires)
        .values(expires_at=expires)
    )
    while True:
        if conn.execute(statement.on_conflict_do_nothing(index_elements=["key"])).rowcount == 1:
            return workflow_id
        if conn.execute(take_over).rowcount == 1:
            return workflow_id
        conn.execute(slide)
        holder = conn.execute(sa.select(c.workflow_id).where(c.key == entity.key)).scalar()
        if holder is not None:
            return str(holder)
        # The expired row the insert ran into was pruned (`orchestrator.retention`) before the
        # take-over read it: the entity is free, so claim it again. Only an expired row is
        # pruned, and a row claimed anew is live, so this repeats at most once per prune.


def _holder(conn: sa.Connection, key: str, now: datetime) -> str | None:
    row = conn.execute(sa.select(c.workflow_id, c.expires_at).where(c.key == key)).one_or_none()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return str(row.workflow_id)


def _slide(conn: sa.Connection, key: str, now: datetime) -> None:
    """Slide a live row's window to `now` plus the row's own window."""
    row = conn.execute(sa.select(c.window_seconds, c.expires_at).where(c.key == key)).one_or_none()
    if row is None:
        return
    expires = now + timedelta(seconds=int(row.window_seconds))
    if as_utc(row.expires_at) < expires:
        conn.execute(sa.update(entity_claims).where(c.key == key).values(expires_at=expires))


def repoint(conn: sa.Connection, merged: str, survivor: str, now: datetime) -> int:
    """After `merged` (a workflow id) merged into `survivor`: its entities lead to the survivor,
    and so does its own key (a `merged` row, as long as its longest window, at least
    `MERGE_WINDOW_SECONDS`). Returns how many entity rows moved."""
    windows = conn.execute(
        sa.select(sa.func.max(c.window_seconds)).where(c.workflow_id == merged)
    ).scalar_one_or_none()
    moved = conn.execute(
        sa.update(entity_claims).where(c.workflow_id == merged).values(workflow_id=survivor)
    ).rowcount
    # Earlier merges into `merged` now lead to the survivor as well.
    window = max(int(windows or 0), MERGE_WINDOW_SECONDS)
    claim = {
        "workflow_id": survivor,
        "rule": MERGE_RULE,
        "window_seconds": window,
        "claimed_at": now,
        "expires_at": now + timedelta(seconds=window),
    }
    row = {"key": merged_key(merged), "environment": "", "kind": MERGED, "value": merged}
    insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = insert(entity_claims).values(**row, **claim)
    conn.execute(statement.on_conflict_do_update(index_elements=["key"], set_=claim))
    return int(moved)
