"""Helpers every format shares: JSON parsing, pydantic validation as 422s naming the field,
bounded labels and raw fields. What the sender's words mean (type, severity, environment,
resources) is routing's job: `orchestrator/routing/`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

MAX_LABELS = 64
MAX_LABEL_CHARS = 1000
MAX_FIELDS = 256
MAX_FIELD_DEPTH = 4
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


def shallow(model: BaseModel) -> dict[str, Any]:
    """A model's fields (by alias) and extra fields, one level deep, for `flatten`: nested
    models as dicts, enums as values, anything else as parsed. Unlike `model_dump` it never
    walks a hostile body's nesting, which `flatten` cuts at its depth."""
    fields = type(model).model_fields
    found: dict[str, Any] = {}
    for name, value in model:
        key = (fields[name].alias or name) if name in fields else name
        if isinstance(value, BaseModel):
            value = shallow(value)
        found[key] = value.value if isinstance(value, Enum) else value
    return found


def flatten(value: Any, prefix: str, into: dict[str, str] | None = None) -> dict[str, str]:
    """The scalars of a JSON value by dotted path under `prefix` (list items by index), for
    routes to match on: bounded in count, depth and length like labels, so a hostile body
    costs little. Empty and null values are left out (routes treat them as absent)."""
    found: dict[str, str] = {} if into is None else into
    _flatten(value, prefix, found, 0)
    return found


def _flatten(value: Any, path: str, found: dict[str, str], depth: int) -> None:
    if len(found) >= MAX_FIELDS:
        return
    if isinstance(value, dict):
        if depth < MAX_FIELD_DEPTH:
            for key, item in value.items():
                _flatten(item, f"{path}.{str(key)[:200]}", found, depth + 1)
    elif isinstance(value, list):
        if depth < MAX_FIELD_DEPTH:
            for index, item in enumerate(value[:MAX_FIELDS]):
                _flatten(item, f"{path}.{index}", found, depth + 1)
    elif value is not None and value != "":
        text = str(value).lower() if isinstance(value, bool) else str(value)
        found[path] = text[:MAX_LABEL_CHARS]
