"""Splunk HTTP Event Collector: `POST /services/collector/event`, `Authorization: Splunk
<token>`, a batch of JSON event objects one after the other.

Each event carries the record as `event`, its time, and the ledger event's id and position as
indexed `fields` (`firebreak_id`, `firebreak_position`) to deduplicate on. HEC's answers:
`{"text": "Success", "code": 0}`; invalid data (codes 5, 6, 12, 13, 15, HTTP 400) names the
first bad event (`invalid-event-number`) and is a `Rejected`; everything else (a disabled or
invalid token, codes 1-4, internal error 8, server busy 9, 503 queues full) is a `SinkError`
retried with backoff, since an operator can fix it without any record changing.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any

import httpx

from orchestrator.forwarding.config import secret
from orchestrator.forwarding.models import Record, Rejected, SinkConfig, SinkError
from orchestrator.forwarding.sinks import http

INVALID_DATA_CODES = {5, 6, 12, 13, 15}
"""No data, invalid data format, event field required, event field blank, indexed fields."""


class HecSink:
    def __init__(self, config: SinkConfig, timeout: float) -> None:
        self.config = config
        token = secret(config, "token_env")
        self.client = http.client(config, timeout, {"authorization": f"Splunk {token}"})
        self.path = config.options.get("path", "").rstrip("/") + "/services/collector/event"
        self.host = socket.gethostname()

    def event(self, record: Record) -> dict[str, Any]:
        event: dict[str, Any] = {
            "time": round(record.occurred_at.timestamp(), 3),
            "host": self.host,
            "source": self.config.options.get("source", "firebreak"),
            "sourcetype": self.config.options.get(
                "sourcetype", "ocsf" if self.config.format == "ocsf" else "firebreak:audit"
            ),
            "event": record.body,
            "fields": {"firebreak_id": record.id, "firebreak_position": str(record.position)},
        }
        if "index" in self.config.options:
            event["index"] = self.config.options["index"]
        return event

    async def send(self, records: Sequence[Record]) -> None:
        body = "".join(json.dumps(self.event(r), separators=(",", ":")) for r in records)
        response = await http.post(
            self.client, self.config, self.path, body.encode(), "application/json"
        )
        if response.status_code == 200:
            return
        code, text, invalid = _answer(response)
        said = f"{self.config.name}: HTTP {response.status_code}, HEC code {code}: {text}"
        if response.status_code == 400 and code in INVALID_DATA_CODES:
            index = invalid if isinstance(invalid, int) and 0 <= invalid < len(records) else 0
            raise Rejected(index, said)
        raise SinkError(said, http.retry_after(response))

    async def close(self) -> None:
        await self.client.aclose()


def _answer(response: httpx.Response) -> tuple[int | None, str, Any]:
    """(code, text, invalid-event-number) of a HEC error answer; what is known of another."""
    try:
        answer = response.json()
    except ValueError:
        return None, response.text[:200] or response.reason_phrase, None
    if not isinstance(answer, dict):
        return None, str(answer)[:200], None
    code = answer.get("code")
    return (
        code if isinstance(code, int) else None,
        str(answer.get("text", ""))[:200],
        answer.get("invalid-event-number"),
    )
