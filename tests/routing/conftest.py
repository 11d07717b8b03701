"""The served stack for routing tests, its incidents ended afterwards, and one way to post."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client

from orchestrator.audit import open_event_store
from orchestrator.settings import Settings
from tests.support.app import bearer, terminate_started
from tests.support.principals import Tokens


@pytest_asyncio.fixture
async def served(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Tokens]]:
    """An HTTP client on the real API (real worker, Temporal dev server); the incidents it
    opened are terminated afterwards, since the fixtures' fingerprints are fixed."""
    url, tokens = api
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        yield http, tokens
    await terminate_started(dev_client, open_event_store(fb_settings).engine)


async def post(http: httpx.AsyncClient, token: str, fmt: str, body: Any) -> dict[str, Any]:
    """POST `body` as `fmt`; the 202 answer."""
    content_type = "application/cloudevents+json" if fmt == "cloudevents" else "application/json"
    response = await http.post(
        f"/v1/alerts/{fmt}",
        content=json.dumps(body).encode(),
        headers={**bearer(token), "content-type": content_type},
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer
