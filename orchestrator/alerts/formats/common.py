"""Helpers every format shares: JSON parsing, pydantic validation as 422s naming the field,
bounded labels. What the sender's words mean (type, severity, environment,
resources) is routing's job: `orchestrator/routing/`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.domain import AlertLink
from orchestrator.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

MAX_LABELS = 64
MAX_LABEL_CHARS = 1000
UNROUTED = "unknown"
"""The type an alert has until routing gives it one."""


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("body is not valid UTF-8 JSON", "body") from None
    except RecursionError:
        raise InvalidInput("body nests too deeply", "body") from None


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    """`model` from `data`, or a 422 naming the first bad field (dotted, with `prefix`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        field = ".".join(p for p in (prefix, path) if p) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field) from None


def slug(value: str) -> str:
    """An incident type from a free-form name: `Prompt Injection` -> `prompt_injection`."""
    cleaned = re.sub(r"[^a-z0-9_.-]+", "_", value.strip().lower()).strip("_.-")
    return cleaned[:64] or "unknown"


def string_labels(raw: Mapping[str, Any], field: str) -> dict[str, str]:
    """Flat string labels, bounded so a hostile body cannot blow up every copy of the alert."""
    if len(raw) > MAX_LABELS:
        raise InvalidInput(f"{field}: more than {MAX_LABELS} labels", field)
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, (dict, list)):
            continue
        text = "" if value is None else str(value)
        if len(key) > 200 or len(text) > MAX_LABEL_CHARS:
            raise InvalidInput(f"{field}.{key[:40]}: label too long", f"{field}.{key[:40]}")
        labels[str(key)] = text
    return labels


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def clip(text: str | None, limit: int) -> str:
    return (text or "")[:limit]


_FRACTION = re.compile(r"(\.\d{6})\d+")
UNSET_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Alertmanager's and Grafana's `endsAt` of an alert still firing: no time at all."""


def timestamp(value: str | None, field: str) -> datetime | None:
    """A sender's RFC 3339 / ISO 8601 time (`2026-11-25T06:40:12.123456789Z`, PagerDuty's
    `+0000`), in UTC; naive times are taken as UTC. Absent, empty or Alertmanager's zero time:
    None. Anything else is a 422 naming the field, so a typo never becomes a silent "now"."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        raise InvalidInput(f"{field}: not a date and time: {value[:40]!r}", field) from None
    moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None if moment == UNSET_TIME else moment


def links(pairs: Iterable[tuple[str | None, str]], limit: int = 10) -> tuple[AlertLink, ...]:
    """The sender's links (href, text), empty ones left out, bounded like labels."""
    found = [
        AlertLink(href=href[:2000], text=text[:200])
        for href, text in pairs
        if href and href.strip()
    ]
    return tuple(found[:limit])
