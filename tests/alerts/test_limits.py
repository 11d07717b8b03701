"""Ingress limits and hostile input: 413, 415, 422 naming the field, 429, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from orchestrator.alerts.limits import read_capped
from orchestrator.api.app import create_app
from orchestrator.audit import EventStore
from orchestrator.errors import PayloadTooLarge
from orchestrator.settings import Settings
from tests.support.app import (
    alerts_recorded,
    bearer,
    fixture_bytes,
    fixture_json,
    post_alert,
)
from tests.support.principals import Tokens


async def test_size_cap_is_enforced_while_reading() -> None:
    pulled = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield b"x" * 1024

    with pytest.raises(PayloadTooLarge):
        await read_capped(chunks(), None, 4096)
    assert len(pulled) == 5, "kept reading after the cap was exceeded"
    with pytest.raises(PayloadTooLarge):
        await read_capped(chunks(), "999999", 4096)


async def test_oversized_bodies_get_413_declared_or_streamed(
    http: httpx.AsyncClient, tokens: Tokens, api_settings: Settings, store: EventStore
) -> None:
    big = b'{"id": "x", "type": "t", "description": "' + b"a" * api_settings.max_alert_bytes + b'"}'
    declared = await post_alert(http, "generic", big, tokens.source)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    chunked = await http.post(
        "/v1/alerts/generic",
        content=stream(),
        headers={**bearer(tokens.source), "content-type": "application/json"},
    )
    assert chunked.status_code == 413
    assert alerts_recorded(store) == 0


async def test_wrong_content_type_is_415(http: httpx.AsyncClient, tokens: Tokens) -> None:
    body = fixture_bytes("generic.json")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = await post_alert(http, "generic", body, tokens.source, content_type)
        assert response.status_code == 415, content_type
    structured = fixture_bytes("cloudevents_structured.json")
    response = await post_alert(
        http, "pagerduty", structured, tokens.source, "application/cloudevents+json"
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("fmt", "body", "field"),
    [
        ("generic", {k: v for k, v in fixture_json("generic.json").items() if k != "type"}, "type"),
        ("generic", fixture_json("generic.json") | {"severity": "apocalyptic"}, "severity"),
        ("generic", fixture_json("generic.json") | {"type": "Drop Table;"}, "type"),
        ("generic", fixture_json("generic.json") | {"typo_field": 1}, "typo_field"),
        (
            "generic",
            fixture_json("generic.json") | {"resources": {"model": ["a"]}},
            "resources.model",
        ),
        ("alertmanager", fixture_json("alertmanager_firing.json") | {"version": "3"}, "version"),
        ("alertmanager", fixture_json("alertmanager_firing.json") | {"alerts": []}, "alerts"),
        (
            "pagerduty",
            fixture_json("pagerduty_trigger.json") | {"event_action": "explode"},
            "event_action",
        ),
        (
            "pagerduty",
            {k: v for k, v in fixture_json("pagerduty_trigger.json").items() if k != "payload"},
            "payload",
        ),
        ("generic", [1, 2, 3], "body"),
        ("generic", "just a string", "body"),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(
    http: httpx.AsyncClient, tokens: Tokens, fmt: str, body: object, field: str
) -> None:
    response = await post_alert(http, fmt, json.dumps(body).encode(), tokens.source)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field
    assert problem["status"] == 422 and problem["type"].startswith("urn:firebreak:problem:")


async def test_alertmanager_bad_label_names_the_alert(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    doc = fixture_json("alertmanager_firing.json")
    doc["alerts"][1]["labels"]["env"] = "moon"
    response = await post_alert(http, "alertmanager", json.dumps(doc).encode(), tokens.source)
    assert response.status_code == 422
    assert response.json()["field"] == "alerts.1.labels.env"  # the label it sent


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"{" * 5000 + b"}" * 5000,
        b"[" * 100_000,
        b'{"id": "x", "type": "a", "fingerprint": "' + b"\\ud800" + b'"}',
        b'{"id": 1e999999, "type": "a"}',
        b"null",
        b'{"id": "\\u0000", "type": "a\\u0000"}',
    ],
)
async def test_hostile_bodies_never_5xx(
    http: httpx.AsyncClient, tokens: Tokens, body: bytes
) -> None:
    for fmt in ("generic", "alertmanager", "pagerduty", "cloudevents"):
        content_type = (
            "application/cloudevents+json" if fmt == "cloudevents" else "application/json"
        )
        response = await post_alert(http, fmt, body, tokens.source, content_type)
        assert 400 <= response.status_code < 500, (fmt, response.status_code, response.text)


async def test_unknown_format_and_binary_cloudevent_without_headers(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    unknown = await post_alert(http, "splunk", b"{}", tokens.source)
    assert unknown.status_code == 422 and unknown.json()["field"] == "format"
    headerless = await post_alert(
        http, "cloudevents", fixture_bytes("cloudevents_binary_data.json"), tokens.source
    )
    assert headerless.status_code == 422 and headerless.json()["field"] == "ce-specversion"


async def test_rate_limit_answers_429_with_retry_after(
    api_settings: Settings, temporal: Client, store: EventStore, tokens: Tokens, tmp_path: Path
) -> None:
    settings = api_settings.model_copy(update={"rate_limit_per_minute": 3})
    app = create_app(settings, temporal_client=temporal, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as http:
        body = fixture_bytes("generic.json")
        codes = [
            (await post_alert(http, "generic", body, tokens.source)).status_code for _ in range(3)
        ]
        assert codes == [202, 202, 202]
        limited = await post_alert(http, "generic", body, tokens.source)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        other_source = await post_alert(http, "generic", body, tokens.source_dev)
        assert other_source.status_code == 403  # its own bucket: limited by scope, not by rate
