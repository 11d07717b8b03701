"""The ingest rate limit is one budget per source across every API replica: the buckets are
rows in the event-store database (SQLite and PostgreSQL), spent by one atomic UPDATE."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from temporalio.client import Client

from orchestrator import db
from orchestrator.alerts.limits import RateLimiter, budgets
from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.errors import RateLimited, Unavailable
from orchestrator.settings import Settings
from tests.support.app import fixture_bytes, post_alert
from tests.support.principals import Tokens


class Clock:
    """A settable wall clock (seconds since the epoch), shared by replicas in a test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


Replicas = Callable[[int, "Clock"], tuple[RateLimiter, RateLimiter]]


@pytest.fixture
def replicas(db_url: str) -> Iterator[Replicas]:
    """Two replicas' limiters on one migrated database, each with its own engine."""
    db.upgrade(db_url)
    made: list[RateLimiter] = []

    def make(per_minute: int, clock: Clock) -> tuple[RateLimiter, RateLimiter]:
        pair = RateLimiter(db_url, per_minute, clock), RateLimiter(db_url, per_minute, clock)
        made.extend(pair)
        return pair

    yield make
    for limiter in made:
        limiter.close()


def admitted(limiter: RateLimiter, key: str) -> bool:
    try:
        limiter.take(key)
    except RateLimited:
        return False
    return True


def test_two_replicas_racing_admit_the_budget_once(replicas: Replicas) -> None:
    pair = replicas(30, Clock())
    answers: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def send(limiter: RateLimiter) -> None:
        start.wait(timeout=30)
        for _ in range(10):
            ok = admitted(limiter, "detector")
            with lock:
                answers.append(ok)

    threads = [threading.Thread(target=send, args=(pair[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 80
    assert answers.count(True) == 30, "each replica spent its own budget"


def test_the_budget_refills_at_the_rate_and_says_when(replicas: Replicas) -> None:
    clock = Clock()
    first, second = replicas(6, clock)
    assert [admitted(first, "detector") for _ in range(6)] == [True] * 6
    with pytest.raises(RateLimited) as refused:
        second.take("detector")
    assert refused.value.retry_after == 10  # 6 a minute: the next token in 10 s
    clock.now += 4
    with pytest.raises(RateLimited) as later:
        first.take("detector")
    assert later.value.retry_after == 6
    clock.now += 6
    assert admitted(second, "detector")
    assert not admitted(first, "detector")
    assert admitted(first, "other-source"), "each source has its own budget"


def test_a_replica_whose_clock_runs_behind_refills_nothing(replicas: Replicas) -> None:
    ahead, behind = Clock(), Clock()
    behind.now -= 120
    on_time, _ = replicas(6, ahead)
    late, _ = replicas(6, behind)
    assert [admitted(on_time, "detector") for _ in range(6)] == [True] * 6
    assert not admitted(late, "detector")
    behind.now += 60  # still behind the last writer: no refill, and no tokens taken back
    assert not admitted(late, "detector")
    ahead.now += 10
    assert admitted(on_time, "detector")
    with on_time.engine.connect() as conn:
        tokens, refilled = conn.execute(sa.select(budgets.c.tokens, budgets.c.refilled_at)).one()
    assert tokens == pytest.approx(0.0) and refilled == ahead.now


def test_a_store_without_the_table_is_a_503_naming_the_fix(db_url: str) -> None:
    db.upgrade(db_url, "0005")
    limiter = RateLimiter(db_url, 6)
    try:
        with pytest.raises(Unavailable) as unavailable:
            limiter.take("detector")
    finally:
        limiter.close()
    assert unavailable.value.status == 503
    assert "run `firebreak db upgrade`" in unavailable.value.detail


async def test_two_api_instances_admit_the_configured_rate_in_total(
    api_settings: Settings, temporal: Client, tokens: Tokens
) -> None:
    """Two apps, each with its own store and engine on one database, take alerts in turn:
    together they admit the per-minute budget once, and refuse the rest with 429."""
    settings = api_settings.model_copy(update={"rate_limit_per_minute": 4})
    clock = Clock()
    stores = [open_event_store(settings) for _ in range(2)]
    apps = [create_app(settings, temporal_client=temporal, store=store) for store in stores]
    for app in apps:
        app.state.alert_rate_limiter.close()
        app.state.alert_rate_limiter = RateLimiter(settings.db_url, 4, clock)
    body = fixture_bytes("generic.json")
    codes: list[int] = []
    details: list[str] = []
    try:
        for n in range(8):
            transport = httpx.ASGITransport(app=apps[n % 2])
            async with httpx.AsyncClient(transport=transport, base_url="http://a.test") as http:
                response = await post_alert(http, "generic", body, tokens.source)
            codes.append(response.status_code)
            if response.status_code == 429:
                details.append(response.json()["detail"])
                assert int(response.headers["retry-after"]) == 15
    finally:
        for app, store in zip(apps, stores, strict=True):
            app.state.alert_rate_limiter.close()
            store.engine.dispose()
    assert codes == [202] * 4 + [429] * 4
    assert all("over its rate limit" in detail for detail in details)
