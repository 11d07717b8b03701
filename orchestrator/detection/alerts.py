"""Raising detections as Firebreak alerts: signed POSTs to the API's own generic webhook.

A detection is sent exactly as any detector sends an alert: `POST /v1/alerts/generic` with the
source principal's bearer token and a Standard Webhooks signature under its secret
(`orchestrator.demo.webhooks.signed_headers`), so it is authenticated, routed, suppressed,
correlated and recorded in the ledger like every other alert. The alert id (also the
`webhook-id`) derives from the detection, so a retried delivery is recognised by the API and
never opens a second incident; the fingerprint is `detect:<detector>:<subject>`, so repeats of
one attack fold into one incident. 429 and 5xx are retried with full-jitter backoff, honouring
`Retry-After`; other 4xx are the configuration's fault and say so.

`DryRunSender` logs the alert it would post, and posts nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import deque
from typing import Any, Protocol

import httpx

from orchestrator.cli.client import error_line
from orchestrator.demo.webhooks import signed_headers
from orchestrator.detection.models import Detection
from orchestrator.errors import ConfigError, FirebreakError
from orchestrator.forwarding.service import backoff
from orchestrator.forwarding.sinks.http import retry_after

log = logging.getLogger(__name__)

ALERT_PATH = "/v1/alerts/generic"
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 30.0
TIMEOUT_SECONDS = 10.0
CONFIG_STATUSES = frozenset({401, 403, 404})
ANSWERS_KEPT = 100


class DeliveryFailed(FirebreakError):
    """An alert could not be delivered; the detail says why."""

    title = "Alert delivery failed"


def alert_body(detection: Detection, environment: str) -> dict[str, Any]:
    """The generic alert a detection becomes (docs/detection.md, What an alert says)."""
    identity = f"{detection.fingerprint}|{detection.at.isoformat()}"
    return {
        "id": "detect-" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        "type": detection.alert_type,
        "severity": detection.severity.value,
        "environment": environment,
        "title": detection.title[:1000],
        "description": detection.explanation[:20000],
        "resources": detection.resources,
        "labels": {
            "detector": detection.detector,
            "subject": detection.subject[:200],
            "detected_at": detection.at.isoformat(),
        },
        "fingerprint": detection.fingerprint[:200],
        "detail": detection.evidence,
    }


class Sender(Protocol):
    async def send(self, detection: Detection) -> None: ...

    async def aclose(self) -> None: ...


class DryRunSender:
    """Logs what would be raised; posts nothing."""

    def __init__(self, environment: str) -> None:
        self.environment = environment
        self.sent: list[dict[str, Any]] = []

    async def send(self, detection: Detection) -> None:
        body = alert_body(detection, self.environment)
        self.sent.append(body)
        log.warning("dry run: would raise %s", json.dumps(body, sort_keys=True))

    async def aclose(self) -> None:
        return None


class AlertSender:
    """Posts detections to a Firebreak API as a signed source."""

    def __init__(
        self,
        api_url: str,
        token: str,
        secret: str | None,
        environment: str,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.environment = environment
        self._token = token
        self._secret = secret
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/"), timeout=TIMEOUT_SECONDS, transport=transport
        )
        self.delivered = 0
        self.answers: deque[dict[str, Any]] = deque(maxlen=ANSWERS_KEPT)

    async def send(self, detection: Detection) -> None:
        """Deliver one alert, retrying what a retry can fix; raise `ConfigError` for a token,
        secret or URL the API refuses, `DeliveryFailed` when retries ran out."""
        alert = alert_body(detection, self.environment)
        body = json.dumps(alert).encode()
        reason = ""
        for attempt in range(1, self._max_attempts + 1):
            headers = {
                "authorization": f"Bearer {self._token}",
                "content-type": "application/json",
            }
            if self._secret is not None:
                headers |= signed_headers(self._secret, alert["id"], int(time.time()), body)
            wait: float | None = None
            try:
                response = await self._http.post(ALERT_PATH, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__} reaching {self._http.base_url}"
            else:
                status = response.status_code
                if status < 300:
                    self.delivered += 1
                    answer = response.json() if response.content else {}
                    self.answers.append(answer)
                    log.info(
                        "raised %s (%s): incidents %s",
                        alert["id"],
                        detection.fingerprint,
                        ", ".join(answer.get("incidents", [])) or "none (suppressed?)",
                    )
                    return
                reason = error_line(response)
                if status in CONFIG_STATUSES:
                    raise ConfigError(f"the API refused the detector's alert: {reason}")
                if status != 429 and status < 500:
                    raise DeliveryFailed(f"alert {alert['id']} rejected: {reason}")
                wait = retry_after(response)
            if attempt == self._max_attempts:
                break
            delay = max(backoff(attempt, self._max_backoff), min(wait or 0.0, self._max_backoff))
            log.warning("alert %s: %s; retrying in %.1fs", alert["id"], reason, delay)
            await asyncio.sleep(delay)
        raise DeliveryFailed(
            f"alert {alert['id']} ({detection.fingerprint}) not delivered after "
            f"{self._max_attempts} attempts: {reason}"
        )

    async def aclose(self) -> None:
        await self._http.aclose()
