"""Admission under overload: follow-ups of a busy incident get 429, new incidents never do."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack

import httpx
import pytest
from temporalio.client import Client

from orchestrator.alerts.admission import Admission, Busy
from orchestrator.api.app import create_app
from orchestrator.api.metrics import ALERTS_RECEIVED
from orchestrator.audit import EventStore
from orchestrator.settings import Settings
from tests.support.app import alerts_recorded, fixture_json, post_alert
from tests.support.principals import Tokens


def test_only_followers_of_a_busy_incident_are_refused_and_only_when_behind() -> None:
    now = [0.0]
    admission = Admission(max_delay=1.0, clock=lambda: now[0])
    with ExitStack() as held:
        held.enter_context(admission.admit(["a"]))
        now[0] = 0.9
        held.enter_context(admission.admit(["a"]))  # on time: admitted although "a" is busy
        now[0] = 1.5  # the oldest alert in flight has waited 1.5 s
        assert admission.behind() == 1.5
        with pytest.raises(Busy) as refused, admission.admit(["a"]):
            pass
        assert refused.value.retry_after == 1 and refused.value.status == 429
        held.enter_context(admission.admit(["b"]))  # behind, but "b" may open an incident
        with pytest.raises(Busy), admission.admit(["a", "b"]):
            pass
        with admission.admit(["a", "c"]):  # one of its alerts could open an incident
            pass
        with admission.admit([]):  # resolves and acknowledges are always let in
            pass
    assert admission.behind() == 0.0
    with admission.admit(["a"]), admission.admit(["a"]):
        pass  # everything was released: a leaked entry would make these wait 1.5 s


def deferred_count() -> float:
    """Deliveries counted as deferred in `firebreak_alerts_received_total` (process-wide)."""
    for family in ALERTS_RECEIVED.collect():
        for sample in family.samples:
            if sample.name == "firebreak_alerts_received_total" and sample.labels == {
                "format": "generic",
                "outcome": "deferred",
            }:
                return sample.value
    return 0.0


async def test_overload_defers_duplicates_and_admits_a_new_incident(
    api_settings: Settings, temporal: Client, store: EventStore, tokens: Tokens
) -> None:
    settings = api_settings.model_copy(update={"ingest_shed_after_seconds": 0.0})
    app = create_app(settings, temporal_client=temporal, store=store)
    transport = httpx.ASGITransport(app=app)
    template = fixture_json("generic.json")

    def alert(alert_id: str, fingerprint: str) -> bytes:
        return json.dumps({**template, "id": alert_id, "fingerprint": fingerprint}).encode()

    deferred_before = deferred_count()
    async with httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as http:
        storm = [alert(f"storm-{i}", "one-condition") for i in range(20)]
        answers = await asyncio.gather(
            *(post_alert(http, "generic", body, tokens.source) for body in storm),
            post_alert(http, "generic", alert("fresh-1", "another-condition"), tokens.source),
        )
        *storm_answers, fresh = answers
        assert fresh.status_code == 202, fresh.text
        codes = [a.status_code for a in storm_answers]
        assert set(codes) == {202, 429}, codes
        busy = next(a for a in storm_answers if a.status_code == 429)
        assert busy.headers["retry-after"] == "1"
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.json()["title"] == "Busy"
        accepted = [a.json() for a in storm_answers if a.status_code == 202]
        incident = {i for a in accepted for i in a["incidents"]}
        assert len(incident) == 1 and incident.isdisjoint(fresh.json()["incidents"])
        assert alerts_recorded(store) == len(accepted) + 1, "a refused alert was recorded"
        assert deferred_count() - deferred_before == codes.count(429)

        retried = [
            await post_alert(http, "generic", body, tokens.source)
            for body, code in zip(storm, codes, strict=True)
            if code == 429
        ]
        assert {r.status_code for r in retried} == {202}
        assert {i for r in retried for i in r.json()["incidents"]} == incident
        assert alerts_recorded(store) == len(storm) + 1
