"""Problem details for every kind of error, and health/readiness answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from orchestrator.api.app import create_app
from orchestrator.audit import EventStore
from orchestrator.db import make_engine
from orchestrator.settings import Settings
from tests.support.app import bearer
from tests.support.principals import Tokens


async def test_errors_are_problem_documents(
    app: FastAPI, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    def explode() -> None:
        raise RuntimeError("postgresql://user:hunter2@db/prod exploded")

    app.add_api_route("/explode", explode)
    crashed = await http.get("/explode")
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in crashed.text and "RuntimeError" not in crashed.text

    missing = await http.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["title"] == "Not found"

    anonymous = await http.get("/v1/incidents")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json() == {
        "type": "urn:firebreak:problem:unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": "a bearer token is required",
    }
    bad_token = await http.get("/v1/incidents", headers=bearer("fbk_not-a-real-token"))
    assert bad_token.status_code == 401
    forbidden = await http.get("/v1/audit/events", headers=bearer(tokens.responder))
    assert forbidden.status_code == 403 and "audit:read" in forbidden.json()["detail"]

    invalid = await http.post(
        "/v1/principals", json={"name": "x", "role": "king"}, headers=bearer(tokens.admin)
    )
    assert invalid.status_code == 422 and invalid.json()["field"] == "role"
    garbled = await http.post(
        "/v1/principals",
        content=b"\xff{not json",
        headers={**bearer(tokens.admin), "content-type": "application/json"},
    )
    assert garbled.status_code == 422 and garbled.json()["field"] == "body"
    listed = await http.get("/v1/principals", headers=bearer(tokens.admin))
    assert all(p["created_at"].endswith("Z") or "+00:00" in p["created_at"] for p in listed.json())


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json()["status"] == "ok"
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text  # no worker polls this test's task queue
    body = ready.json()
    assert body["status"] == "degraded"
    assert {name: check["state"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "schema": "ok",
        "temporal": "ok",
        "workers": "none",
        "forwarding": "none",
        "witnesses": "none",  # no worker has created this task queue's checkpoint schedule
    }


async def test_not_ready_without_database_or_temporal(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
        temporal_address="127.0.0.1:9",
    )
    store = EventStore(make_engine(settings.db_url))
    app = create_app(settings, store=store)  # lifespan not run: no Temporal client either
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/json"
        assert ready.json() == {
            "status": "not_ready",
            "checks": {
                "database": {"state": "unreachable", "detail": "OperationalError"},
                "schema": {"state": "unknown", "detail": ""},
                "temporal": {"state": "unreachable", "detail": "Unavailable"},
                "workers": {"state": "unknown", "detail": ""},
                "forwarding": {"state": "unknown", "detail": ""},
                "witnesses": {"state": "unknown", "detail": ""},
            },
        }
        unreachable = await http.get("/v1/incidents", headers=bearer("fbk_x"))
        assert unreachable.status_code == 503
    store.engine.dispose()


async def test_unexpected_errors_log_no_exception_text(
    app: FastAPI, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "-".join(("fbk_leaked", "secret"))  # built at run time: frames show source lines

    def explode() -> None:
        raise RuntimeError(f"token {secret}")

    app.add_api_route("/explode", explode)
    assert (await http.get("/explode")).status_code == 500
    assert "RuntimeError" in caplog.text and "explode" in caplog.text
    assert secret not in caplog.text


async def test_connects_to_temporal_when_it_is_first_needed(
    api_settings: Settings, store: EventStore, temporal_dev_env: WorkflowEnvironment
) -> None:
    target = temporal_dev_env.client.service_client.config.target_host
    app = create_app(api_settings.model_copy(update={"temporal_address": target}), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert app.state.temporal is None  # as after a start-up while Temporal was down
        assert (await http.get("/readyz")).status_code == 200
        assert app.state.temporal is not None
