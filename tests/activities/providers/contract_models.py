"""The ModelRegistry contract: snapshot a rollback target, roll back to it (or to a named
version) leaving the old version tagged quarantined by the incident, restore, validate.

A concrete class builds the provider in an autouse fixture (`self.provider`) and says how to
create a model in the system behind it, how a deployment outside Firebreak moves the alias,
which incident the system's tags name as having quarantined a version, and how to take a
snapshot of a model's state there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import partial

import pytest

from activities.errors import ActivityError, ResourceNotFound
from activities.providers.protocols import AliasMove, ModelRegistry
from tests.activities.providers.contract_support import (
    idempotency_tests,
    repeated,
)

ALIAS = "champion"
INCIDENT = "inc-7"


class ModelRegistryContract(ABC):
    provider: ModelRegistry

    @abstractmethod
    async def make_model(self, good: list[bool], serving: str) -> str:
        """A new model with versions "1", "2", … (version n passes validation iff good[n-1])
        and `ALIAS` on `serving`; its name."""

    @abstractmethod
    async def deploy(self, model: str, version: str) -> None:
        """Move `ALIAS` to `version` as a deployment outside Firebreak would."""

    @abstractmethod
    async def quarantined_by(self, model: str, version: str) -> str | None:
        """The incident the system's own tags name as having quarantined `version`."""

    @abstractmethod
    async def observe(self, model: str) -> object:
        """A comparable snapshot of the model in the system: aliases, tags, records."""

    async def rollback(
        self, model: str, to: str | None, key: str = "wf/rollback", only_from: str | None = None
    ) -> AliasMove:
        return await self.provider.rollback(
            model,
            ALIAS,
            to_version=to,
            incident_id=INCIDENT,
            idempotency_key=key,
            from_version=only_from,
        )

    async def restore(self, model: str, version: str, key: str = "wf/restore") -> AliasMove:
        return await self.provider.restore(model, ALIAS, version, idempotency_key=key)

    @staticmethod
    def move(model: str, source: str, target: str, changed: bool) -> AliasMove:
        return AliasMove(
            model=model, alias=ALIAS, from_version=source, to_version=target, changed=changed
        )

    async def test_snapshot_names_the_version_behind_the_alias(self) -> None:
        model = await self.make_model([True, True, False], serving="2")
        snap = await self.provider.snapshot(model, ALIAS, idempotency_key="wf/snapshot")
        assert (snap.model, snap.alias, snap.version) == (model, ALIAS, "2")
        assert await self.provider.resolve(model, ALIAS) == "2"

    async def test_a_repeated_snapshot_returns_the_first_answer(self) -> None:
        model = await self.make_model([True, True, False], serving="2")
        first = await self.provider.snapshot(model, ALIAS, idempotency_key="wf/snapshot")
        await self.deploy(model, "3")
        assert await self.provider.snapshot(model, ALIAS, idempotency_key="wf/snapshot") == first

    async def test_rollback_returns_to_the_snapshot_and_quarantines_the_version_it_leaves(
        self,
    ) -> None:
        model = await self.make_model([True, True, False], serving="2")
        await self.provider.snapshot(model, ALIAS, idempotency_key="wf/snapshot")
        await self.deploy(model, "3")
        assert await self.rollback(model, None) == self.move(model, "3", "2", True)
        assert await self.provider.resolve(model, ALIAS) == "2"
        assert await self.quarantined_by(model, "3") == INCIDENT
        assert await self.quarantined_by(model, "2") is None

    async def test_rollback_to_a_named_version(self) -> None:
        model = await self.make_model([True, True, False], serving="3")
        assert await self.rollback(model, "1") == self.move(model, "3", "1", True)
        assert await self.provider.resolve(model, ALIAS) == "1"
        assert await self.quarantined_by(model, "3") == INCIDENT

    async def repeated_rollback(self) -> tuple[AliasMove, AliasMove, bool]:
        """Roll back 3 -> 1 twice under one key: both answers, and whether the repeat left the
        registry as the first call did."""
        model = await self.make_model([True, True, False], serving="3")
        answers = await repeated(lambda: self.rollback(model, "1"), partial(self.observe, model))
        assert await self.provider.resolve(model, ALIAS) == "1"
        return answers

    (
        test_a_repeated_rollback_applies_nothing,
        test_a_repeated_rollback_returns_the_first_answer,
    ) = idempotency_tests(repeated_rollback)

    async def test_rolling_back_to_the_serving_version_changes_nothing(self) -> None:
        model = await self.make_model([True, True], serving="2")
        before = await self.observe(model)
        assert await self.rollback(model, "2") == self.move(model, "2", "2", False)
        assert await self.observe(model) == before

    async def test_rollback_from_a_version_the_alias_does_not_serve_changes_nothing(
        self,
    ) -> None:
        """A drifted canary (version 3) while the alias serves 2: no move, no quarantine tag
        on either version, no record; the answer is the alias where it is."""
        model = await self.make_model([True, True, False], serving="2")
        await self.provider.snapshot(model, ALIAS, idempotency_key="wf/snapshot")
        before = await self.observe(model)
        assert await self.rollback(model, None, only_from="3") == self.move(model, "2", "2", False)
        assert await self.rollback(model, "1", only_from="3", key="wf/other") == self.move(
            model, "2", "2", False
        )
        assert await self.observe(model) == before
        assert await self.quarantined_by(model, "2") is None
        assert await self.quarantined_by(model, "3") is None

    async def test_rollback_from_the_version_the_alias_serves_moves_it(self) -> None:
        model = await self.make_model([True, True, False], serving="3")
        assert await self.rollback(model, "1", only_from="3") == self.move(model, "3", "1", True)
        assert await self.provider.resolve(model, ALIAS) == "1"
        assert await self.quarantined_by(model, "3") == INCIDENT

    async def repeated_rollback_from(self) -> tuple[AliasMove, AliasMove, bool]:
        """Roll back 3 -> 1, only from 3, twice under one key: the retry after a crash, where
        the alias has already left version 3, which must not read as "serves another"."""
        model = await self.make_model([True, True, False], serving="3")
        answers = await repeated(
            lambda: self.rollback(model, "1", only_from="3"), partial(self.observe, model)
        )
        assert await self.provider.resolve(model, ALIAS) == "1"
        return answers

    (
        test_a_repeated_rollback_from_a_version_applies_nothing,
        test_a_repeated_rollback_from_a_version_returns_the_first_answer,
    ) = idempotency_tests(repeated_rollback_from)

    async def test_rollback_with_no_rollback_target_fails_for_good_and_moves_nothing(
        self,
    ) -> None:
        model = await self.make_model([True], serving="1")
        with pytest.raises(ActivityError) as caught:
            await self.rollback(model, None)
        assert not caught.value.retryable
        assert await self.provider.resolve(model, ALIAS) == "1"

    async def test_restore_undoes_a_rollback(self) -> None:
        model = await self.make_model([True, True, False], serving="3")
        await self.rollback(model, "2")
        assert await self.restore(model, "3") == self.move(model, "2", "3", True)
        assert await self.provider.resolve(model, ALIAS) == "3"
        assert await self.quarantined_by(model, "3") is None

    async def repeated_restore(self) -> tuple[AliasMove, AliasMove, bool]:
        """Roll back 3 -> 2, then restore 3 twice under one key."""
        model = await self.make_model([True, True, False], serving="3")
        await self.rollback(model, "2")
        answers = await repeated(lambda: self.restore(model, "3"), partial(self.observe, model))
        assert await self.provider.resolve(model, ALIAS) == "3"
        return answers

    (
        test_a_repeated_restore_applies_nothing,
        test_a_repeated_restore_returns_the_first_answer,
    ) = idempotency_tests(repeated_restore)

    async def test_restoring_the_serving_version_changes_nothing(self) -> None:
        model = await self.make_model([True, True], serving="2")
        before = await self.observe(model)
        assert await self.restore(model, "2") == self.move(model, "2", "2", False)
        assert await self.observe(model) == before

    async def test_validate_passes_a_good_version_and_fails_a_bad_one(self) -> None:
        model = await self.make_model([True, False], serving="1")
        good, bad = (
            await self.provider.validate(model, "1"),
            await self.provider.validate(model, "2"),
        )
        assert (good.model, good.version, good.passed) == (model, "1", True)
        assert (bad.model, bad.version, bad.passed) == (model, "2", False)

    async def test_an_unknown_model_is_not_found(self) -> None:
        with pytest.raises(ResourceNotFound):
            await self.provider.resolve("no-such-model", ALIAS)
        with pytest.raises(ResourceNotFound):
            await self.provider.snapshot("no-such-model", ALIAS, idempotency_key="wf/snapshot")
        with pytest.raises(ResourceNotFound):
            await self.rollback("no-such-model", "1")

    async def test_an_unknown_alias_is_not_found(self) -> None:
        model = await self.make_model([True], serving="1")
        with pytest.raises(ResourceNotFound):
            await self.provider.resolve(model, "no-such-alias")
        with pytest.raises(ResourceNotFound):
            await self.provider.snapshot(model, "no-such-alias", idempotency_key="wf/snapshot")

    async def test_an_unknown_version_is_not_found_and_moves_nothing(self) -> None:
        model = await self.make_model([True, True], serving="2")
        before = await self.observe(model)
        with pytest.raises(ResourceNotFound):
            await self.provider.validate(model, "99")
        with pytest.raises(ResourceNotFound):
            await self.rollback(model, "99")
        with pytest.raises(ResourceNotFound):
            await self.restore(model, "99")
        assert await self.observe(model) == before
