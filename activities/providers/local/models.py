"""Filesystem model registry: the embedded stand-in for an MLflow-style registry.

Layout under the root, per model::

    <model>/versions/<n>/model.json     immutable metadata: weights checksum, metrics, lineage
    <model>/versions/<n>/weights.json   the weights (see `training`)
    <model>/eval.csv                    held-out rows that validation scores against
    <model>/state.json                  aliases, tags, snapshot history, effect records

The rollback rule: with no explicit target, an alias returns to the *last known-good
snapshot* — the newest snapshot of that alias naming a version other than the one in place,
not tagged `firebreak.quarantined`, whose weights still match their checksum. A rollback
given `from_version` moves nothing unless the alias serves that version.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from activities.errors import ResourceNotFound
from activities.providers.local import training
from activities.providers.local.state import Document, JsonState, dump_json, write_atomic
from activities.providers.protocols import AliasMove, ModelSnapshot, ValidationReport

QUARANTINE_TAG = "firebreak.quarantined"
DEFAULT_MIN_ACCURACY = 0.9
SAMPLES_IN_REPORT = 10


class RegisteredVersion(BaseModel):
    model: str
    version: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class LocalModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, model: str) -> Path:
        path = self.root / model
        if not model or "/" in model or model.startswith(".") or not path.is_dir():
            raise ResourceNotFound(f"no model {model!r} in the local registry")
        return path

    def _state(self, model: str) -> JsonState:
        return JsonState(
            self._dir(model) / "state.json",
            lambda: {"aliases": {}, "tags": {}, "snapshots": [], "min_accuracy": None},
        )

    def _version_dir(self, model: str, version: str) -> Path:
        path = self._dir(model) / "versions" / version
        if not version or "/" in version or version.startswith(".") or not path.is_dir():
            raise ResourceNotFound(f"model {model!r} has no version {version!r}")
        return path

    @staticmethod
    def _alias(doc: Document, model: str, alias: str) -> str:
        try:
            return str(doc["aliases"][alias])
        except KeyError:
            raise ResourceNotFound(f"model {model!r} has no alias {alias!r}") from None

    def metadata(self, model: str, version: str) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads(
            (self._version_dir(model, version) / "model.json").read_text()
        )
        return meta

    def versions(self, model: str) -> list[str]:
        found = [
            p.name
            for p in (self._dir(model) / "versions").iterdir()
            if p.is_dir() and p.name.isdigit()
        ]
        return sorted(found, key=lambda v: (len(v), v))

    def _checksum_ok(self, model: str, version: str) -> bool:
        weights = self._version_dir(model, version) / "weights.json"
        return sha256_file(weights) == str(self.metadata(model, version)["weights_sha256"])

    # -- protocol ------------------------------------------------------------------------

    def _snapshot(self, model: str, alias: str, idempotency_key: str) -> ModelSnapshot:
        def apply(doc: Document) -> ModelSnapshot:
            version = self._alias(doc, model, alias)
            doc["snapshots"].append(
                {"alias": alias, "version": version, "at": _now(), "key": idempotency_key}
            )
            return ModelSnapshot(
                model=model,
                alias=alias,
                version=version,
                source=str(self.metadata(model, version).get("source", "")),
                tags=dict(doc["tags"].get(version, {})),
            )

        return self._state(model).effect_once("snapshot", idempotency_key, ModelSnapshot, apply)

    async def snapshot(self, model: str, alias: str, *, idempotency_key: str) -> ModelSnapshot:
        return await asyncio.to_thread(self._snapshot, model, alias, idempotency_key)

    def last_known_good(self, model: str, alias: str) -> str:
        doc = self._state(model).read()
        current = self._alias(doc, model, alias)
        for snap in reversed(doc["snapshots"]):
            version = snap["version"]
            if snap["alias"] != alias or version == current:
                continue
            if QUARANTINE_TAG in doc["tags"].get(version, {}):
                continue
            if self._checksum_ok(model, version):
                return str(version)
        raise ResourceNotFound(f"model {model!r} has no known-good snapshot of alias {alias!r}")

    def _rollback(
        self,
        model: str,
        alias: str,
        to_version: str | None,
        from_version: str | None,
        incident_id: str,
        key: str,
    ) -> AliasMove:
        def apply(doc: Document) -> AliasMove:
            current = self._alias(doc, model, alias)
            if from_version is not None and from_version != current:
                return AliasMove(
                    model=model,
                    alias=alias,
                    from_version=current,
                    to_version=current,
                    changed=False,
                )
            target = to_version or self.last_known_good(model, alias)
            self._version_dir(model, target)
            if target == current:
                return AliasMove(
                    model=model, alias=alias, from_version=current, to_version=target, changed=False
                )
            doc["aliases"][alias] = target
            doc["tags"].setdefault(current, {})[QUARANTINE_TAG] = incident_id
            return AliasMove(
                model=model, alias=alias, from_version=current, to_version=target, changed=True
            )

        return self._state(model).effect_once(f"rollback:{alias}", key, AliasMove, apply)

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
        return await asyncio.to_thread(
            self._rollback, model, alias, to_version, from_version, incident_id, idempotency_key
        )

    def _restore(self, model: str, alias: str, version: str, key: str) -> AliasMove:
        def apply(doc: Document) -> AliasMove:
            self._version_dir(model, version)
            current = self._alias(doc, model, alias)
            tags = doc["tags"].get(version, {})
            changed = current != version or QUARANTINE_TAG in tags
            tags.pop(QUARANTINE_TAG, None)
            doc["aliases"][alias] = version
            return AliasMove(
                model=model, alias=alias, from_version=current, to_version=version, changed=changed
            )

        return self._state(model).effect_once(f"restore:{alias}", key, AliasMove, apply)

    async def restore(
        self, model: str, alias: str, version: str, *, idempotency_key: str
    ) -> AliasMove:
        return await asyncio.to_thread(self._restore, model, alias, version, idempotency_key)

    def _validate(self, model: str, version: str) -> ValidationReport:
        meta = self.metadata(model, version)
        weights_path = self._version_dir(model, version) / "weights.json"
        checksum_ok = sha256_file(weights_path) == meta["weights_sha256"]
        weights = json.loads(weights_path.read_text())
        rows = training.read_rows(self._dir(model) / "eval.csv")
        score = training.accuracy(weights, rows)
        floor = self._state(model).read().get("min_accuracy") or DEFAULT_MIN_ACCURACY
        problems = []
        if not checksum_ok:
            problems.append("weights do not match their recorded sha256")
        if score < floor:
            problems.append(f"accuracy {score:.4f} is below the minimum {floor:.4f}")
        return ValidationReport(
            model=model,
            version=version,
            passed=not problems,
            metrics={
                "accuracy": score,
                "min_accuracy": float(floor),
                "recorded_accuracy": float(meta.get("metrics", {}).get("accuracy", 0.0)),
                "checksum_ok": float(checksum_ok),
            },
            detail="; ".join(problems) or f"accuracy {score:.4f}, weights checksum ok",
            samples=[
                {
                    "amount": f"{amount:.2f}",
                    "label": str(label),
                    "prediction": str(training.predict(weights, amount)),
                }
                for amount, label in rows[:SAMPLES_IN_REPORT]
            ],
        )

    async def validate(self, model: str, version: str) -> ValidationReport:
        return await asyncio.to_thread(self._validate, model, version)

    async def resolve(self, model: str, alias: str) -> str:
        return self._alias(self._state(model).read(), model, alias)

    # -- used by the lab and the local retraining runner ------------------------------------

    def create_model(self, model: str, eval_rows: list[training.Row], min_accuracy: float) -> None:
        """Create the model's directory, eval set and state (no-op if it exists)."""
        path = self.root / model
        (path / "versions").mkdir(parents=True, exist_ok=True)
        if not (path / "eval.csv").exists():
            write_atomic(path / "eval.csv", training.format_rows(eval_rows).encode())
        with self._state(model).update() as doc:
            doc["min_accuracy"] = doc.get("min_accuracy") or min_accuracy

    def register(
        self,
        model: str,
        weights: dict[str, Any],
        *,
        source: str,
        lineage: dict[str, str],
        created_at: str,
        registration_key: str,
    ) -> RegisteredVersion:
        """Add the next version; one registration per key, so a retried job adds one, even
        if it died after the version directory appeared but before the record was written."""
        eval_rows = training.read_rows(self._dir(model) / "eval.csv")

        def apply(doc: Document) -> RegisteredVersion:
            existing = self.versions(model)
            for found in existing:
                if self.metadata(model, found).get("registration_key") == registration_key:
                    return RegisteredVersion(model=model, version=found)
            version = str(int(existing[-1]) + 1) if existing else "1"
            target = self._dir(model) / "versions" / version
            weights_bytes = dump_json(weights)
            meta = {
                "name": model,
                "version": version,
                "created_at": created_at,
                "source": source,
                "lineage": lineage,
                "registration_key": registration_key,
                "weights_sha256": hashlib.sha256(weights_bytes).hexdigest(),
                "metrics": {"accuracy": training.accuracy(weights, eval_rows)},
            }
            staging = target.with_name(f".{version}.staging")
            staging.mkdir(parents=True, exist_ok=True)
            write_atomic(staging / "weights.json", weights_bytes)
            write_atomic(staging / "model.json", dump_json(meta))
            staging.rename(target)
            return RegisteredVersion(model=model, version=version)

        return self._state(model).effect_once(
            "register", registration_key, RegisteredVersion, apply
        )

    def set_alias(
        self, model: str, alias: str, version: str, *, only_if_missing: bool = False
    ) -> None:
        self._version_dir(model, version)
        with self._state(model).update() as doc:
            if not (only_if_missing and alias in doc["aliases"]):
                doc["aliases"][alias] = version

    def record_snapshot(self, model: str, alias: str, version: str, at: str, key: str) -> None:
        """Record a deployment in the snapshot history unless `key` already did."""
        with self._state(model).update() as doc:
            if not any(s["key"] == key for s in doc["snapshots"]):
                doc["snapshots"].append({"alias": alias, "version": version, "at": at, "key": key})

    def tags(self, model: str, version: str) -> dict[str, str]:
        return dict(self._state(model).read()["tags"].get(version, {}))
