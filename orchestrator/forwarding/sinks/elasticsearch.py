"""Elasticsearch `_bulk`: NDJSON of `create` actions, each with `_id` = the ledger event's id.

`create` never overwrites: a record sent again (at-least-once) comes back 409
`version_conflict_engine_exception`, which means it is already there, and counts as
delivered; the document itself holds the event's position. The answer is per item: 201 and
409 are fine, 429 (`es_rejected_execution_exception`) and 5xx are retried with the batch, and
any other item error (a mapping conflict, 400) is a `Rejected` for that record. A whole
request refused (401/403 credentials, 429, 5xx) is a `SinkError`, retried with backoff.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from orchestrator.forwarding.config import secret
from orchestrator.forwarding.models import Record, Rejected, SinkConfig, SinkError
from orchestrator.forwarding.sinks import http

DELIVERED = {200, 201, 409}


class ElasticsearchSink:
    def __init__(self, config: SinkConfig, timeout: float) -> None:
        self.config = config
        self.index = config.path.strip("/")
        headers: dict[str, str] = {}
        if (api_key := secret(config, "api_key_env")) is not None:
            headers["authorization"] = f"ApiKey {api_key}"
        elif (password := secret(config, "password_env")) is not None:
            pair = f"{config.options['username']}:{password}".encode()
            headers["authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        self.client = http.client(config, timeout, headers)

    def ndjson(self, records: Sequence[Record]) -> bytes:
        lines: list[str] = []
        for record in records:
            action = {"create": {"_index": self.index, "_id": record.id}}
            lines.append(json.dumps(action, separators=(",", ":")))
            lines.append(json.dumps(record.body, separators=(",", ":")))
        return ("\n".join(lines) + "\n").encode()

    async def send(self, records: Sequence[Record]) -> None:
        response = await http.post(
            self.client, self.config, "/_bulk", self.ndjson(records), "application/x-ndjson"
        )
        if response.status_code != 200:
            raise SinkError(
                f"{self.config.name}: HTTP {response.status_code}: {_reason(response)}",
                http.retry_after(response),
            )
        try:
            answer = response.json()
            items = [next(iter(item.values())) for item in answer["items"]]
        except (ValueError, KeyError, TypeError, StopIteration):
            raise SinkError(f"{self.config.name}: not a bulk answer") from None
        if len(items) != len(records):
            raise SinkError(
                f"{self.config.name}: bulk answered {len(items)} items for {len(records)}"
            )
        for index, item in enumerate(items):
            status = item.get("status")
            if status in DELIVERED:
                continue
            said = f"{self.config.name}: item {record_label(records[index])}: {_item(item)}"
            if status == 429 or (isinstance(status, int) and status >= 500):
                raise SinkError(said)
            raise Rejected(index, said)

    async def close(self) -> None:
        await self.client.aclose()


def record_label(record: Record) -> str:
    return f"{record.id} (position {record.position})"


def _item(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    if isinstance(error, dict):
        return f"{item.get('status')} {error.get('type', '')}: {error.get('reason', '')}"[:300]
    return f"{item.get('status')} {error}"[:300]


def _reason(response: Any) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return str(response.text[:200])
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('reason', '')}"[:300]
    return str(error)[:300]
