"""The incidents projection, on SQLite and PostgreSQL, fed by a real event store."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from orchestrator import db
from orchestrator.audit import EventStore
from orchestrator.incidents import service
from orchestrator.incidents.models import decisions, incidents, sla_breaches, tracking
from orchestrator.incidents.projector import IncidentProjector
from tests.support.incidents import eventually
from tests.support.stories import T0, Story

ALL_ENVS = ("dev", "staging", "prod")
HOUR = timedelta(hours=1)


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "incidents": [
                dict(r._mapping)
                for r in conn.execute(sa.select(incidents).order_by(incidents.c.id))
            ],
            "decisions": [
                dict(r._mapping)
                for r in conn.execute(sa.select(decisions).order_by(decisions.c.decision_id))
            ],
            "position": conn.execute(sa.select(tracking.c.position)).scalar(),
        }


def test_lifecycle_is_projected(store: EventStore, projector: IncidentProjector) -> None:
    story = Story(store).open().contain().request("quarantine", approvals=2, requested_by="alice")
    projector.catch_up()
    opened = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert opened is not None
    assert opened.status == "awaiting_decision"
    assert opened.phase == "containment"
    assert opened.alert_count == 1
    assert opened.time_to_contain_seconds == 5.0  # opened at +1s, containment completed at +6s
    assert [p.step_id for p in opened.pending] == ["quarantine"]
    assert opened.phases["containment"].completed_at is not None

    story.approve("quarantine", "bob", ["bob"], required=2)
    projector.catch_up()
    waiting = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert waiting is not None and waiting.pending[0].approved_by == ["bob"]

    story.approve("quarantine", "carol", ["bob", "carol"], required=2).run("quarantine").close()
    projector.catch_up()
    closed = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert closed is not None
    assert closed.status == "closed" and closed.outcome == "resolved" and closed.pending == []
    assert closed.time_to_contain_seconds == 5.0
    with projector.engine.connect() as conn:
        waits = sorted(conn.execute(sa.select(decisions.c.wait_seconds)).scalars())
    assert waits == [1.0, 2.0]


SLA = {"acknowledge_seconds": 60, "contain_seconds": 600, "resolve_seconds": 3600}


def test_lifecycle_statuses_and_sla_are_projected(
    store: EventStore, projector: IncidentProjector
) -> None:
    story = Story(store, lifecycle=True, sla=SLA).open()
    projector.catch_up()
    opened = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert opened is not None and opened.status == "open"
    assert opened.sla is not None and opened.sla.acknowledge_seconds == 60
    assert opened.sla_next is not None and opened.sla_next.leg == "acknowledge"
    assert opened.sla_next.due_at == opened.opened_at + timedelta(seconds=60)

    story.breach("acknowledge", 60).acknowledge("bob").contain().contained()
    story.request("quarantine", requested_by="alice")
    projector.catch_up()
    contained = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert contained is not None and contained.status == "contained"
    assert contained.acknowledged_by == "bob" and contained.sla_breached == ["acknowledge"]
    assert contained.sla_next is not None and contained.sla_next.leg == "resolve"
    [waiting] = service.pending_for(projector.engine, "carol", ALL_ENVS)
    assert waiting.incident_sla == contained.sla_next, "approvals show the incident's countdown"

    story.resolved().reopened()
    projector.catch_up()
    reopened = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert reopened is not None and reopened.status == "open"
    assert reopened.reopened_count == 1 and reopened.resolved_at is not None
    assert reopened.sla_next is None, "every leg met or breached"

    story.resolved(by="responder").close()
    projector.catch_up()
    closed = service.get_incident(projector.engine, story.incident_id, ALL_ENVS)
    assert closed is not None and closed.status == "closed" and closed.sla_next is None
    first = contained.time_to_contain_seconds
    assert closed.time_to_contain_seconds == first and closed.time_to_resolve_seconds is not None
    with projector.engine.connect() as conn:
        legs = conn.execute(sa.select(sla_breaches.c.leg, sla_breaches.c.severity)).all()
    assert [tuple(r) for r in legs] == [("acknowledge", "high")]
    before = snapshot(projector.engine)
    projector.rebuild()
    assert snapshot(projector.engine) == before
    with projector.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sla_breaches)).scalar() == 1


def test_rebuild_equals_incremental_and_rerun_is_a_no_op(
    store: EventStore, projector: IncidentProjector
) -> None:
    for env in ALL_ENVS:
        story = Story(store, environment=env).open()
        projector.catch_up()
        story.contain().request("quarantine")
        projector.catch_up()
        story.approve("quarantine", "bob", ["bob"]).run("quarantine")
        if env != "dev":
            story.close("aborted" if env == "staging" else "resolved")
    projector.catch_up()
    incremental = snapshot(projector.engine)
    assert projector.catch_up() == 0
    assert snapshot(projector.engine) == incremental

    assert projector.rebuild() == incremental["position"]
    assert snapshot(projector.engine) == incremental
    statuses = sorted(r["status"] for r in incremental["incidents"])
    assert statuses == ["aborted", "active", "closed"]


def test_concurrent_projectors_never_apply_an_event_twice(
    store: EventStore, projector: IncidentProjector
) -> None:
    stories = [Story(store).open().contain().request("quarantine") for _ in range(4)]
    for story in stories:
        story.approve("quarantine", "bob", ["bob"])
    rival = IncidentProjector(projector.engine, store, batch_size=2)
    errors: list[BaseException] = []

    def follow(p: IncidentProjector) -> None:
        try:
            p.catch_up()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=follow, args=(p,)) for p in (projector, rival, projector)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    concurrent = snapshot(projector.engine)
    projector.rebuild()
    assert snapshot(projector.engine) == concurrent
    assert len(concurrent["decisions"]) == 4


def test_listing_is_scoped_filtered_and_paginated(
    store: EventStore, projector: IncidentProjector
) -> None:
    for i in range(5):
        Story(store, environment="prod", severity="critical" if i % 2 else "low").open()
    Story(store, environment="dev").open()
    projector.catch_up()
    engine = projector.engine

    assert len(service.list_incidents(engine, ["dev"]).items) == 1
    critical = service.list_incidents(engine, ALL_ENVS, severity="critical")
    assert len(critical.items) == 2

    seen: list[str] = []
    cursor = None
    while True:
        page = service.list_incidents(engine, ["prod"], limit=2, cursor=cursor)
        seen += [item.id for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 5
    opened = [item.opened_at for item in service.list_incidents(engine, ["prod"]).items]
    assert opened == sorted(opened, reverse=True)


def test_pending_for_excludes_own_requests_and_own_approvals(
    store: EventStore, projector: IncidentProjector
) -> None:
    mine = Story(store).open().request("step-a", requested_by="alice")
    approved = (
        Story(store).open().request("step-b", approvals=2).approve("step-b", "alice", ["alice"], 2)
    )
    other = Story(store, start=T0 + 2 * HOUR).open().request("step-c")
    Story(store, environment="dev").open().request("step-d")
    projector.catch_up()

    alice = service.pending_for(projector.engine, "alice", ["prod"])
    assert [(p.incident_id, p.step_id) for p in alice] == [(other.incident_id, "step-c")]
    bob = service.pending_for(projector.engine, "bob", ["prod"])
    assert [p.incident_id for p in bob] == [
        mine.incident_id,
        approved.incident_id,
        other.incident_id,
    ]


async def test_background_projection_survives_a_database_outage(tmp_path: Path) -> None:
    """While the log cannot be read every pass fails; the task keeps going, then catches up."""
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    store = EventStore(engine)
    story = Story(store).open()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_events RENAME TO audit_events_away"))
    task = asyncio.create_task(IncidentProjector(engine, store).run(interval=0.05))
    try:
        await asyncio.sleep(0.3)
        assert not task.done()
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_events_away RENAME TO audit_events"))
        await eventually(lambda: service.get_incident(engine, story.incident_id, ALL_ENVS))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()


def test_the_projection_never_opens_the_events_it_does_not_fold(
    engine: sa.Engine, store: EventStore
) -> None:
    """Alert records carry sealed alert text; a follower without the key ring still projects,
    because it reads only the event types it folds."""
    from orchestrator.domain import Actor, NewEvent
    from orchestrator.security.keyring import KeyRing

    sealing = EventStore(engine, keyring=KeyRing.generate())
    sealing.append(
        "alert-sealed",
        [
            NewEvent(
                id="sealed-1",
                type="AlertReceived",
                actor=Actor(id="detector", role="source"),
                occurred_at=T0,
                payload={"alert": {"title": "secret prompt"}},
                sensitive=("alert",),
            )
        ],
    )
    story = Story(store).open()
    keyless = IncidentProjector(engine, store)
    assert keyless.catch_up() == 2
    (row,) = snapshot(engine)["incidents"]
    assert row["id"] == story.incident_id
    assert row["alert_count"] == 1


def test_a_burst_is_folded_into_one_write_per_incident(
    engine: sa.Engine, store: EventStore
) -> None:
    """A storm appends an `AlertAttached` per alert; the projector folds a whole batch of them
    in memory and writes each incident row once, not once per event."""
    stories = [Story(store).open() for _ in range(2)]
    for story in stories:
        for n in range(2, 52):
            story.emit("AlertAttached", alert_id=f"a-{n}", status="firing", alert_count=n)
    writes: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT INTO INCIDENTS", "UPDATE INCIDENTS")):
            writes.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        applied = IncidentProjector(engine, store, batch_size=500).catch_up()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert applied == 2 * 52
    assert len(writes) == 1  # one multi-row insert: both rows were opened in the same batch
    folded = snapshot(engine)
    assert [r["alert_count"] for r in folded["incidents"]] == [51, 51]
    IncidentProjector(engine, store).rebuild()
    assert snapshot(engine)["incidents"] == folded["incidents"]


def test_a_merge_moves_the_alert_count_to_the_survivor(
    store: EventStore, projector: IncidentProjector
) -> None:
    survivor, merged = Story(store).open(), Story(store).open()
    merged.emit("IncidentMerged", merged_into=survivor.incident_id, alert_count=1, reason="r")
    merged.close("merged")
    survivor.emit("IncidentMerged", merged_from=merged.incident_id, alert_count=1, reason="r")
    projector.catch_up()
    kept = service.get_incident(projector.engine, survivor.incident_id, ALL_ENVS)
    gone = service.get_incident(projector.engine, merged.incident_id, ALL_ENVS)
    assert kept is not None and gone is not None
    assert (kept.alert_count, kept.closed_at) == (2, None)
    assert (gone.alert_count, gone.outcome, gone.status) == (1, "merged", "closed")


async def test_one_replica_leads_the_projection_and_another_takes_over(pg_url: str) -> None:
    """Two API replicas' projectors on one PostgreSQL database: one folds the log, the other
    waits (no batch read twice); when the leader's connection ends, the other takes over and
    the projection stays complete."""
    db.upgrade(pg_url)
    engines = [db.make_engine(pg_url) for _ in range(2)]
    store = EventStore(engines[0])
    first, second = (IncidentProjector(e, EventStore(e), batch_size=3) for e in engines)
    try:
        assert first.leads() and not second.leads()
        assert first.leads(), "the leader keeps its lock from tick to tick"
        tasks = [asyncio.create_task(p.run(interval=0.02)) for p in (first, second)]
        story = Story(store).open().contain()

        async def projected() -> bool:
            found = await asyncio.to_thread(
                service.get_incident, engines[0], story.incident_id, ALL_ENVS
            )
            return found is not None and found.phase == "containment"

        await eventually(projected, timeout=20)
        assert first._lease.held and second._lease.held is False
        tasks[0].cancel()  # the leader's API stops: its lock goes with its connection
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[0]
        assert first._lease.held is False
        later = Story(store).open()

        async def taken_over() -> bool:
            found = await asyncio.to_thread(
                service.get_incident, engines[1], later.incident_id, ALL_ENVS
            )
            return found is not None and second._lease.held

        await eventually(taken_over, timeout=20)
        tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[1]
    finally:
        for e in engines:
            e.dispose()
