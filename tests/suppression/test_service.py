"""Suppression windows in the database, on SQLite and PostgreSQL: the rules a window must keep,
scope, the audit trail, and what each process's cache matches as its clocks move."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from orchestrator import db
from orchestrator.alerts.ids import suppressed_stream
from orchestrator.alerts.models import Delivery
from orchestrator.audit import EventStore
from orchestrator.domain import Environment, EventType, Role
from orchestrator.errors import Conflict, Forbidden, InvalidInput, NotFound
from orchestrator.principals.models import Principal
from orchestrator.security.keyring import KeyRing
from orchestrator.suppression import service
from orchestrator.suppression.cache import TTL_SECONDS, ActiveWindows, read_version
from orchestrator.suppression.models import WindowState
from tests.suppression.conftest import START, Clock, fixture, request, routed


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


def person(role: Role, *envs: Environment, name: str = "ben") -> Principal:
    return Principal(id=uuid.uuid4().hex, name=name, role=role, environments=frozenset(envs))


BEN = person(Role.responder, Environment.prod)
ANN = person(Role.responder, Environment.prod, Environment.dev, name="ann")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"match": {}}, "at least 1 item"),
        ({"match": {"alertname": "NodeDown"}}, "unknown field 'alertname' (a label is labels."),
        ({"match": {"labels.x": {"regex": "("}}}, "invalid regular expression"),
        ({"match": {"format": "syslog"}}, "format 'syslog' is not one of"),
        ({"reason": "   "}, "a reason is required"),
        ({"duration": "forever"}, "'forever' is not a duration"),
        ({"match": {"labels.x": "x" * 513}}, "labels.x: at most 512 characters"),
        ({"duration": "0m"}, "longer than zero"),
        ({"duration": None, "expires_at": "2026-11-25T09:00:00"}, "timezone"),
    ],
)
def test_a_malformed_window_is_refused_with_the_reason(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        request(**fields)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"duration": None}, "expires_at", "no window lasts forever"),
        ({"expires_at": "2026-11-25T09:00:00Z"}, "expires_at", "exactly one of expires_at"),
        ({"duration": None, "expires_at": "2026-11-25T06:00:00Z"}, "expires_at", "before it"),
        ({"duration": "31d"}, "expires_at", "more than 30 days from now"),
        ({"starts_at": "2026-11-25T06:00:00Z"}, "starts_at", "is in the past"),
        (
            {
                "starts_at": "2026-11-25T08:00:00Z",
                "duration": None,
                "expires_at": "2026-11-25T07:00:00Z",
            },
            "expires_at",
            "before it holds anything",
        ),
    ],
)
def test_a_window_in_the_past_or_too_long_is_refused(
    engine: sa.Engine, fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.create_window(engine, request(**fields), BEN, START)
    assert caught.value.field == field
    assert message in caught.value.detail
    assert service.list_windows(engine, list(Environment), START, past=True) == []
    assert read_version(engine) == 0


def test_creating_and_ending_are_audited_and_bump_the_version(engine: sa.Engine) -> None:
    window = service.create_window(engine, request(), BEN, START)
    assert window.environments == [Environment.prod]  # the creator's scope
    assert (window.starts_at, window.expires_at) == (START, START + timedelta(hours=2))
    assert read_version(engine) == 1
    ended = service.end_window(engine, window.id, BEN, "drill over", START + timedelta(hours=1))
    assert ended.ended_by == "ben"
    assert read_version(engine) == 2
    events = EventStore(engine).read_stream(service.window_stream(window.id))
    assert [e.type for e in events] == ["SuppressionCreated", "SuppressionEnded"]
    created, finished = events
    assert created.actor.id == BEN.id and created.actor.role == "responder"
    assert created.payload["match"] == {"labels.team": {"equals": "ml-platform"}}
    assert created.payload["expires_at"] == "2026-11-25T08:30:00+00:00"
    assert created.payload["reason"] == "CHG-1042 failover drill"
    assert finished.payload["reason"] == "drill over"
    assert finished.payload["principal"] == "ben"
    with pytest.raises(Conflict, match="already ended"):
        service.end_window(engine, window.id, BEN, "", START + timedelta(hours=1))
    [listed] = service.list_windows(engine, [Environment.prod], START, past=True)
    assert listed.state is WindowState.ended
    assert service.list_windows(engine, [Environment.prod], START) == []


def test_an_expired_window_cannot_be_ended(engine: sa.Engine) -> None:
    window = service.create_window(engine, request(duration="30m"), BEN, START)
    with pytest.raises(Conflict, match="already expired"):
        service.end_window(engine, window.id, BEN, "", START + timedelta(minutes=30))


def test_scope_decides_who_creates_ends_and_sees(engine: sa.Engine) -> None:
    with pytest.raises(Forbidden, match="not scoped to the dev environment"):
        service.create_window(engine, request(environments=["dev", "prod"]), BEN, START)
    both = service.create_window(engine, request(), ANN, START)
    assert both.environments == [Environment.dev, Environment.prod]
    devon = person(Role.responder, Environment.dev, name="devon")
    staging = person(Role.auditor, Environment.staging, name="sam")
    assert service.get_window(engine, both.id, devon.environments).id == both.id
    with pytest.raises(NotFound):
        service.get_window(engine, both.id, staging.environments)
    with pytest.raises(NotFound):
        service.end_window(engine, both.id, staging, "", START)
    with pytest.raises(Forbidden, match="not scoped to the prod environment"):
        service.end_window(engine, both.id, devon, "", START)
    assert [w.id for w in service.list_windows(engine, devon.environments, START)] == [both.id]
    assert service.list_windows(engine, staging.environments, START) == []


async def test_the_cache_matches_active_windows_only(engine: sa.Engine) -> None:
    clock = Clock()
    windows = ActiveWindows(engine, clock=clock, ticks=clock.monotonic)
    prod, staging = routed("alertmanager", fixture("prometheus_alertmanager.json"))
    assert (prod.alert.environment, staging.alert.environment) == ("prod", "staging")
    assert await windows.matching("alertmanager", [prod, staging]) == [None, None]

    later = START + timedelta(minutes=10)
    scheduled = service.create_window(
        engine, request(starts_at=later.isoformat(), duration="1h"), BEN, START
    )
    windows.invalidate()
    assert await windows.matching("alertmanager", [prod]) == [None]  # not started yet
    clock.advance(timedelta(minutes=10))
    assert await windows.matching("alertmanager", [prod, staging]) == [scheduled, None]
    assert await windows.matching("cloudevents", [prod]) == [scheduled]  # format is not matched
    clock.advance(timedelta(hours=1))  # expired: no read needed to stop matching
    assert await windows.matching("alertmanager", [prod]) == [None]

    regex = service.create_window(
        engine,
        request(
            match={"labels.alertname": {"regex": "Guardrail.*"}, "labels.job": {"present": True}}
        ),
        BEN,
        clock.now,
    )
    windows.invalidate()
    assert await windows.matching("alertmanager", [prod, staging]) == [regex, None]
    service.end_window(engine, regex.id, BEN, "", clock.now)
    absent = service.create_window(
        engine, request(match={"labels.runbook": {"present": False}}), BEN, clock.now
    )
    partial = service.create_window(
        engine, request(match={"labels.alertname": {"regex": "Guardrail"}}), BEN, clock.now
    )
    windows.invalidate()
    assert await windows.matching("alertmanager", [prod]) == [absent]
    service.end_window(engine, absent.id, BEN, "", clock.now)
    windows.invalidate()
    assert await windows.matching("alertmanager", [prod]) == [None]  # the whole value matches
    assert partial.state_at(clock.now) is WindowState.active


async def test_another_replica_sees_a_change_within_the_ttl(engine: sa.Engine) -> None:
    clock = Clock()
    here = ActiveWindows(engine, clock=clock, ticks=clock.monotonic)
    there = ActiveWindows(engine, clock=clock, ticks=clock.monotonic)
    [prod, _] = routed("alertmanager", fixture("prometheus_alertmanager.json"))
    assert await there.matching("alertmanager", [prod]) == [None]  # cached: nothing

    window = service.create_window(engine, request(), BEN, clock.now)
    here.invalidate()  # what the API does on the replica that created it
    assert await here.matching("alertmanager", [prod]) == [window]
    assert await there.matching("alertmanager", [prod]) == [None]  # within its ttl: stale
    clock.advance(timedelta(seconds=TTL_SECONDS))
    assert await there.matching("alertmanager", [prod]) == [window]

    service.end_window(engine, window.id, BEN, "", clock.now)
    clock.advance(timedelta(seconds=TTL_SECONDS))
    assert await there.matching("alertmanager", [prod]) == [None]


def test_a_held_alert_is_recorded_once_and_sealed(engine: sa.Engine) -> None:
    store = EventStore(engine, keyring=KeyRing.generate())
    window = service.create_window(engine, request(), BEN, START)
    [prod, _] = routed("alertmanager", fixture("prometheus_alertmanager.json"))
    source = person(Role.source, Environment.prod, name="det")
    delivery = Delivery(source, "alertmanager", b"{}", "wh-1", [prod])
    for _ in range(2):  # a retry of the same alert
        service.record_suppressed(store, delivery, [(prod.alert, window)])
    [event] = store.read_stream(suppressed_stream("det", prod.alert.id))
    assert event.type == EventType.alert_suppressed.value
    assert event.payload["window_id"] == window.id
    assert event.payload["route"] == "default"
    assert event.payload["alert_id"] == prod.alert.id
    assert event.actor.id == source.id
    assert event.payload["alert"]["labels"]["alertname"] == "GuardrailInjectionBlocksHigh"
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT payload FROM audit_events WHERE type = 'AlertSuppressed'")
        ).scalar_one()
    assert "GuardrailInjectionBlocksHigh" not in str(stored)  # the alert is sealed at rest
