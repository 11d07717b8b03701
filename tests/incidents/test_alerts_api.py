"""`GET /v1/incidents/{id}/alerts` through the real API and worker: an Alertmanager delivery as
Prometheus rules produce it, with hostile text in every field, comes back as the sender wrote
it (data, for pages to escape), grouped by fingerprint with counts and first/last seen; only
readers of the incident's environment get it."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client

from orchestrator.audit import open_event_store
from orchestrator.settings import Settings
from tests.support.app import bearer, fixture_json, terminate_started
from tests.support.incidents import eventually
from tests.support.principals import Tokens

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@pytest_asyncio.fixture
async def served(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Tokens]]:
    url, tokens = api
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        yield http, tokens
    await terminate_started(dev_client, open_event_store(fb_settings).engine)


def hostile_delivery(fingerprint: str, firings: int) -> dict[str, Any]:
    """`firings` distinct firings of one hostile alert (each its own startsAt), and one other."""
    body = fixture_json("alertmanager_firing.json")
    template = body["alerts"][0]
    template["labels"] |= {"alertname": "PromptInjection", "note": HOSTILE}
    template["annotations"] = {"summary": f"title {HOSTILE}", "description": f"desc {HOSTILE}"}
    template["generatorURL"] = "javascript:window.__pwned=3"
    template["fingerprint"] = fingerprint
    alerts = [
        copy.deepcopy(template) | {"startsAt": f"2026-11-25T06:{i // 60:02d}:{i % 60:02d}Z"}
        for i in range(firings)
    ]
    return body | {"alerts": alerts}


async def post(http: httpx.AsyncClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        "/v1/alerts/alertmanager",
        content=json.dumps(body).encode(),
        headers={**bearer(token), "content-type": "application/json"},
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def alerts_of(http: httpx.AsyncClient, token: str, incident: str, **params: Any) -> Any:
    async def projected() -> httpx.Response | None:
        response = await http.get(
            f"/v1/incidents/{incident}/alerts", params=params, headers=bearer(token)
        )
        return response if response.status_code != 404 else None

    response = await eventually(projected, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


async def test_alerts_come_back_as_sent_grouped_and_scoped(
    served: tuple[httpx.AsyncClient, Tokens],
) -> None:
    http, tokens = served
    answer = await post(http, tokens.source, hostile_delivery("hostile-1", 3))
    [incident] = answer["incidents"]
    page = await alerts_of(http, tokens.ben, incident)
    assert page["total"] == 3 and page["truncated"] is False
    [group] = page["groups"]
    assert (group["fingerprint"], group["count"], group["resolved"]) == ("hostile-1", 3, 0)
    assert group["first_seen"] <= group["last_seen"]
    latest = group["latest"]
    assert latest["title"] == f"title {HOSTILE}"
    assert latest["description"] == f"desc {HOSTILE}"
    assert latest["labels"]["note"] == HOSTILE
    assert latest["annotations"]["summary"] == f"title {HOSTILE}"
    assert latest["links"][0] == {
        "href": "javascript:window.__pwned=3",
        "text": "source",
        "web": False,  # pages show it as text, never as a link
    }
    assert latest["started_at"] == "2026-11-25T06:00:02Z"  # the latest firing's startsAt

    auditor = await alerts_of(http, tokens.audrey, incident)
    assert auditor["groups"][0]["latest"]["description"] == latest["description"]
    for token, status in ((tokens.devon, 404), (tokens.source, 403)):  # dev only; a source
        refused = await http.get(f"/v1/incidents/{incident}/alerts", headers=bearer(token))
        assert refused.status_code == status, refused.text
        assert HOSTILE not in refused.text
    bad = await http.get(
        f"/v1/incidents/{incident}/alerts", params={"cursor": "x1"}, headers=bearer(tokens.ben)
    )
    assert bad.status_code == 422
