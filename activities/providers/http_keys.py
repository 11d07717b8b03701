"""KeyProvider for API gateway admin APIs, configured as data, with presets.

Gateways differ only in which request blocks a key, which unblocks it and where its state is
read, so one provider takes those as templates (`GatewayConfig`) and the presets for LiteLLM
proxy, Kong and OpenAI admin keys are plain configurations. Secrets enter only as header values
rendered from environment variables (`{env:NAME}`) at request time; they are never stored on the
provider's public state, never formatted into errors, and results carry key ids only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from activities.providers.http_support import call, json_object, permanent, secret_from_env
from activities.providers.protocols import KeyState, KeyUsage

_ENV_REF = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class Operation(BaseModel):
    """One admin request. `path`, `query` values and string leaves of `body` are templates over
    `key_id`, `reason`, `idempotency_key` and the fields a lookup resolved."""

    model_config = ConfigDict(frozen=True)

    method: str = "POST"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    ok: frozenset[int] = frozenset({200})
    already: frozenset[int] = Field(
        frozenset(), description="Statuses meaning the effect is already in place."
    )


class GatewayConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    url: str
    headers: dict[str, str] = Field(
        default_factory=dict, description="Header templates; `{env:NAME}` reads a secret."
    )
    lookup: Operation | None = Field(
        None, description="Resolves extra template fields (e.g. a credential's consumer)."
    )
    lookup_fields: dict[str, str] = Field(default_factory=dict)
    revoke: Operation
    restore: Operation | None = None
    state: Operation | None = Field(None, description="Reads whether the key is blocked.")
    blocked_path: str | None = None
    blocked_value: Any = True
    usage: Operation | None = None
    requests_path: str | None = None
    last_used_path: str | None = None
    detail_paths: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(10.0, gt=0)


def litellm(url: str, token_env: str) -> GatewayConfig:
    """LiteLLM proxy: `key_id` is the virtual key's hashed token (never the key itself)."""
    info = Operation(method="GET", path="/key/info", query={"key": "{key_id}"})
    return GatewayConfig(
        name="litellm",
        url=url,
        headers={"Authorization": f"Bearer {{env:{token_env}}}"},
        revoke=Operation(path="/key/block", body={"key": "{key_id}"}),
        restore=Operation(path="/key/unblock", body={"key": "{key_id}"}),
        state=info,
        blocked_path="info.blocked",
        usage=info,
        last_used_path="info.last_active",
        detail_paths={"spend": "info.spend", "key_alias": "info.key_alias"},
    )


def kong(url: str, token_env: str, group: str = "firebreak-revoked") -> GatewayConfig:
    """Kong: `key_id` is a key-auth credential id. Revoking adds its consumer to an ACL group
    that the ACL plugin denies, so restore needs no copy of the credential's secret."""
    acls = Operation(method="GET", path="/consumers/{consumer}/acls")
    return GatewayConfig(
        name="kong",
        url=url,
        headers={"Kong-Admin-Token": f"{{env:{token_env}}}"},
        lookup=Operation(method="GET", path="/key-auths/{key_id}"),
        lookup_fields={"consumer": "consumer.id"},
        revoke=Operation(
            path="/consumers/{consumer}/acls",
            body={"group": group, "tags": ["firebreak"]},
            ok=frozenset({201}),
            already=frozenset({409}),
        ),
        restore=Operation(
            method="DELETE",
            path=f"/consumers/{{consumer}}/acls/{group}",
            ok=frozenset({204}),
        ),
        state=acls,
        blocked_path="data[].group",
        blocked_value=group,
    )


def openai(url: str, token_env: str) -> GatewayConfig:
    """OpenAI-style admin API keys: revoking deletes the key, which cannot be undone."""
    key = Operation(method="GET", path="/v1/organization/admin_api_keys/{key_id}")
    return GatewayConfig(
        name="openai",
        url=url,
        headers={"Authorization": f"Bearer {{env:{token_env}}}"},
        revoke=Operation(method="DELETE", path="/v1/organization/admin_api_keys/{key_id}"),
        usage=key,
        last_used_path="last_used_at",
        detail_paths={"name": "name", "redacted_value": "redacted_value"},
    )


PRESETS = {"litellm": litellm, "kong": kong, "openai": openai}


def lookup_path(document: Any, path: str) -> list[Any]:
    """Values at a dotted path; `name[]` steps into every item of a list."""
    values = [document]
    for part in path.split("."):
        spread = part.endswith("[]")
        name = part.removesuffix("[]")
        step: list[Any] = []
        for value in values:
            if isinstance(value, Mapping) and name in value:
                found = value[name]
                step.extend(found if spread and isinstance(found, list) else [found])
        values = step
    return values


def _format(template: str, fields: Mapping[str, str]) -> str:
    try:
        return template.format_map(fields)
    except (KeyError, ValueError, IndexError) as exc:
        raise permanent(f"gateway template {template!r} is invalid ({exc!r})") from None


def _render(template: Any, fields: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        return _format(template, fields)
    if isinstance(template, list):
        return [_render(item, fields) for item in template]
    if isinstance(template, dict):
        return {key: _render(value, fields) for key, value in template.items()}
    return template


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class HttpKeyProvider:
    """The `KeyProvider` protocol over a gateway admin API described by a `GatewayConfig`."""

    def __init__(self, config: GatewayConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(
            base_url=config.url.rstrip("/"), timeout=httpx.Timeout(config.timeout_seconds)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def revoke(self, key_id: str, *, reason: str, idempotency_key: str) -> KeyState:
        fields = await self._fields(key_id, reason=reason, idempotency_key=idempotency_key)
        if await self._blocked(fields) is True:
            return KeyState(key_id=key_id, active=False, changed=False)
        changed = await self._apply(self.config.revoke, fields, what="revoke")
        return KeyState(key_id=key_id, active=False, changed=changed)

    async def restore(self, key_id: str, *, idempotency_key: str) -> KeyState:
        if self.config.restore is None:
            raise permanent(f"{self.config.name}: revoked keys cannot be restored; issue a new key")
        fields = await self._fields(key_id, reason="", idempotency_key=idempotency_key)
        if await self._blocked(fields) is False:
            return KeyState(key_id=key_id, active=True, changed=False)
        changed = await self._apply(self.config.restore, fields, what="restore")
        return KeyState(key_id=key_id, active=True, changed=changed)

    async def usage(self, key_id: str) -> KeyUsage:
        # The lookup runs even when the gateway reports no usage: it is what says (404) that
        # the key does not exist, which "0 requests, never used" would hide.
        fields = await self._fields(key_id, reason="", idempotency_key="")
        if self.config.usage is None:
            return KeyUsage(key_id=key_id, requests=0, detail={"usage": "not reported"})
        document = await self._read(self.config.usage, fields, what="read usage of")
        requests = self._first(document, self.config.requests_path)
        detail = {
            name: str(values[0])
            for name, path in self.config.detail_paths.items()
            if (values := lookup_path(document, path)) and values[0] is not None
        }
        return KeyUsage(
            key_id=key_id,
            requests=int(requests) if isinstance(requests, int | float) else 0,
            last_used_at=_timestamp(self._first(document, self.config.last_used_path)),
            detail=detail,
        )

    async def _fields(self, key_id: str, *, reason: str, idempotency_key: str) -> dict[str, str]:
        fields = {"key_id": key_id, "reason": reason, "idempotency_key": idempotency_key}
        if self.config.lookup is not None:
            document = await self._read(self.config.lookup, fields, what="look up")
            for name, path in self.config.lookup_fields.items():
                values = lookup_path(document, path)
                if not values or not isinstance(values[0], str | int):
                    raise permanent(f"{self.config.name}: key {key_id} has no {path}")
                fields[name] = str(values[0])
        return fields

    async def _blocked(self, fields: dict[str, str]) -> bool | None:
        """Whether the gateway reports the key blocked; None when it cannot tell us."""
        if self.config.state is None or self.config.blocked_path is None:
            return None
        document = await self._read(self.config.state, fields, what="read state of")
        return self.config.blocked_value in lookup_path(document, self.config.blocked_path)

    async def _apply(self, op: Operation, fields: dict[str, str], *, what: str) -> bool:
        """Send an effecting request; True when it changed something."""
        response = await self._send(op, fields, what=what, accept=op.ok | op.already)
        return response.status_code in op.ok

    async def _read(self, op: Operation, fields: dict[str, str], *, what: str) -> dict[str, Any]:
        response = await self._send(op, fields, what=what, accept=op.ok)
        return json_object(response, what=f"{self.config.name}: {what} key {fields['key_id']}")

    async def _send(
        self, op: Operation, fields: dict[str, str], *, what: str, accept: frozenset[int]
    ) -> httpx.Response:
        path_fields = {name: quote(value, safe="") for name, value in fields.items()}
        described = f"{self.config.name}: {what} key {fields['key_id']}"
        response = await call(
            self._client,
            op.method,
            _format(op.path, path_fields),
            what=described,
            accept=accept,
            params=_render(op.query, fields),
            json=_render(op.body, fields) if op.body is not None else None,
            headers=dict(self._headers()),
        )
        if response.status_code not in accept:
            raise permanent(f"{described}: unexpected HTTP {response.status_code}")
        return response

    def _headers(self) -> Iterator[tuple[str, str]]:
        purpose = f"{self.config.name} admin header"
        for name, template in self.config.headers.items():
            yield (
                name,
                _ENV_REF.sub(lambda m: secret_from_env(m.group(1), purpose=purpose), template),
            )

    @staticmethod
    def _first(document: Any, path: str | None) -> Any:
        values = lookup_path(document, path) if path else []
        return values[0] if values else None
