"""HttpKeyProvider presets against the loopback gateways of `fake_gateways`: what the contract
suite does not state (secrets, retries, rate limits, timeouts, usage details)."""

from __future__ import annotations

import logging
import time
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
from tests.activities.providers.fake_gateways import (
    TOKEN,
    TOKEN_ENV,
    KongGateway,
    LiteLLMGateway,
    OpenAIGateway,
)
from tests.support.providers import Loopback, Recorded, Reply

SECRET = TOKEN


@pytest.fixture(autouse=True)
def admin_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)


def litellm_gateway() -> tuple[LiteLLMGateway, str]:
    """A LiteLLM proxy holding one active key with some spend on it, and that key."""
    gateway = LiteLLMGateway()
    key = gateway.add_key()
    gateway.keys[key].update(
        spend=12.5, key_alias="support-bot", last_active="2026-11-24T10:00:00Z"
    )
    return gateway, key


async def test_litellm_revoke_restore_usage_idempotent(
    loopback: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway, key = litellm_gateway()
    loopback.handler = gateway
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))

    first = await provider.revoke(key, reason="leaked", idempotency_key="wf/1")
    assert (first.active, first.changed, gateway.keys[key]["blocked"]) == (False, True, True)
    again = await provider.revoke(key, reason="leaked", idempotency_key="wf/1")
    assert (again.active, again.changed) == (False, False)
    assert [r.path for r in loopback.requests].count("/key/block") == 1

    usage = await provider.usage(key)
    assert usage.detail == {"spend": "12.5", "key_alias": "support-bot"}
    assert usage.last_used_at is not None and usage.last_used_at.year == 2026

    restored = await provider.restore(key, idempotency_key="wf/2")
    assert (restored.active, restored.changed, gateway.keys[key]["blocked"]) == (True, True, False)
    assert not (await provider.restore(key, idempotency_key="wf/2")).changed
    assert SECRET not in repr(first) + repr(usage) + repr(provider.config)
    assert "/key/block" in caplog.text and SECRET not in caplog.text
    await provider.aclose()


async def test_auth_failure_is_not_retryable_and_never_shows_the_secret(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.handler, key = litellm_gateway()
    monkeypatch.setenv(TOKEN_ENV, "sk-wrong-secret-value")
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))
    with pytest.raises(ProviderError) as caught:
        await provider.revoke(key, reason="r", idempotency_key="k")
    assert not caught.value.retryable
    assert "authentication failed" in str(caught.value)
    assert "sk-wrong-secret-value" not in str(caught.value)


async def test_missing_secret_variable_names_it(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))
    with pytest.raises(ProviderError, match=f"{TOKEN_ENV} is not set") as caught:
        await provider.usage("any-key")
    assert not caught.value.retryable
    assert loopback.requests == []


async def test_unknown_key_is_not_found(loopback: Loopback) -> None:
    loopback.handler = LiteLLMGateway()
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))
    with pytest.raises(ResourceNotFound, match="litellm: read state of key nope"):
        await provider.revoke("nope", reason="r", idempotency_key="k")


async def test_rate_limit_carries_retry_after(loopback: Loopback) -> None:
    loopback.handler = lambda r: (429, {"Retry-After": "7"}, {"error": "slow down"})
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.revoke("any-key", reason="r", idempotency_key="k")
    assert caught.value.retryable and caught.value.retry_after == 7
    failure = as_application_error(caught.value)
    assert not failure.non_retryable and failure.next_retry_delay == timedelta(seconds=7)


def test_retry_after_is_capped_and_ignored_when_not_retryable() -> None:
    hostile = ProviderRateLimited("gateway: slow down", retry_after=86_400)
    assert as_application_error(hostile).next_retry_delay == MAX_RETRY_DELAY
    assert as_application_error(ProviderError("boom")).next_retry_delay is None


async def test_server_error_then_success_on_retry(loopback: Loopback) -> None:
    healthy, key = litellm_gateway()
    calls = iter([(503, {}, {"error": "upstream"})])
    loopback.handler = lambda r: next(calls, None) or healthy(r)
    provider = HttpKeyProvider(litellm(loopback.url, TOKEN_ENV))
    with pytest.raises(ProviderError, match="HTTP 503") as caught:
        await provider.revoke(key, reason="r", idempotency_key="k")
    assert caught.value.retryable
    assert (await provider.revoke(key, reason="r", idempotency_key="k")).changed


async def test_timeout_is_retryable(loopback: Loopback) -> None:
    def slow(request: Recorded) -> Reply:
        time.sleep(1.0)
        return 200, {}, {}

    loopback.handler = slow
    config = litellm(loopback.url, TOKEN_ENV).model_copy(update={"timeout_seconds": 0.2})
    with pytest.raises(ProviderError, match="timed out") as caught:
        await HttpKeyProvider(config).usage("any-key")
    assert caught.value.retryable


async def test_kong_revokes_through_the_consumer_acl(loopback: Loopback) -> None:
    loopback.handler = gateway = KongGateway()
    credential = gateway.add_key()
    groups = gateway.groups[gateway.keys[credential]]
    provider = HttpKeyProvider(kong(loopback.url, TOKEN_ENV))

    assert (await provider.revoke(credential, reason="r", idempotency_key="k")).changed
    assert groups == {"support", "firebreak-revoked"}
    assert not (await provider.revoke(credential, reason="r", idempotency_key="k")).changed
    assert (await provider.restore(credential, idempotency_key="k2")).changed
    assert groups == {"support"}
    with pytest.raises(ResourceNotFound):
        await provider.revoke("cred-9", reason="r", idempotency_key="k3")


async def test_openai_revoke_deletes_and_restore_asks_for_a_new_key(loopback: Loopback) -> None:
    loopback.handler = gateway = OpenAIGateway()
    key_id = gateway.add_key()
    gateway.keys[key_id]["last_used_at"] = 1732000000
    provider = HttpKeyProvider(openai(loopback.url, TOKEN_ENV))
    usage = await provider.usage(key_id)
    assert usage.detail["name"] == "ci" and usage.last_used_at is not None
    assert (await provider.revoke(key_id, reason="r", idempotency_key="k")).changed
    assert gateway.keys == {}
    with pytest.raises(ProviderError, match="cannot be restored") as caught:
        await provider.restore(key_id, idempotency_key="k")
    assert not caught.value.retryable
