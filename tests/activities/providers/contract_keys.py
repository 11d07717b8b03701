"""The KeyProvider contract: what every key provider does, whatever gateway it speaks to.

`KeyRevocation` is the part every provider implements (revoke, usage); `KeyRestore` adds the
inverse for providers whose gateway can undo a revoke. A concrete class builds the provider in
an autouse fixture (`self.provider`) and says how to add a key to the system behind it, whether
that system treats a key as active, and how to take a snapshot of its whole state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pytest

from activities.errors import ResourceNotFound
from activities.providers.protocols import KeyProvider, KeyState
from tests.activities.providers.contract_support import (
    idempotency_tests,
    repeated,
)

REASON = "firebreak incident inc-1 step contain"


class KeyRevocation(ABC):
    provider: KeyProvider

    @abstractmethod
    async def add_key(self) -> str:
        """An active key newly added to the system; its id as the provider names it."""

    @abstractmethod
    async def is_active(self, key_id: str) -> bool:
        """Whether the system itself (not the provider) lets the key through."""

    @abstractmethod
    async def observe(self) -> object:
        """A comparable snapshot of the system's state, including the effects it received."""

    async def revoke(self, key_id: str, idempotency_key: str = "wf/revoke") -> KeyState:
        return await self.provider.revoke(key_id, reason=REASON, idempotency_key=idempotency_key)

    async def test_revoke_blocks_that_key_only(self) -> None:
        key, other = await self.add_key(), await self.add_key()
        assert await self.revoke(key) == KeyState(key_id=key, active=False, changed=True)
        assert not await self.is_active(key)
        assert await self.is_active(other)

    async def repeated_revoke(self) -> tuple[KeyState, KeyState, bool]:
        """Revoke a key twice under one idempotency key: both answers, and whether the repeat
        left the system as the first call did."""
        key = await self.add_key()
        answers = await repeated(lambda: self.revoke(key), self.observe)
        assert not await self.is_active(key)
        return answers

    (
        test_a_repeated_revoke_applies_nothing,
        test_a_repeated_revoke_returns_the_first_answer,
    ) = idempotency_tests(repeated_revoke)

    async def test_revoking_a_revoked_key_in_another_step_changes_nothing(self) -> None:
        key = await self.add_key()
        await self.revoke(key, "wf/first")
        before = await self.observe()
        assert await self.revoke(key, "wf/second") == KeyState(
            key_id=key, active=False, changed=False
        )
        assert await self.observe() == before

    async def test_usage_names_the_key_and_changes_nothing(self) -> None:
        key = await self.add_key()
        before = await self.observe()
        assert (await self.provider.usage(key)).key_id == key
        assert await self.observe() == before

    async def test_revoking_an_unknown_key_is_not_found(self) -> None:
        await self.add_key()
        before = await self.observe()
        with pytest.raises(ResourceNotFound):
            await self.revoke("key-that-was-never-issued")
        assert await self.observe() == before

    async def test_usage_of_an_unknown_key_is_not_found(self) -> None:
        with pytest.raises(ResourceNotFound):
            await self.provider.usage("key-that-was-never-issued")


class KeyRestore(KeyRevocation):
    async def restore(self, key_id: str, idempotency_key: str = "wf/restore") -> KeyState:
        return await self.provider.restore(key_id, idempotency_key=idempotency_key)

    async def test_restore_undoes_a_revoke(self) -> None:
        key = await self.add_key()
        await self.revoke(key)
        assert await self.restore(key) == KeyState(key_id=key, active=True, changed=True)
        assert await self.is_active(key)

    async def repeated_restore(self) -> tuple[KeyState, KeyState, bool]:
        """Revoke a key, then restore it twice under one idempotency key."""
        key = await self.add_key()
        await self.revoke(key)
        answers = await repeated(lambda: self.restore(key), self.observe)
        assert await self.is_active(key)
        return answers

    (
        test_a_repeated_restore_applies_nothing,
        test_a_repeated_restore_returns_the_first_answer,
    ) = idempotency_tests(repeated_restore)

    async def test_restoring_an_active_key_changes_nothing(self) -> None:
        key = await self.add_key()
        before = await self.observe()
        assert await self.restore(key) == KeyState(key_id=key, active=True, changed=False)
        assert await self.observe() == before

    async def test_restoring_an_unknown_key_is_not_found(self) -> None:
        with pytest.raises(ResourceNotFound):
            await self.restore("key-that-was-never-issued")
