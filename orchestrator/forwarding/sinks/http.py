"""What the HTTP sinks (HEC, Elasticsearch) share: one client per sink with its CA and
timeout, and failures described without the request's headers (they carry the credentials)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from orchestrator.errors import ConfigError
from orchestrator.forwarding.models import SinkConfig, SinkError


def client(config: SinkConfig, timeout: float, headers: dict[str, str]) -> httpx.AsyncClient:
    """An async client for the sink's base URL, verifying TLS against its `ca` file if given."""
    verify: ssl.SSLContext | bool = True
    if config.scheme == "https" and "ca" in config.options:
        try:
            verify = ssl.create_default_context(cafile=config.options["ca"])
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"sink {config.name}: cannot read ca {config.options['ca']}: {exc}"
            ) from None
    return httpx.AsyncClient(
        base_url=f"{config.scheme}://{config.host}:{config.port}",
        headers=headers,
        timeout=timeout,
        verify=verify,
    )


async def post(
    http: httpx.AsyncClient, config: SinkConfig, path: str, body: bytes, content_type: str
) -> httpx.Response:
    """POST `body`; a connection failure or timeout is a `SinkError` naming the sink."""
    try:
        return await http.post(path, content=body, headers={"content-type": content_type})
    except httpx.HTTPError as exc:
        raise SinkError(f"{config.name}: {type(exc).__name__}: {exc}") from None


def retry_after(response: httpx.Response) -> float | None:
    """The response's `Retry-After`, seconds or an HTTP date, as seconds from now."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
