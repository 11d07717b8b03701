"""Evidence collection: capture what responders and auditors need, content-addressed.

Kinds (`kind` parameter; `resource` names what to collect about):

- `access_logs` — usage and recent access-log entries of an API key (`resource`: key id)
- `model_outputs` — validation metrics and sample inputs/outputs of a model
  (`resource`: `model` for the `production` alias, or `model@version`)
- `dataset_manifest` — manifests and integrity reports (`resource`: `dataset` for every
  version, or `dataset@version`)

Each collection is one canonical JSON document stored under its SHA-256; the digest goes into
`ActionResult.evidence` for the ledger. A retried collection returns the first digest.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from activities.base import action, dry_run, optional
from activities.errors import InvalidParams
from activities.models import DEFAULT_ALIAS
from activities.providers.protocols import DatasetStore, EvidenceStore, KeyProvider, ModelRegistry
from orchestrator.domain import ActionInput, ActionResult


def _split(resource: str) -> tuple[str, str | None]:
    name, _, version = resource.partition("@")
    return name, version or None


class EvidenceActivities:
    def __init__(
        self,
        store: EvidenceStore,
        keys: KeyProvider,
        models: ModelRegistry,
        datasets: DatasetStore,
    ) -> None:
        self.store = store
        self.keys = keys
        self.models = models
        self.datasets = datasets
        self.collectors: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {
            "access_logs": self._access_logs,
            "model_outputs": self._model_outputs,
            "dataset_manifest": self._dataset_manifest,
        }

    async def _access_logs(self, resource: str) -> dict[str, Any]:
        return (await self.keys.usage(resource)).model_dump(mode="json")

    async def _model_outputs(self, resource: str) -> dict[str, Any]:
        model, version = _split(resource)
        version = version or await self.models.resolve(model, DEFAULT_ALIAS)
        return (await self.models.validate(model, version)).model_dump(mode="json")

    async def _dataset_manifest(self, resource: str) -> dict[str, Any]:
        dataset, version = _split(resource)
        versions = [version] if version else list(await self.datasets.versions(dataset))
        reports = [await self.datasets.verify(dataset, v) for v in versions]
        return {"dataset": dataset, "reports": [r.model_dump(mode="json") for r in reports]}

    @action("evidence.collect")
    async def collect(self, input: ActionInput) -> ActionResult:
        kind = input.params["kind"]
        collector = self.collectors.get(kind)
        if collector is None:
            raise InvalidParams(
                f"evidence.collect: unknown kind {kind!r} (known: {', '.join(self.collectors)})",
                "kind",
            )
        resource = optional(input, "resource")
        if resource is None:
            raise InvalidParams(f"evidence.collect: kind {kind!r} needs 'resource'", "resource")
        if input.dry_run:
            return dry_run(input, f"collect {kind} of {resource}")
        document = {
            "kind": kind,
            "resource": resource,
            "incident_id": input.incident_id,
            "step_id": input.step_id,
            "collected_at": datetime.now(UTC).isoformat(),
            "data": await collector(resource),
        }
        content = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        digest = await self.store.put(content, idempotency_key=input.idempotency_key)
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"collected {kind} of {resource} as sha256:{digest[:12]}",
            outputs={"kind": kind, "resource": resource, "sha256": digest},
            evidence=[digest],
        )
