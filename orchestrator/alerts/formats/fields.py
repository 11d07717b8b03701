"""The raw fields a format exposes to routing (`ParsedAlert.fields`): a delivery's scalars by
dotted path, bounded like labels so a hostile body costs little."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel

from orchestrator.alerts.formats.common import MAX_LABEL_CHARS

MAX_FIELDS = 256
MAX_FIELD_DEPTH = 4


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
