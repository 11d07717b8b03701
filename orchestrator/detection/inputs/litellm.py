"""LiteLLM proxy spend logs as `TelemetryEvent`s.

A row of `LiteLLM_SpendLogs` (`SpendLogsPayload` in litellm/proxy/_types.py), as the proxy's
`/spend/logs` API returns it, a database export writes it, or a logging callback ships it, one
JSON object per line (a JSON array of rows is read too):

- at: `startTime`
- caller: `end_user`, else `user`, else `metadata.user_api_key_user_id`, else
  `metadata.user_api_key_alias`, else the key
- api_key: `api_key` (LiteLLM stores the key's hash, never the key)
- network: `requester_ip_address`, else `metadata.requester_ip_address` (reduced)
- model / model_version: `model_group` / `model` when both are set and differ, else `model` /
  `model_id`
- operation: `call_type`; input_tokens / output_tokens: `prompt_tokens` / `completion_tokens`
- input_digest: a digest of `messages` when logged, else `cache_key` (LiteLLM's request hash)
- finding: `metadata.guardrail_information` (one object, or a list in newer proxies) where
  `guardrail_status` is `guardrail_intervened` (`failure` in older ones): its first
  `violation_categories` entry, else `guardrail_name`
- finish_reason: `response.choices[0].finish_reason` when the response is logged
- agent: `metadata.spend_logs_metadata.agent_id` (a request's own spend-log metadata)

`metadata`, `messages` and `response` may be JSON text (as the table stores them) or objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.detection.inputs.common import count_of, digest_of, network_of, parse_time
from orchestrator.detection.models import TelemetryEvent
from orchestrator.errors import InvalidInput

INTERVENED = frozenset({"guardrail_intervened", "failure"})
REFUSAL_REASONS = frozenset({"content_filter", "refusal"})


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def spend_log_event(row: Mapping[str, Any]) -> TelemetryEvent:
    """One spend-log row as an event; a row without `startTime` is a clear error."""
    if not isinstance(row, Mapping):
        raise InvalidInput("spend log: a row is a JSON object")
    metadata = _json(row.get("metadata")) or {}
    if not isinstance(metadata, dict):
        metadata = {}
    key = _text(row.get("api_key"))
    caller = (
        _text(row.get("end_user"))
        or _text(row.get("user"))
        or _text(metadata.get("user_api_key_user_id"))
        or _text(metadata.get("user_api_key_alias"))
        or key
        or "unknown"
    )
    group, model = _text(row.get("model_group")), _text(row.get("model"))
    name: str | None = model or group
    version: str | None = _text(row.get("model_id"))
    if group is not None and model is not None and group != model:
        name, version = group, model
    messages = _json(row.get("messages"))
    digest = digest_of(messages) if messages else _text(row.get("cache_key"))
    response = _json(row.get("response"))
    reason = None
    if isinstance(response, dict):
        choices = response.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            reason = _text(choices[0].get("finish_reason"))
    extra = metadata.get("spend_logs_metadata")
    agent = _text(extra.get("agent_id")) if isinstance(extra, dict) else None
    return TelemetryEvent(
        at=parse_time(row.get("startTime"), "startTime"),
        caller=caller,
        api_key=key,
        network=network_of(
            _text(row.get("requester_ip_address")) or _text(metadata.get("requester_ip_address"))
        ),
        agent=agent,
        model=name,
        model_version=version,
        operation=_text(row.get("call_type")),
        input_tokens=count_of(row.get("prompt_tokens")),
        output_tokens=count_of(row.get("completion_tokens")),
        input_digest=digest,
        finding=_finding(metadata.get("guardrail_information")),
        finish_reason=reason,
        refused=reason in REFUSAL_REASONS,
    )


def _finding(information: Any) -> str | None:
    """The first guardrail that intervened (LiteLLM logs one object, newer versions a list)."""
    entries = information if isinstance(information, list) else [information]
    for entry in entries:
        if isinstance(entry, dict) and entry.get("guardrail_status") in INTERVENED:
            categories = entry.get("violation_categories")
            if isinstance(categories, list) and categories:
                return str(categories[0])
            return _text(entry.get("guardrail_name")) or "guardrail"
    return None
