"""Gateway request logs in JSON Lines, through a documented field mapping.

Each `TelemetryEvent` field is read from a dotted path into the record (`JsonlMapping`): by
default the event's own field names, so a log written as `TelemetryEvent`s needs no mapping,
and a gateway's own log (Kong, Envoy, an in-house proxy) needs one line per field in the
detection configuration's `jsonl:` section, e.g. `caller: consumer.username`. A field whose
path is empty (`""`) is not read. `network` takes an address or a network; addresses are
reduced. `input_digest` takes a digest, or `input_text` a text to digest (never kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from orchestrator.detection.inputs.common import count_of, digest_of, network_of, parse_time
from orchestrator.detection.models import TelemetryEvent
from orchestrator.errors import InvalidInput

TRUE = frozenset({True, "true", "True", "yes", "1"})


class JsonlMapping(BaseModel):
    """The dotted path of each event field in a JSON Lines record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str = "at"
    caller: str = "caller"
    api_key: str = "api_key"
    network: str = "network"
    agent: str = "agent"
    model: str = "model"
    model_version: str = "model_version"
    operation: str = "operation"
    input_tokens: str = "input_tokens"
    output_tokens: str = "output_tokens"
    input_digest: str = "input_digest"
    input_text: str = ""
    finding: str = "finding"
    marker: str = "marker"
    score: str = "score"
    finish_reason: str = "finish_reason"
    refused: str = "refused"


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`), or None where any step is missing."""
    if not path:
        return None
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def _text(record: Mapping[str, Any], path: str) -> str | None:
    value = lookup(record, path)
    return None if value is None or value == "" else str(value)


def _int(record: Mapping[str, Any], path: str) -> int:
    return count_of(lookup(record, path))


def _flag(value: Any) -> bool:
    return isinstance(value, bool | int | str) and value in TRUE


def jsonl_event(record: Mapping[str, Any], mapping: JsonlMapping) -> TelemetryEvent:
    """One record as an event; a record without a time or a caller is a clear error."""
    if not isinstance(record, Mapping):
        raise InvalidInput("a JSON Lines record is a JSON object")
    caller = _text(record, mapping.caller)
    if caller is None:
        raise InvalidInput(f"{mapping.caller}: missing (the caller's identity)", mapping.caller)
    score = lookup(record, mapping.score)
    digest = _text(record, mapping.input_digest) or digest_of(lookup(record, mapping.input_text))
    return TelemetryEvent(
        at=parse_time(lookup(record, mapping.at), mapping.at),
        caller=caller,
        api_key=_text(record, mapping.api_key),
        network=network_of(_text(record, mapping.network)),
        agent=_text(record, mapping.agent),
        model=_text(record, mapping.model),
        model_version=_text(record, mapping.model_version),
        operation=_text(record, mapping.operation),
        input_tokens=_int(record, mapping.input_tokens),
        output_tokens=_int(record, mapping.output_tokens),
        input_digest=digest,
        finding=_text(record, mapping.finding),
        marker=_text(record, mapping.marker),
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
        finish_reason=_text(record, mapping.finish_reason),
        refused=_flag(lookup(record, mapping.refused)),
    )
