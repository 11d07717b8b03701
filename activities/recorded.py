"""Every provider as the worker runs it: its effects answered once per idempotency key.

Each class wraps one provider protocol and sends its effecting methods through
`EffectRecords.once` (the first answer, from the database, whichever worker repeats it); reads
(`usage`, `validate`, `versions`, `status`, `get` ...) go straight to the provider. The
factory wraps what it builds, so no provider implements the record itself, and the contract
suites run the providers wrapped, as the worker does.
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.effects import EffectRecords
from activities.providers.protocols import (
    AgentControl,
    AliasMove,
    DatasetStore,
    EvidenceStore,
    IntegrityReport,
    KeyProvider,
    KeyState,
    KeyUsage,
    ModelRegistry,
    ModelSnapshot,
    QuarantineState,
    RetrainingRun,
    RetrainingRunner,
    ToolState,
    ValidationReport,
)


@dataclass(frozen=True)
class RecordedKeys:
    inner: KeyProvider
    records: EffectRecords

    async def revoke(self, key_id: str, *, reason: str, idempotency_key: str) -> KeyState:
        return await self.records.once(
            "keys.revoke",
            idempotency_key,
            KeyState,
            lambda: self.inner.revoke(key_id, reason=reason, idempotency_key=idempotency_key),
        )

    async def restore(self, key_id: str, *, idempotency_key: str) -> KeyState:
        return await self.records.once(
            "keys.restore",
            idempotency_key,
            KeyState,
            lambda: self.inner.restore(key_id, idempotency_key=idempotency_key),
        )

    async def usage(self, key_id: str) -> KeyUsage:
        return await self.inner.usage(key_id)


@dataclass(frozen=True)
class RecordedModels:
    inner: ModelRegistry
    records: EffectRecords

    async def snapshot(self, model: str, alias: str, *, idempotency_key: str) -> ModelSnapshot:
        return await self.records.once(
            "models.snapshot",
            idempotency_key,
            ModelSnapshot,
            lambda: self.inner.snapshot(model, alias, idempotency_key=idempotency_key),
        )

    async def rollback(
        self,
        model: str,
        alias: str,
        *,
        to_version: str | None,
        incident_id: str,
        idempotency_key: str,
        from_version: str | None = None,
    ) -> AliasMove:
        return await self.records.once(
            "models.rollback",
            idempotency_key,
            AliasMove,
            lambda: self.inner.rollback(
                model,
                alias,
                to_version=to_version,
                incident_id=incident_id,
                idempotency_key=idempotency_key,
                from_version=from_version,
            ),
        )

    async def restore(
        self, model: str, alias: str, version: str, *, idempotency_key: str
    ) -> AliasMove:
        return await self.records.once(
            "models.restore",
            idempotency_key,
            AliasMove,
            lambda: self.inner.restore(model, alias, version, idempotency_key=idempotency_key),
        )

    async def validate(self, model: str, version: str) -> ValidationReport:
        return await self.inner.validate(model, version)

    async def resolve(self, model: str, alias: str) -> str:
        return await self.inner.resolve(model, alias)


@dataclass(frozen=True)
class RecordedDatasets:
    inner: DatasetStore
    records: EffectRecords

    async def verify(self, dataset: str, version: str) -> IntegrityReport:
        return await self.inner.verify(dataset, version)

    async def quarantine(
        self, dataset: str, version: str, *, incident_id: str, idempotency_key: str
    ) -> QuarantineState:
        return await self.records.once(
            "datasets.quarantine",
            idempotency_key,
            QuarantineState,
            lambda: self.inner.quarantine(
                dataset, version, incident_id=incident_id, idempotency_key=idempotency_key
            ),
        )

    async def release(self, dataset: str, version: str, *, idempotency_key: str) -> QuarantineState:
        return await self.records.once(
            "datasets.release",
            idempotency_key,
            QuarantineState,
            lambda: self.inner.release(dataset, version, idempotency_key=idempotency_key),
        )

    async def versions(self, dataset: str) -> dict[str, bool]:
        return await self.inner.versions(dataset)

    async def latest_clean(self, dataset: str) -> str:
        return await self.inner.latest_clean(dataset)


@dataclass(frozen=True)
class RecordedRetraining:
    inner: RetrainingRunner
    records: EffectRecords

    async def trigger(
        self,
        model: str,
        dataset: str,
        dataset_version: str,
        *,
        incident_id: str,
        idempotency_key: str,
    ) -> RetrainingRun:
        return await self.records.once(
            "retraining.trigger",
            idempotency_key,
            RetrainingRun,
            lambda: self.inner.trigger(
                model,
                dataset,
                dataset_version,
                incident_id=incident_id,
                idempotency_key=idempotency_key,
            ),
        )

    async def status(self, run_id: str) -> RetrainingRun:
        return await self.inner.status(run_id)


@dataclass(frozen=True)
class RecordedAgents:
    inner: AgentControl
    records: EffectRecords

    async def suspend_tool(
        self, agent: str, tool: str, *, reason: str, idempotency_key: str
    ) -> ToolState:
        return await self.records.once(
            "agents.suspend_tool",
            idempotency_key,
            ToolState,
            lambda: self.inner.suspend_tool(
                agent, tool, reason=reason, idempotency_key=idempotency_key
            ),
        )

    async def restore_tool(self, agent: str, tool: str, *, idempotency_key: str) -> ToolState:
        return await self.records.once(
            "agents.restore_tool",
            idempotency_key,
            ToolState,
            lambda: self.inner.restore_tool(agent, tool, idempotency_key=idempotency_key),
        )


@dataclass(frozen=True)
class RecordedEvidence:
    inner: EvidenceStore
    records: EffectRecords

    async def put(self, content: bytes, *, idempotency_key: str) -> str:
        return await self.records.once(
            "evidence.put",
            idempotency_key,
            str,
            lambda: self.inner.put(content, idempotency_key=idempotency_key),
        )

    async def get(self, digest: str) -> bytes:
        return await self.inner.get(digest)
