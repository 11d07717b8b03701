"""Provider interfaces: the only way activities touch the systems that serve the AI.

Each capability is a `Protocol`, so a provider is chosen by configuration and tested without
Temporal. Every effecting method takes an `idempotency_key`: calling it again with the same key
must not apply the effect twice, and must return what the first call returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from workflows.contracts import Notification

__all__ = [
    "AgentControl",
    "AliasMove",
    "DatasetStore",
    "EvidenceStore",
    "IntegrityReport",
    "KeyProvider",
    "KeyState",
    "KeyUsage",
    "ModelRegistry",
    "ModelSnapshot",
    "Notifier",
    "QuarantineState",
    "RetrainingRun",
    "RetrainingRunner",
    "RunState",
    "ToolState",
    "ValidationReport",
]


class KeyState(BaseModel):
    key_id: str
    active: bool
    changed: bool


class KeyUsage(BaseModel):
    key_id: str
    requests: int
    last_used_at: datetime | None = None
    detail: dict[str, str] = Field(default_factory=dict)
    recent: list[dict[str, str]] = Field(
        default_factory=list, description="The latest access-log entries, oldest first."
    )


class KeyProvider(Protocol):
    async def revoke(self, key_id: str, *, reason: str, idempotency_key: str) -> KeyState: ...

    async def restore(self, key_id: str, *, idempotency_key: str) -> KeyState: ...

    async def usage(self, key_id: str) -> KeyUsage: ...


class ModelSnapshot(BaseModel):
    model: str
    alias: str
    version: str
    source: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class AliasMove(BaseModel):
    model: str
    alias: str
    from_version: str
    to_version: str
    changed: bool


class ValidationReport(BaseModel):
    model: str
    version: str
    passed: bool
    metrics: dict[str, float] = Field(default_factory=dict)
    detail: str = ""
    samples: list[dict[str, str]] = Field(
        default_factory=list, description="Model inputs and outputs seen while validating."
    )


class ModelRegistry(Protocol):
    async def snapshot(self, model: str, alias: str, *, idempotency_key: str) -> ModelSnapshot:
        """Record the version behind `alias` as the known-good rollback target."""
        ...

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
        """Point `alias` at `to_version` (default: the last known-good snapshot) and tag the
        version it leaves as quarantined by `incident_id`.

        With `from_version`, only if `alias` serves that version: otherwise nothing moves and
        nothing is tagged, and the answer is the alias on the version it serves
        (``from_version == to_version``, not changed). The check belongs to the recorded
        effect: a retry under the same key after the alias moved answers the move made."""
        ...

    async def restore(
        self, model: str, alias: str, version: str, *, idempotency_key: str
    ) -> AliasMove: ...

    async def validate(self, model: str, version: str) -> ValidationReport: ...

    async def resolve(self, model: str, alias: str) -> str:
        """The version `alias` points at now."""
        ...


class IntegrityReport(BaseModel):
    dataset: str
    version: str
    ok: bool
    checked: int
    mismatches: list[str] = Field(default_factory=list)
    manifest: dict[str, str] = Field(
        default_factory=dict, description="The recorded manifest: file path -> sha256."
    )


class QuarantineState(BaseModel):
    dataset: str
    version: str
    quarantined: bool
    changed: bool


class DatasetStore(Protocol):
    async def verify(self, dataset: str, version: str) -> IntegrityReport: ...

    async def quarantine(
        self, dataset: str, version: str, *, incident_id: str, idempotency_key: str
    ) -> QuarantineState: ...

    async def release(
        self, dataset: str, version: str, *, idempotency_key: str
    ) -> QuarantineState: ...

    async def versions(self, dataset: str) -> dict[str, bool]:
        """Every version, oldest first, mapped to whether it is quarantined."""
        ...

    async def latest_clean(self, dataset: str) -> str:
        """The newest version that is not quarantined."""
        ...


RunState = Literal["queued", "running", "succeeded", "failed"]


class RetrainingRun(BaseModel):
    run_id: str
    state: RunState
    model_version: str | None = None
    detail: str = ""


class RetrainingRunner(Protocol):
    async def trigger(
        self,
        model: str,
        dataset: str,
        dataset_version: str,
        *,
        incident_id: str,
        idempotency_key: str,
    ) -> RetrainingRun: ...

    async def status(self, run_id: str) -> RetrainingRun: ...


class ToolState(BaseModel):
    agent: str
    tool: str
    enabled: bool
    changed: bool


class AgentControl(Protocol):
    async def suspend_tool(
        self, agent: str, tool: str, *, reason: str, idempotency_key: str
    ) -> ToolState: ...

    async def restore_tool(self, agent: str, tool: str, *, idempotency_key: str) -> ToolState: ...


class Notifier(Protocol):
    async def notify(self, message: Notification) -> None: ...


class EvidenceStore(Protocol):
    """Content-addressed evidence: stored under the SHA-256 of its content."""

    async def put(self, content: bytes, *, idempotency_key: str) -> str:
        """Store `content`, return its sha256 hex digest. A repeat with the same key returns
        the first digest and stores nothing, so a retried collection records one item."""
        ...

    async def get(self, digest: str) -> bytes: ...
