"""The KeyProvider contract against the local key store and the HTTP provider's LiteLLM, Kong
and OpenAI presets, each on a loopback server speaking that gateway's admin API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from activities.effects import EffectRecords
from activities.providers.http_keys import GatewayConfig, HttpKeyProvider, kong, litellm, openai
from activities.providers.local.keys import LocalKeyStore
from activities.providers.protocols import KeyProvider
from activities.recorded import RecordedKeys
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
    def system(self, tmp_path: Path, effect_records: EffectRecords) -> None:
        self.store = LocalKeyStore(tmp_path)
        self.provider = RecordedKeys(self.store, effect_records)

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
        self, loopback: Loopback, monkeypatch: pytest.MonkeyPatch, effect_records: EffectRecords
    ) -> AsyncIterator[None]:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        loopback.handler = self.gateway = self.fake()
        http = HttpKeyProvider(self.preset(loopback.url, TOKEN_ENV))
        self.provider = RecordedKeys(http, effect_records)
        yield
        await http.aclose()

    async def add_key(self) -> str:
        return self.gateway.add_key()

    async def is_active(self, key_id: str) -> bool:
        return self.gateway.is_active(key_id)

    async def observe(self) -> object:
        return self.gateway.snapshot()


class TestLiteLLM(OnGateway, KeyRestore):
    fake = LiteLLMGateway
    preset = staticmethod(litellm)


class TestKong(OnGateway, KeyRestore):
    fake = KongGateway
    preset = staticmethod(kong)


GONE = (
    "the openai preset revokes by DELETE and has no state read: a revoke in another step (a "
    "new idempotency key, so no record answers it) sends DELETE again, the gateway answers "
    "404 for the key that is gone, and the provider cannot tell it from a key never issued"
)


class TestOpenAI(OnGateway, KeyRevocation):
    """Revocation only: the preset documents that a deleted admin key cannot be restored."""

    fake = OpenAIGateway
    preset = staticmethod(openai)

    test_revoking_a_revoked_key_in_another_step_changes_nothing = violation(
        KeyRevocation.test_revoking_a_revoked_key_in_another_step_changes_nothing, GONE
    )
