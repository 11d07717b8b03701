"""Merging through the real API, CLI and worker: who may, what is refused and why, and what
moves: B's alerts, its later alerts (same key or same entity), its retried deliveries."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from orchestrator.audit import open_event_store
from orchestrator.domain import EventType
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.cli.test_incidents_approvals import firebreak
from tests.correlation.conftest import INJECTION, SPEND, delivery
from tests.routing.conftest import post
from tests.support.app import bearer
from tests.support.incidents import eventually, payloads
from tests.support.principals import Tokens


async def open_incident(
    http: httpx.AsyncClient, tokens: Tokens, body: dict[str, Any]
) -> tuple[str, str]:
    """(incident id, alert id) of a delivery, once its incident's opening is in the ledger
    (a merge reads the environment from there)."""
    answer = await post(http, tokens.source, "alertmanager", body)
    [accepted] = answer["alerts"]
    incident = accepted["incident_id"]

    async def opened() -> bool:
        r = await http.get(f"/v1/incidents/{incident}/timeline", headers=bearer(tokens.ann))
        return r.status_code == 200

    await eventually(opened, timeout=30)
    return incident, accepted["alert_id"]


async def merge(
    http: httpx.AsyncClient, token: str, incident: str, into: str, reason: str = "same key"
) -> httpx.Response:
    return await http.post(
        f"/v1/incidents/{incident}/merge",
        json={"into": into, "reason": reason},
        headers=bearer(token),
    )


async def test_a_responder_merges_b_into_a_and_b_s_alerts_follow(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    http, tokens = served
    key_a, key_b = f"key-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex[:8]}"
    a, _ = await open_incident(http, tokens, delivery(INJECTION, key_a))
    b_body = delivery(SPEND, key_b)
    b, b_alert = await open_incident(http, tokens, b_body)
    assert a != b

    # Who may not: an auditor, a source, a responder out of the incidents' scope (dev only).
    for token, status, why in (
        (tokens.audrey, 403, "lacks permission 'incidents:decide'"),
        (tokens.source, 403, "lacks permission 'incidents:decide'"),
        (tokens.devon, 403, "not scoped to the prod environment"),
    ):
        refused = await merge(http, token, b, a)
        assert refused.status_code == status and why in refused.json()["detail"], refused.text
    # What may not be: itself, an unknown survivor, no reason, an unknown field.
    itself = await merge(http, tokens.ben, a, a)
    assert itself.status_code == 422 and "merged into itself" in itself.json()["detail"]
    unknown = await merge(http, tokens.ben, b, "incident-0000.nope")
    assert unknown.status_code == 404
    for body in ({"into": a}, {"into": a, "reason": ""}, {"into": a, "reason": "x", "force": 1}):
        bad = await http.post(f"/v1/incidents/{b}/merge", json=body, headers=bearer(tokens.ben))
        assert bad.status_code == 422, bad.text
    assert (await describe(dev_client, b)).closed_at is None  # nothing refused touched it

    merged = await merge(http, tokens.ben, b, a, reason="one attacker behind both keys")
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert (answer["incident_id"], answer["into"], answer["alerts_moved"]) == (b, a, 1)
    assert answer["alert_count"] == 2 and answer["receipts_moved"] == 1
    assert answer["entities_moved"] == 1  # key_b

    async def closed() -> bool:
        return (await describe(dev_client, b)).closed_at is not None

    await eventually(closed, timeout=30)
    b_state, a_state = await describe(dev_client, b), await describe(dev_client, a)
    assert (b_state.outcome, b_state.merged_into) == ("merged", a)
    [absorbed] = a_state.merged_from
    assert (absorbed.incident_id, absorbed.alert_count, absorbed.merged_by) == (b, 1, "ben")
    assert absorbed.reason == "one attacker behind both keys"

    store = open_event_store(fb_settings)
    [away] = [e for e in store.read_stream(b) if e.type == EventType.incident_merged]
    assert away.payload["merged_into"] == a and (away.actor.id, away.actor.role) == (
        "ben",
        "responder",
    )
    assert away.payload["reason"] == "one attacker behind both keys"
    [closing] = payloads(store.read_stream(b), EventType.incident_closed.value)
    assert (closing["outcome"], closing["merged_into"]) == ("merged", a)

    async def absorbed_event() -> list[Any]:
        events = store.read_stream(a)
        return [e for e in events if e.type == EventType.incident_merged]

    [into] = await eventually(absorbed_event, timeout=30)
    assert into.payload["merged_from"] == b and into.payload["alert_ids"] == [b_alert]
    assert into.actor.id == away.actor.id

    # Later alerts of B's own key, and of its entity, land in A; B's retried delivery too.
    again = copy.deepcopy(b_body)
    again["alerts"][0]["startsAt"] = "2026-11-25T07:41:30.000Z"
    later, _ = await open_incident(http, tokens, again)
    by_entity, _ = await open_incident(http, tokens, delivery(SPEND, key_b))
    retried, _ = await open_incident(http, tokens, b_body)
    assert later == by_entity == retried == a
    assert (await describe(dev_client, a)).alert_count == 4

    # Merging into the closed B is refused with the reason; so is merging B again elsewhere.
    other = delivery(INJECTION, f"key-{uuid.uuid4().hex[:8]}")
    other["alerts"][0]["labels"]["model"] = "another-llm"  # else it joins A by model
    c, _ = await open_incident(http, tokens, other)
    assert c != a
    into_closed = await merge(http, tokens.ben, c, b)
    assert into_closed.status_code == 409
    assert (
        f"incident {b!r} is closed (merged); merge into an open incident"
        in (into_closed.json()["detail"])
    )
    repeated = await merge(http, tokens.ben, b, a, reason="one attacker behind both keys")
    assert repeated.status_code == 200, repeated.text  # the same merge again: answered, once
    assert (repeated.json()["alert_count"], repeated.json()["receipts_moved"]) == (2, 0)  # as first
    assert len((await describe(dev_client, a)).merged_from) == 1
    twice = await merge(http, tokens.ben, b, c)
    assert twice.status_code == 409 and "closed" in twice.json()["detail"], twice.text


async def test_the_cli_merges_and_refuses_in_one_line(
    served: tuple[httpx.AsyncClient, Tokens],
    dev_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http, tokens = served
    a, _ = await open_incident(http, tokens, delivery(INJECTION, f"key-{uuid.uuid4().hex[:8]}"))
    b, _ = await open_incident(http, tokens, delivery(SPEND, f"key-{uuid.uuid4().hex[:8]}"))
    url = str(http.base_url)

    itself = await firebreak(
        monkeypatch, url, tokens.ann, "incidents", "merge", a, "--into", a, "--reason", "oops"
    )
    assert itself.exit_code == 2 and "merged into itself" in itself.error
    assert "Traceback" not in itself.error and len(itself.error.strip().splitlines()) == 1
    auditor = await firebreak(
        monkeypatch, url, tokens.audrey, "incidents", "merge", b, "--into", a, "--reason", "same"
    )
    assert auditor.exit_code == 1 and "lacks permission" in auditor.error

    done = await firebreak(
        monkeypatch,
        url,
        tokens.ann,
        "incidents",
        "merge",
        b,
        "--into",
        a,
        "--reason",
        "same key, same attacker",
    )
    assert done.exit_code == 0, done.error
    assert f"merged {b} into {a}: 1 alert(s) moved, 2 in the survivor" in done.output
    assert (await describe(dev_client, a)).merged_from[0].incident_id == b

    shown = await firebreak(monkeypatch, url, tokens.ann, "incidents", "show", a)
    assert shown.exit_code == 0, shown.error
    assert b in shown.output and "merged by ann: same key, same attacker" in shown.output
