"""The demo's HTTP calls, made exactly as a detector, a responder and an auditor make them."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

import httpx

from orchestrator.demo.webhooks import signed_headers
from orchestrator.errors import FirebreakError


class DemoFailed(FirebreakError):
    """An expected outcome of the demo did not happen; the message says which."""

    title = "Demo expectation not met"


class DemoApi:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=30.0)

    async def __aenter__(self) -> DemoApi:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def ready(self) -> None:
        """Fail early, with the reason, when the API or what it depends on is not up."""
        await self._call("GET", "/readyz")

    async def post_alert(self, token: str, secret: str, alert: dict[str, Any]) -> dict[str, Any]:
        """Deliver one signed generic alert; the delivery id is the alert id (retries reuse it)."""
        body = json.dumps(alert).encode()
        headers = signed_headers(secret, alert["id"], int(time.time()), body)
        headers |= {"authorization": f"Bearer {token}", "content-type": "application/json"}
        return await self._call("POST", "/v1/alerts/generic", content=body, headers=headers)

    async def timeline(self, token: str, incident_id: str) -> list[dict[str, Any]]:
        """The incident's events so far; none yet (404) until the workflow appended the first."""
        path = f"/v1/incidents/{incident_id}/timeline"
        page = await self._call("GET", path, token=token, missing_ok=True)
        items: list[dict[str, Any]] = page.get("items", [])
        return items

    async def approve(
        self, token: str, incident_id: str, step_id: str, decision_id: str, reason: str
    ) -> None:
        """Approve once: repeating `decision_id` returns the first outcome, never a second vote."""
        await self._call(
            "POST",
            f"/v1/incidents/{incident_id}/steps/{step_id}/decisions",
            token=token,
            json={"decision": "approve", "reason": reason, "decision_id": decision_id},
        )

    async def acknowledge(self, token: str, incident_id: str, decision_id: str) -> None:
        """Acknowledge once: repeating `decision_id` returns the first outcome."""
        await self._call(
            "POST",
            f"/v1/incidents/{incident_id}/acknowledge",
            token=token,
            json={"reason": "demo: on it", "decision_id": decision_id},
        )

    async def verify_audit(self, token: str) -> dict[str, Any]:
        return await self._call("GET", "/v1/audit/verify", token=token)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if token is not None:
            kwargs["headers"] = {"authorization": f"Bearer {token}"}
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DemoFailed(
                f"{method} {path}: no answer from the API at {self._http.base_url} "
                f"({type(exc).__name__}); is `firebreak up` running?"
            ) from None
        if missing_ok and response.status_code == 404:
            return {}
        if response.status_code >= 400:
            raise DemoFailed(f"{method} {path}: {response.status_code} {_problem(response)}")
        data: dict[str, Any] = response.json()
        return data


def _problem(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(doc, dict):
        return str(doc.get("detail") or doc.get("title") or doc)[:300]
    return str(doc)[:300]
