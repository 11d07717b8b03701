"""The entity index on SQLite and PostgreSQL: claims, joins, windows, merges, and a race of
many writers for one entity."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import sqlalchemy as sa

from orchestrator import db
from orchestrator.correlation.models import entity_claims
from orchestrator.correlation.service import (
    MERGED,
    correlate,
    entities_of,
    merge_redirects,
    needs_claims,
    repoint,
)
from orchestrator.domain import (
    Alert,
    AlertStatus,
    EntityRule,
    Environment,
    Resources,
)
from tests.incidents.conftest import engine  # a migrated database on SQLite and PostgreSQL

__all__ = ["engine"]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = 600


def alert(
    at: datetime = T0,
    *,
    type_: str = "prompt_injection",
    env: Environment = Environment.prod,
    kinds: tuple[str, ...] = ("api_key",),
    status: AlertStatus = AlertStatus.firing,
    **resources: str,
) -> Alert:
    return Alert(
        id=f"a-{uuid.uuid4().hex[:8]}",
        source="detector",
        type=type_,
        environment=env,
        status=status,
        resources=Resources(**resources),
        fingerprint=uuid.uuid4().hex,
        received_at=at,
        correlation=EntityRule(kinds=list(kinds), window_seconds=WINDOW, rule="r1"),
    )


def run(engine: sa.Engine, alerts: list[Alert]) -> list[Alert]:
    with db.writing(engine) as conn:
        redirects = merge_redirects(conn, alerts)
        return correlate(conn, alerts, redirects)


def test_alerts_of_other_fingerprints_naming_one_key_join_the_first(engine: sa.Engine) -> None:
    first, second = alert(api_key="k1"), alert(T0 + timedelta(seconds=5), api_key="k1")
    [kept] = run(engine, [first])
    assert kept.joined is None and kept.workflow_id == first.own_workflow_id
    [joined] = run(engine, [second])
    assert joined.joined is not None
    assert (joined.joined.kind, joined.joined.value, joined.joined.rule) == ("api_key", "k1", "r1")
    assert joined.workflow_id == first.own_workflow_id != second.own_workflow_id


def test_same_key_in_another_environment_or_another_key_stays_apart(engine: sa.Engine) -> None:
    run(engine, [alert(api_key="k1")])
    [other_env] = run(engine, [alert(env=Environment.staging, api_key="k1")])
    [other_key] = run(engine, [alert(api_key="k2")])
    assert other_env.joined is None and other_key.joined is None


def test_the_window_slides_with_each_joining_alert_and_then_lapses(engine: sa.Engine) -> None:
    first = alert(api_key="k1")
    run(engine, [first])
    # Each alert inside the window slides it: 9 alerts 500 s apart all join the first.
    for n in range(1, 10):
        [joined] = run(engine, [alert(T0 + timedelta(seconds=500 * n), api_key="k1")])
        assert joined.workflow_id == first.own_workflow_id, n
    last = T0 + timedelta(seconds=500 * 9)
    late = alert(last + timedelta(seconds=WINDOW + 1), api_key="k1")
    [alone] = run(engine, [late])
    assert alone.joined is None and alone.workflow_id == late.own_workflow_id
    # The lapsed claim was taken over by the late alert's incident.
    [after] = run(engine, [alert(last + timedelta(seconds=WINDOW + 2), api_key="k1")])
    assert after.workflow_id == late.own_workflow_id


def test_the_first_claimed_entity_decides_and_the_others_follow_it(engine: sa.Engine) -> None:
    by_model = alert(kinds=("api_key", "model"), model="m1")
    run(engine, [by_model])
    # Names the model (held) and a new key: joins by model, and claims the key for that incident.
    both = alert(T0 + timedelta(seconds=1), kinds=("api_key", "model"), api_key="k9", model="m1")
    [joined] = run(engine, [both])
    assert joined.joined is not None and joined.joined.kind == "model"
    [by_key] = run(engine, [alert(T0 + timedelta(seconds=2), api_key="k9")])
    assert by_key.workflow_id == by_model.own_workflow_id


def test_a_resolution_follows_its_entity_but_claims_nothing(engine: sa.Engine) -> None:
    [lonely] = run(engine, [alert(status=AlertStatus.resolved, api_key="k1")])
    assert lonely.joined is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entity_claims)).scalar() == 0
    first = alert(api_key="k1")
    run(engine, [first])
    [resolved] = run(engine, [alert(T0, status=AlertStatus.resolved, api_key="k1")])
    assert resolved.workflow_id == first.own_workflow_id


def test_alerts_without_a_correlation_rule_or_entity_cost_no_write(engine: sa.Engine) -> None:
    plain = alert(api_key="k1").model_copy(update={"correlation": None})
    unnamed = alert(model="m1")  # its rule names api_key only
    assert entities_of(plain) == [] and entities_of(unnamed) == []
    assert not needs_claims([plain, unnamed], {})


def test_a_merged_incident_leads_to_its_survivor(engine: sa.Engine) -> None:
    survivor, merged = alert(api_key="k1"), alert(api_key="k2")
    run(engine, [survivor, merged])
    with db.writing(engine) as conn:
        assert repoint(conn, merged.own_workflow_id, survivor.own_workflow_id, T0) == 1
    # A later alert of the merged incident's own key, and one naming its entity.
    same_key = merged.model_copy(update={"id": "again", "received_at": T0 + timedelta(hours=1)})
    [redirected] = run(engine, [same_key])
    assert redirected.joined is not None and redirected.joined.kind == MERGED
    assert redirected.workflow_id == survivor.own_workflow_id
    [by_entity] = run(engine, [alert(T0 + timedelta(seconds=30), api_key="k2")])
    assert by_entity.workflow_id == survivor.own_workflow_id


def test_racing_writers_agree_on_one_incident(engine: sa.Engine) -> None:
    """Sixteen threads, each its own transaction, alerts of sixteen fingerprints for one key."""
    racers = [alert(api_key="contested") for _ in range(16)]
    barrier = Barrier(len(racers))

    def one(a: Alert) -> str:
        barrier.wait()
        [routed] = run(engine, [a])
        return routed.workflow_id

    with ThreadPoolExecutor(len(racers)) as pool:
        holders = set(pool.map(one, racers))
    assert len(holders) == 1
    assert holders <= {a.own_workflow_id for a in racers}
