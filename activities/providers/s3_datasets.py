"""DatasetStore over an S3-compatible object store (AWS S3, MinIO, Ceph RGW, moto …).

Same layout as the local store, under a key prefix::

    <prefix><dataset>/<version>/MANIFEST.json                  {"files": {path: sha256}}
    <prefix><dataset>/<version>/...                            the data files
    <quarantine_prefix><dataset>/<version>/...                 a quarantined version
    <quarantine_prefix><dataset>/<version>/QUARANTINED.json    marker: incident, time, key

Quarantine *moves* a version: copy every object under the quarantine prefix (tagged
`firebreak-quarantined=true` and `firebreak-incident=<id>`), then delete the originals. A deny
policy alone would leave the data where training jobs list it and depends on IAM rights
Firebreak may not hold; a move works on every S3-compatible store, and one bucket policy on the
quarantine prefix keeps readers out. The live `MANIFEST.json` is deleted last and restored
last, so it is the commit point: an interrupted move is finished by a retry.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import httpx

from activities.errors import IntegrityFailure, ResourceNotFound
from activities.providers.http_support import (
    call,
    raise_for_status,
    retryable,
    secret_from_env,
    transport_errors,
)
from activities.providers.local.datasets import MANIFEST, MARKER, _natural
from activities.providers.protocols import IntegrityReport, QuarantineState
from activities.providers.sigv4 import SigV4Auth

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class S3Config:
    endpoint: str
    bucket: str
    region: str = "us-east-1"
    prefix: str = "datasets/"
    quarantine_prefix: str = "quarantine/"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a variable name, not a secret
    timeout_seconds: float = 30.0


def _xml(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)  # noqa: S314 - expat refuses entity expansion attacks
    except ET.ParseError:
        raise retryable("S3: garbled XML response") from None


def signed_client(config: S3Config) -> httpx.AsyncClient:
    """A client for path-style requests to `config.bucket`, each signed with SigV4 (shared with
    the S3 evidence store, which talks to the same kind of bucket)."""
    auth = SigV4Auth(
        secret_from_env(config.access_key_env, purpose="S3 access key"),
        secret_from_env(config.secret_key_env, purpose="S3 secret key"),
        config.region,
    )
    return httpx.AsyncClient(
        base_url=f"{config.endpoint.rstrip('/')}/{config.bucket}",
        auth=auth,
        timeout=httpx.Timeout(config.timeout_seconds),
    )


async def list_keys(client: httpx.AsyncClient, prefix: str, *, what: str) -> list[str]:
    """Every key under `prefix` (ListObjectsV2, page after page)."""
    keys: list[str] = []
    params = {"list-type": "2", "prefix": prefix}
    while True:
        response = await call(client, "GET", "/", params=params, what=what)
        root = _xml(response.content)
        keys.extend(e.text or "" for e in root.iter(f"{_NS}Key"))
        token = root.findtext(f"{_NS}NextContinuationToken")
        if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
            return keys
        params["continuation-token"] = token


_ERROR_CODE = re.compile(r"^[A-Za-z]{1,64}$")


def error_code(response: httpx.Response) -> str:
    """S3's error code (`NoSuchBucket`, `AccessDenied`, `SignatureDoesNotMatch` …) when the
    body carries one: a word from S3's fixed vocabulary, so safe to show, unlike the rest of
    the body (its message and resource may echo the request)."""
    try:
        code = ET.fromstring(response.content).findtext("Code") or ""  # noqa: S314 - as _xml
    except ET.ParseError:
        return ""
    return code if _ERROR_CODE.match(code) else ""


class S3DatasetStore:
    """The `DatasetStore` protocol over path-style S3 requests signed with SigV4."""

    def __init__(self, config: S3Config, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._client = client or signed_client(config)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _live(self, dataset: str, version: str) -> str:
        return f"{self._config.prefix}{dataset}/{version}/"

    def _held(self, dataset: str, version: str) -> str:
        return f"{self._config.quarantine_prefix}{dataset}/{version}/"

    @staticmethod
    def _check(*names: str) -> None:
        for name in names:
            if not _SAFE_NAME.match(name):
                raise ResourceNotFound(f"S3: no dataset or version named {name!r}")

    async def verify(self, dataset: str, version: str) -> IntegrityReport:
        self._check(dataset, version)
        base, manifest = await self._locate(dataset, version)
        stored = {k.removeprefix(base) for k in await self._keys(base)} - {MANIFEST, MARKER}
        mismatches = [f"{name}: not in manifest" for name in stored - manifest.keys()]
        for name, expected in manifest.items():
            actual = await self._sha256(base + name)
            if actual is None:
                mismatches.append(f"{name}: missing")
            elif actual != expected:
                mismatches.append(f"{name}: sha256 differs")
        return IntegrityReport(
            dataset=dataset,
            version=version,
            ok=not mismatches,
            checked=len(manifest),
            mismatches=sorted(mismatches),
            manifest=manifest,
        )

    async def quarantine(
        self, dataset: str, version: str, *, incident_id: str, idempotency_key: str
    ) -> QuarantineState:
        self._check(dataset, version)
        live, held = self._live(dataset, version), self._held(dataset, version)
        if await self._get(live + MANIFEST) is None:
            marker = await self._get(held + MARKER)
            if marker is None:
                raise ResourceNotFound(f"S3: dataset {dataset!r} has no version {version!r}")
            first = json.loads(marker).get("idempotency_key") == idempotency_key
            return QuarantineState(
                dataset=dataset, version=version, quarantined=True, changed=first
            )
        tags = {"firebreak-quarantined": "true", "firebreak-incident": incident_id}
        marker_doc = {
            "incident_id": incident_id,
            "at": datetime.now(UTC).isoformat(),
            "idempotency_key": idempotency_key,
        }
        await self._move(live, held, tags)
        await self._put(held + MARKER, json.dumps(marker_doc).encode())
        await self._delete_all(live)
        return QuarantineState(dataset=dataset, version=version, quarantined=True, changed=True)

    async def release(self, dataset: str, version: str, *, idempotency_key: str) -> QuarantineState:
        self._check(dataset, version)
        live, held = self._live(dataset, version), self._held(dataset, version)
        if await self._get(held + MANIFEST) is None:
            if await self._get(live + MANIFEST) is None:
                raise ResourceNotFound(f"S3: dataset {dataset!r} has no version {version!r}")
            return QuarantineState(
                dataset=dataset, version=version, quarantined=False, changed=False
            )
        await self._move(held, live, {})
        await self._delete_all(held)
        return QuarantineState(dataset=dataset, version=version, quarantined=False, changed=True)

    async def versions(self, dataset: str) -> dict[str, bool]:
        self._check(dataset)
        found: dict[str, bool] = {}
        for base, quarantined in (
            (f"{self._config.quarantine_prefix}{dataset}/", True),
            (f"{self._config.prefix}{dataset}/", False),
        ):
            for key in await self._keys(base):
                parts = key.removeprefix(base).split("/")
                if len(parts) == 2 and parts[1] == MANIFEST:
                    found[parts[0]] = quarantined
        if not found:
            # An empty listing is a misspelt or missing dataset, not one with nothing to check.
            raise ResourceNotFound(f"S3: no dataset {dataset!r} in the bucket")
        return {v: found[v] for v in sorted(found, key=_natural)}

    async def latest_clean(self, dataset: str) -> str:
        for version, quarantined in reversed((await self.versions(dataset)).items()):
            if not quarantined and (await self.verify(dataset, version)).ok:
                return version
        raise ResourceNotFound(f"S3: dataset {dataset!r} has no clean version")

    async def _locate(self, dataset: str, version: str) -> tuple[str, dict[str, str]]:
        for base in (self._live(dataset, version), self._held(dataset, version)):
            raw = await self._get(base + MANIFEST)
            if raw is not None:
                try:
                    files: dict[str, str] = dict(json.loads(raw)["files"])
                except (ValueError, KeyError, TypeError):
                    raise IntegrityFailure(
                        f"S3: dataset {dataset}@{version}: manifest unreadable"
                    ) from None
                return base, files
        raise ResourceNotFound(f"S3: dataset {dataset!r} has no version {version!r}")

    async def _move(self, source: str, target: str, tags: dict[str, str]) -> None:
        """Copy every object under `source` to `target` with `tags`, the manifest last."""
        keys = [k for k in await self._keys(source) if not k.endswith("/" + MARKER)]
        keys.sort(key=lambda k: k.endswith("/" + MANIFEST))
        for key in keys:
            response = await call(
                self._client,
                "PUT",
                "/" + quote(target + key.removeprefix(source)),
                what=f"S3: copy {key}",
                headers={
                    "x-amz-copy-source": quote(f"/{self._config.bucket}/{key}"),
                    "x-amz-tagging-directive": "REPLACE",
                    "x-amz-tagging": urlencode(tags),
                },
            )
            if response.content and _xml(response.content).tag.endswith("Error"):
                raise retryable(f"S3: copy {key} failed after it started")

    async def _delete_all(self, base: str) -> None:
        """Delete every object under `base`, the manifest last (the commit point)."""
        keys = sorted(await self._keys(base), key=lambda k: k.endswith("/" + MANIFEST))
        for key in keys:
            await call(self._client, "DELETE", "/" + quote(key), what=f"S3: delete {key}")

    async def _keys(self, prefix: str) -> list[str]:
        return await list_keys(self._client, prefix, what=f"S3: list {prefix}")

    async def _get(self, key: str) -> bytes | None:
        response = await call(
            self._client, "GET", "/" + quote(key), what=f"S3: read {key}", accept={404}
        )
        return None if response.status_code == 404 else response.content

    async def _put(self, key: str, body: bytes) -> None:
        await call(self._client, "PUT", "/" + quote(key), content=body, what=f"S3: write {key}")

    async def _sha256(self, key: str) -> str | None:
        """Stream the object through SHA-256 so large files never sit in memory."""
        what = f"S3: read {key}"
        with transport_errors(what):
            async with self._client.stream("GET", "/" + quote(key)) as response:
                if response.status_code == 404:
                    return None
                raise_for_status(response, what=what)
                digest = hashlib.sha256()
                async for chunk in response.aiter_bytes():
                    digest.update(chunk)
                return digest.hexdigest()
