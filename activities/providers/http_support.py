"""One place that turns HTTP outcomes of external systems into `ProviderError`s.

Every real provider talks HTTP, and they must agree on what a retry can fix: a timeout, a
connection failure, 429 and 5xx can; 400/401/403/404/409/422 cannot and go to a human. Messages
name the system, the operation and the status only, never URLs with credentials, headers or
bodies, because gateways echo keys back in error bodies and errors end up in audit events.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from activities.errors import ProviderError, ResourceNotFound

_HUMAN_HINTS = {
    400: "the request was rejected as malformed; check the provider configuration",
    401: "authentication failed; check the credential the provider reads",
    403: "the credential lacks permission for this operation",
    409: "conflicts with the current state",
    422: "the request was rejected as invalid",
}


class ProviderRateLimited(ProviderError):
    """The system asked us to slow down; `retry_after` (seconds) is its back-pressure hint."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


def retryable(detail: str) -> ProviderError:
    """A failure a later attempt may fix (timeouts, connection failures, 5xx)."""
    return ProviderError(detail, retryable=True)


def permanent(detail: str) -> ProviderError:
    """A failure only a human can fix (credentials, configuration, a missing resource)."""
    return ProviderError(detail, retryable=False)


def secret_from_env(variable: str, *, purpose: str) -> str:
    """Read a secret from the environment variable named in configuration, never from config."""
    value = os.environ.get(variable, "")
    if not value:
        raise permanent(f"{purpose}: environment variable {variable} is not set")
    return value


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse `Retry-After` as delta-seconds or an HTTP date; None when absent or unparsable."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    now = parsedate_to_datetime(date) if date else None
    return max(0.0, (when - now).total_seconds()) if now else None


def raise_for_status(response: httpx.Response, *, what: str) -> None:
    """Raise the classified `ProviderError` for a non-2xx response."""
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        after = retry_after_seconds(response)
        hint = f", retry after {after:g}s" if after is not None else ""
        raise ProviderRateLimited(f"{what}: rate limited (HTTP 429){hint}", retry_after=after)
    if status >= 500 or status == 408:
        raise retryable(f"{what}: server error (HTTP {status})")
    if status == 404:
        raise ResourceNotFound(f"{what}: not found (HTTP 404)")
    hint = _HUMAN_HINTS.get(status, "the request was refused")
    raise permanent(f"{what}: {hint} (HTTP {status})")


@contextmanager
def transport_errors(what: str) -> Iterator[None]:
    """Timeouts and connection failures are retryable; their text may hold URLs, so drop it."""
    try:
        yield
    except httpx.TimeoutException:
        raise retryable(f"{what}: timed out") from None
    except httpx.TransportError as exc:
        raise retryable(f"{what}: cannot connect ({type(exc).__name__})") from None


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    accept: Collection[int] = (),
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; statuses in `accept` are returned for the caller to interpret."""
    with transport_errors(what):
        response = await client.request(method, url, **kwargs)
    if response.status_code not in accept:
        raise_for_status(response, what=what)
    return response


def json_object(response: httpx.Response, *, what: str) -> dict[str, Any]:
    """The response body as a JSON object, or a retryable error for a garbled reply."""
    try:
        body = response.json()
    except ValueError:
        raise retryable(f"{what}: response is not JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise retryable(f"{what}: response is not a JSON object")
    return body
