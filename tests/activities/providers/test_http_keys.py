"""HttpKeyProvider presets against loopback servers speaking each gateway's admin API."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from activities.errors import (
    MAX_RETRY_DELAY,
    ProviderError,
    ResourceNotFound,
    as_application_error,
)
from activities.providers.http_keys import HttpKeyProvider, kong, litellm, openai
from activities.providers.http_support import ProviderRateLimited
from tests.support.providers import Loopback, Recorded, Reply

SECRET = "sk-master-7f3a9c-do-not-leak"
HASHED = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


@pytest.fixture(autouse=True)
def admin_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", SECRET)


def litellm_api(blocked: dict[str, bool]) -> Callable[[Recorded], Reply]:
    """LiteLLM proxy: /key/block, /key/unblock, /key/info, master key as Bearer token."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return 401, {}, {"error": {"message": "Authentication Error", "code": "401"}}
        key = request.json()["key"] if request.body else request.query["key"][0]
        if key not in blocked:
            return 404, {}, {"detail": {"error": f"Key not found: {key}"}}
        if request.path in ("/key/block", "/key/unblock"):
            blocked[key] = request.path == "/key/block"
            return 200, {}, {"token": key, "blocked": blocked[key]}
        if request.path == "/key/info":
            info = {"blocked": blocked[key], "spend": 12.5, "key_alias": "support-bot"}
            return 200, {}, {"key": key, "info": {**info, "last_active": "2026-11-24T10:00:00Z"}}
        return 404, {}, {}

    return handle


async def test_litellm_revoke_restore_usage_idempotent(
    loopback: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blocked = {HASHED: False}
    loopback.handler = litellm_api(blocked)
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))

    first = await provider.revoke(HASHED, reason="leaked", idempotency_key="wf/1")
    assert (first.active, first.changed, blocked[HASHED]) == (False, True, True)
    again = await provider.revoke(HASHED, reason="leaked", idempotency_key="wf/1")
    assert (again.active, again.changed) == (False, False)
    assert [r.path for r in loopback.requests].count("/key/block") == 1

    usage = await provider.usage(HASHED)
    assert usage.detail == {"spend": "12.5", "key_alias": "support-bot"}
    assert usage.last_used_at is not None and usage.last_used_at.year == 2026

    restored = await provider.restore(HASHED, idempotency_key="wf/2")
    assert (restored.active, restored.changed, blocked[HASHED]) == (True, True, False)
    assert not (await provider.restore(HASHED, idempotency_key="wf/2")).changed
    assert SECRET not in repr(first) + repr(usage) + repr(provider.config)
    assert "/key/block" in caplog.text and SECRET not in caplog.text
    await provider.aclose()


async def test_auth_failure_is_not_retryable_and_never_shows_the_secret(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.handler = litellm_api({HASHED: False})
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "sk-wrong-secret-value")
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    with pytest.raises(ProviderError) as caught:
        await provider.revoke(HASHED, reason="r", idempotency_key="k")
    assert not caught.value.retryable
    assert "authentication failed" in str(caught.value)
    assert "sk-wrong-secret-value" not in str(caught.value)


async def test_missing_secret_variable_names_it(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_ADMIN_TOKEN")
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    with pytest.raises(ProviderError, match="GATEWAY_ADMIN_TOKEN is not set") as caught:
        await provider.usage(HASHED)
    assert not caught.value.retryable
    assert loopback.requests == []


async def test_unknown_key_is_not_found(loopback: Loopback) -> None:
    loopback.handler = litellm_api({})
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    with pytest.raises(ResourceNotFound, match="litellm: read state of key nope"):
        await provider.revoke("nope", reason="r", idempotency_key="k")


async def test_rate_limit_carries_retry_after(loopback: Loopback) -> None:
    loopback.handler = lambda r: (429, {"Retry-After": "7"}, {"error": "slow down"})
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.revoke(HASHED, reason="r", idempotency_key="k")
    assert caught.value.retryable and caught.value.retry_after == 7
    failure = as_application_error(caught.value)
    assert not failure.non_retryable and failure.next_retry_delay == timedelta(seconds=7)


def test_retry_after_is_capped_and_ignored_when_not_retryable() -> None:
    hostile = ProviderRateLimited("gateway: slow down", retry_after=86_400)
    assert as_application_error(hostile).next_retry_delay == MAX_RETRY_DELAY
    assert as_application_error(ProviderError("boom")).next_retry_delay is None


async def test_server_error_then_success_on_retry(loopback: Loopback) -> None:
    healthy = litellm_api({HASHED: False})
    calls = iter([(503, {}, {"error": "upstream"})])
    loopback.handler = lambda r: next(calls, None) or healthy(r)
    provider = HttpKeyProvider(litellm(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    with pytest.raises(ProviderError, match="HTTP 503") as caught:
        await provider.revoke(HASHED, reason="r", idempotency_key="k")
    assert caught.value.retryable
    assert (await provider.revoke(HASHED, reason="r", idempotency_key="k")).changed


async def test_timeout_is_retryable(loopback: Loopback) -> None:
    def slow(request: Recorded) -> Reply:
        time.sleep(1.0)
        return 200, {}, {}

    loopback.handler = slow
    config = litellm(loopback.url, "GATEWAY_ADMIN_TOKEN").model_copy(
        update={"timeout_seconds": 0.2}
    )
    with pytest.raises(ProviderError, match="timed out") as caught:
        await HttpKeyProvider(config).usage(HASHED)
    assert caught.value.retryable


def kong_api(groups: dict[str, set[str]]) -> Callable[[Recorded], Reply]:
    """Kong Admin API: key-auth credential lookup and consumer ACL groups."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("kong-admin-token") != SECRET:
            return 401, {}, {"message": "Invalid credentials. Token or User credentials required"}
        parts = request.path.strip("/").split("/")
        if parts[0] == "key-auths":
            if parts[1] != "cred-1":
                return 404, {}, {"message": "Not found"}
            return 200, {}, {"id": "cred-1", "key": "raw-api-key", "consumer": {"id": "cons-1"}}
        consumer = groups[parts[1]]
        if request.method == "GET":
            return 200, {}, {"data": [{"group": g} for g in sorted(consumer)], "next": None}
        if request.method == "POST":
            group = request.json()["group"]
            if group in consumer:
                return 409, {}, {"message": "UNIQUE violation detected"}
            consumer.add(group)
            return 201, {}, {"group": group, "consumer": {"id": parts[1]}}
        if parts[3] not in consumer:
            return 404, {}, {"message": "Not found"}
        consumer.discard(parts[3])
        return 204, {}, b""

    return handle


async def test_kong_revokes_through_the_consumer_acl(loopback: Loopback) -> None:
    groups: dict[str, set[str]] = {"cons-1": {"support"}}
    loopback.handler = kong_api(groups)
    provider = HttpKeyProvider(kong(loopback.url, "GATEWAY_ADMIN_TOKEN"))

    assert (await provider.revoke("cred-1", reason="r", idempotency_key="k")).changed
    assert groups["cons-1"] == {"support", "firebreak-revoked"}
    assert not (await provider.revoke("cred-1", reason="r", idempotency_key="k")).changed
    assert (await provider.restore("cred-1", idempotency_key="k2")).changed
    assert groups["cons-1"] == {"support"}
    with pytest.raises(ResourceNotFound):
        await provider.revoke("cred-9", reason="r", idempotency_key="k3")


def openai_api(keys: dict[str, dict[str, object]]) -> Callable[[Recorded], Reply]:
    """OpenAI Admin API keys: GET and DELETE /v1/organization/admin_api_keys/{id}."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return 401, {}, {"error": {"message": "Incorrect API key provided"}}
        key_id = request.path.rsplit("/", 1)[-1]
        if key_id not in keys:
            return 404, {}, {"error": {"message": "No such admin key"}}
        if request.method == "DELETE":
            del keys[key_id]
            return 200, {}, {"object": "organization.admin_api_key.deleted", "id": key_id}
        return 200, {}, keys[key_id]

    return handle


async def test_openai_revoke_deletes_and_restore_asks_for_a_new_key(loopback: Loopback) -> None:
    keys: dict[str, dict[str, object]] = {
        "key_abc": {
            "id": "key_abc",
            "name": "ci",
            "redacted_value": "sk-admin...xyz",
            "last_used_at": 1732000000,
        }
    }
    loopback.handler = openai_api(keys)
    provider = HttpKeyProvider(openai(loopback.url, "GATEWAY_ADMIN_TOKEN"))
    usage = await provider.usage("key_abc")
    assert usage.detail["name"] == "ci" and usage.last_used_at is not None
    assert (await provider.revoke("key_abc", reason="r", idempotency_key="k")).changed
    assert keys == {}
    with pytest.raises(ProviderError, match="cannot be restored") as caught:
        await provider.restore("key_abc", idempotency_key="k")
    assert not caught.value.retryable
