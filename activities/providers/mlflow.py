"""ModelRegistry over the MLflow Model Registry REST API (aliases, versions, tags).

All Firebreak state lives in the registry itself, as tags, so any worker can retry any step
after a crash: the snapshot and each rollback are recorded as registered-model tags keyed by
alias (with the idempotency key that wrote them), and the version a rollback leaves is tagged
`firebreak.quarantined=true` plus `firebreak.incident=<id>`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from activities.errors import ResourceNotFound
from activities.providers.http_support import call, json_object, permanent, secret_from_env
from activities.providers.protocols import AliasMove, ModelSnapshot, ValidationReport

API = "/api/2.0/mlflow"
QUARANTINED = "firebreak.quarantined"
INCIDENT = "firebreak.incident"


@dataclass(frozen=True)
class MlflowConfig:
    url: str
    token_env: str | None = None
    known_good_tag: str = "firebreak.known_good"
    validation_metric: str | None = None
    validation_min: float = 0.0
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class _Version:
    version: str
    source: str
    run_id: str
    status: str
    tags: dict[str, str]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> _Version:
        return cls(
            version=str(raw["version"]),
            source=str(raw.get("source", "")),
            run_id=str(raw.get("run_id", "")),
            status=str(raw.get("status", "")),
            tags={t["key"]: t["value"] for t in raw.get("tags", [])},
        )

    @property
    def quarantined(self) -> bool:
        return self.tags.get(QUARANTINED) == "true"


class MlflowRegistry:
    """The `ModelRegistry` protocol for an MLflow tracking server."""

    def __init__(self, config: MlflowConfig, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        headers = {}
        if config.token_env:
            token = secret_from_env(config.token_env, purpose="MLflow token")
            headers["Authorization"] = f"Bearer {token}"
        self._client = client or httpx.AsyncClient(
            base_url=config.url.rstrip("/") + API,
            headers=headers,
            timeout=httpx.Timeout(config.timeout_seconds),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def snapshot(self, model: str, alias: str, *, idempotency_key: str) -> ModelSnapshot:
        recorded = await self._record(model, f"firebreak.snapshot.{alias}")
        if recorded and recorded.get("key") == idempotency_key:
            current = await self._version(model, recorded["version"])
        else:
            current = await self._alias(model, alias)
            await self._set_record(
                model,
                f"firebreak.snapshot.{alias}",
                {"key": idempotency_key, "version": current.version},
            )
        return ModelSnapshot(
            model=model,
            alias=alias,
            version=current.version,
            source=current.source,
            tags=current.tags,
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
        record_tag = f"firebreak.rollback.{alias}"
        recorded = await self._record(model, record_tag)
        current = await self._alias(model, alias)
        if recorded and recorded.get("key") == idempotency_key:
            source, target = recorded["from"], recorded["to"]
        else:
            source = current.version
            if from_version is not None and from_version != source:
                target = source
            else:
                target = to_version or await self._known_good(model, alias, current)
            if target == source:
                return AliasMove(
                    model=model,
                    alias=alias,
                    from_version=source,
                    to_version=target,
                    changed=False,
                )
            if (await self._version(model, target)).quarantined:
                raise permanent(f"MLflow: version {target} of {model} is quarantined")
            await self._set_record(
                model, record_tag, {"key": idempotency_key, "from": source, "to": target}
            )
        # Recorded first, applied second: a retry after a crash finishes the same move.
        await self._set_version_tag(model, source, QUARANTINED, "true")
        await self._set_version_tag(model, source, INCIDENT, incident_id)
        changed = current.version != target
        if changed:
            await self._point(model, alias, target)
        return AliasMove(
            model=model, alias=alias, from_version=source, to_version=target, changed=changed
        )

    async def restore(
        self, model: str, alias: str, version: str, *, idempotency_key: str
    ) -> AliasMove:
        current = await self._alias(model, alias)
        if current.version == version:
            return AliasMove(
                model=model,
                alias=alias,
                from_version=version,
                to_version=version,
                changed=False,
            )
        await self._version(model, version)
        await self._point(model, alias, version)
        await self._write(
            "DELETE",
            "/model-versions/delete-tag",
            {"name": model, "version": version, "key": QUARANTINED},
            what=f"MLflow: clear quarantine tag of {model} v{version}",
            accept={404},
        )
        return AliasMove(
            model=model,
            alias=alias,
            from_version=current.version,
            to_version=version,
            changed=True,
        )

    async def validate(self, model: str, version: str) -> ValidationReport:
        found = await self._version(model, version)
        metrics = await self._metrics(found)
        metric = self._config.validation_metric
        if found.quarantined:
            passed, detail = False, "version is quarantined"
        elif found.status and found.status != "READY":
            passed, detail = False, f"version status is {found.status}"
        elif metric is None:
            passed, detail = True, "version is ready"
        elif metric not in metrics:
            passed, detail = False, f"metric {metric} is not recorded"
        else:
            passed = metrics[metric] >= self._config.validation_min
            detail = f"{metric}={metrics[metric]:g}, minimum {self._config.validation_min:g}"
        return ValidationReport(
            model=model, version=version, passed=passed, metrics=metrics, detail=detail
        )

    async def resolve(self, model: str, alias: str) -> str:
        return (await self._alias(model, alias)).version

    async def _known_good(self, model: str, alias: str, current: _Version) -> str:
        """The rollback target: the snapshot if it differs from now, else the newest older
        version tagged known-good, else the newest older version that is not quarantined."""
        snapshot = await self._record(model, f"firebreak.snapshot.{alias}")
        if snapshot and snapshot["version"] != current.version:
            return str(snapshot["version"])
        if "'" in model:
            raise permanent(f"MLflow: cannot search versions of {model!r}; pass to_version")
        found = await self._read(
            "/model-versions/search",
            {"filter": f"name='{model}'", "max_results": 1000},
            what=f"MLflow: list versions of {model}",
        )
        older = sorted(
            (
                v
                for v in map(_Version.parse, found.get("model_versions", []))
                if int(v.version) < int(current.version) and not v.quarantined
            ),
            key=lambda v: int(v.version),
            reverse=True,
        )
        tagged = [v for v in older if v.tags.get(self._config.known_good_tag) == "true"]
        chosen = (tagged or older)[:1]
        if not chosen:
            raise permanent(
                f"MLflow: no known-good version of {model} older than v{current.version}; "
                "pass to_version"
            )
        return chosen[0].version

    async def _metrics(self, found: _Version) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if found.run_id:
            response = await call(
                self._client,
                "GET",
                "/runs/get",
                params={"run_id": found.run_id},
                what=f"MLflow: read run {found.run_id}",
                accept={404},
            )
            if response.status_code == 200:
                run = json_object(response, what="MLflow").get("run", {})
                for m in run.get("data", {}).get("metrics", []):
                    metrics[m["key"]] = float(m["value"])
        for key, value in found.tags.items():
            if key.startswith("metric."):
                try:
                    metrics[key.removeprefix("metric.")] = float(value)
                except ValueError:
                    continue
        return metrics

    async def _alias(self, model: str, alias: str) -> _Version:
        what = f"MLflow: resolve alias {alias} of {model}"
        response = await call(
            self._client,
            "GET",
            "/registered-models/alias",
            params={"name": model, "alias": alias},
            what=what,
            accept={400},
        )
        if response.status_code == 400:
            # MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
            raise ResourceNotFound(f"{what}: no such alias (HTTP 400)")
        return _Version.parse(json_object(response, what="MLflow")["model_version"])

    async def _version(self, model: str, version: str) -> _Version:
        found = await self._read(
            "/model-versions/get",
            {"name": model, "version": version},
            what=f"MLflow: read {model} v{version}",
        )
        return _Version.parse(found["model_version"])

    async def _record(self, model: str, key: str) -> dict[str, str] | None:
        found = await self._read(
            "/registered-models/get", {"name": model}, what=f"MLflow: read model {model}"
        )
        tags = found["registered_model"].get("tags", [])
        raw = next((t["value"] for t in tags if t["key"] == key), None)
        if raw is None:
            return None
        record: dict[str, str] = json.loads(raw)
        return record

    async def _set_record(self, model: str, key: str, record: dict[str, str]) -> None:
        await self._write(
            "POST",
            "/registered-models/set-tag",
            {"name": model, "key": key, "value": json.dumps(record, sort_keys=True)},
            what=f"MLflow: record {key} on {model}",
        )

    async def _set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        await self._write(
            "POST",
            "/model-versions/set-tag",
            {"name": model, "version": version, "key": key, "value": value},
            what=f"MLflow: tag {model} v{version}",
        )

    async def _point(self, model: str, alias: str, version: str) -> None:
        await self._write(
            "POST",
            "/registered-models/alias",
            {"name": model, "alias": alias, "version": version},
            what=f"MLflow: move alias {alias} of {model} to v{version}",
        )

    async def _read(self, path: str, params: dict[str, Any], *, what: str) -> dict[str, Any]:
        """GET `path` with `params`: its JSON body."""
        response = await call(self._client, "GET", path, params=params, what=what)
        return json_object(response, what="MLflow")

    async def _write(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        what: str,
        accept: Collection[int] = (),
    ) -> None:
        await call(self._client, method, path, json=body, what=what, accept=accept)
