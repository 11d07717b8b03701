"""The KeyProvider contract against the local key store and the HTTP provider's LiteLLM, Kong
and OpenAI presets, each on a loopback server speaking that gateway's admin API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from activities.providers.http_keys import GatewayConfig, HttpKeyProvider, kong, litellm, openai
from activities.providers.local.keys import LocalKeyStore
from activities.providers.protocols import KeyProvider
from tests.activities.providers.contract_keys import KeyRestore, KeyRevocation
from tests.activities.providers.contract_support import violation
from tests.activities.providers.fake_gateways import (
    TOKEN,
    TOKEN_ENV,
    FakeGateway,
    KongGateway,
    LiteLLMGateway,
    OpenAIGateway,
)
from tests.support.providers import Loopback


class TestLocalKeyStore(KeyRestore):
    @pytest.fixture(autouse=True)
    def system(self, tmp_path: Path) -> None:
        self.store = LocalKeyStore(tmp_path)
        self.provider = self.store

    async def add_key(self) -> str:
        key_id = f"key-{uuid.uuid4().hex[:8]}"
        self.store.add_key(key_id, name="bot", owner="cx", created_at="2026-01-01T00:00:00+00:00")
        return key_id

    async def is_active(self, key_id: str) -> bool:
        return self.store.is_active(key_id)

    async def observe(self) -> object:
        return self.store.state.read()["keys"], self.store.access_log.exists()


class OnGateway:
    """A key provider over a fake gateway on loopback, configured by one of the presets."""

    fake: type[FakeGateway]
    preset: Callable[[str, str], GatewayConfig]
    gateway: FakeGateway
    provider: KeyProvider

    @pytest.fixture(autouse=True)
    async def system(
        self, loopback: Loopback, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[None]:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        loopback.handler = self.gateway = self.fake()
        self.provider = http = HttpKeyProvider(self.preset(loopback.url, TOKEN_ENV))
        yield
        await http.aclose()

    async def add_key(self) -> str:
        return self.gateway.add_key()

    async def is_active(self, key_id: str) -> bool:
        return self.gateway.is_active(key_id)

    async def observe(self) -> object:
        return self.gateway.snapshot()


STATELESS = (
    "HttpKeyProvider keeps no record of an idempotency key: a repeat finds the effect in place "
    "and answers changed=False, so a keys.{0} retried after the effect landed but before the "
    "activity returned reports 'already' instead of the first result{1}"
)


class StatelessRestore(OnGateway, KeyRestore):
    test_a_repeated_revoke_returns_the_first_answer = violation(
        KeyRestore.test_a_repeated_revoke_returns_the_first_answer,
        STATELESS.format("revoke", " and loses the inverse the workflow compensates with"),
    )
    test_a_repeated_restore_returns_the_first_answer = violation(
        KeyRestore.test_a_repeated_restore_returns_the_first_answer,
        STATELESS.format("restore", ""),
    )


class TestLiteLLM(StatelessRestore):
    fake = LiteLLMGateway
    preset = staticmethod(litellm)


class TestKong(StatelessRestore):
    fake = KongGateway
    preset = staticmethod(kong)

    test_usage_of_an_unknown_key_is_not_found = violation(
        KeyRestore.test_usage_of_an_unknown_key_is_not_found,
        "the kong preset has no usage operation, so usage() answers '0 requests, never used' "
        "for any id without asking the gateway, even for a key that does not exist",
    )


GONE = (
    "the openai preset revokes by DELETE and has no state read: a repeat sends DELETE again, "
    "the gateway answers 404 and the provider raises ResourceNotFound, so a retried "
    "keys.revoke fails for good although the key was revoked"
)


class TestOpenAI(OnGateway, KeyRevocation):
    """Revocation only: the preset documents that a deleted admin key cannot be restored."""

    fake = OpenAIGateway
    preset = staticmethod(openai)

    test_a_repeated_revoke_applies_nothing = violation(
        KeyRevocation.test_a_repeated_revoke_applies_nothing, GONE
    )
    test_a_repeated_revoke_returns_the_first_answer = violation(
        KeyRevocation.test_a_repeated_revoke_returns_the_first_answer, GONE
    )
    test_revoking_a_revoked_key_in_another_step_changes_nothing = violation(
        KeyRevocation.test_revoking_a_revoked_key_in_another_step_changes_nothing, GONE
    )
