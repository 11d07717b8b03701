"""The CLI's HTTP client for the Firebreak API: one place for URL, token, timeouts and errors.

Every failure becomes a `FirebreakError` whose detail is one line (the problem document's
title and detail, or why the API could not be reached), which `firebreak` prints without a
traceback. The token is sent only in the Authorization header and never printed.
"""

from __future__ import annotations

from typing import Any

import httpx

from orchestrator.errors import FirebreakError, Unavailable
from orchestrator.settings import load_settings

TIMEOUT_SECONDS = 30.0


class ApiError(FirebreakError):
    """The API answered with an error status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = "API error"


def api_request(
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Call the API at `FIREBREAK_API_URL` with `FIREBREAK_TOKEN`; return the decoded JSON."""
    settings = load_settings()
    sent = dict(headers or {})
    if settings.token is not None:
        sent["authorization"] = f"Bearer {settings.token.get_secret_value()}"
    base = settings.api_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=TIMEOUT_SECONDS) as client:
            response = client.request(
                method, path, params=params, json=json, content=content, headers=sent
            )
    except httpx.ReadTimeout:
        # Connected and sent: the API has the request, so never call it unreachable.
        raise Unavailable(
            f"the API at {base} did not answer within {TIMEOUT_SECONDS:g}s; what it was "
            "asked may still happen"
        ) from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach the API at {base}: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise ApiError(response.status_code, error_line(response))
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def error_line(response: httpx.Response) -> str:
    """`HTTP 403 Forbidden: role 'auditor' lacks ...` from a problem document or plain body."""
    prefix = f"HTTP {response.status_code}"
    try:
        problem = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:200]
        return f"{prefix}: {text}" if text else prefix
    if not isinstance(problem, dict):
        return prefix
    line = f"{prefix} {problem.get('title', '')}".rstrip()
    if problem.get("detail"):
        line += f": {problem['detail']}"
    if response.status_code == 429 and "retry-after" in response.headers:
        line += f" (retry after {response.headers['retry-after']}s)"
    return " ".join(line.split())
