"""Helpers every format shares: JSON parsing, pydantic validation as 422s naming the field,
and the label vocabulary that maps onto `Alert` (severity, environment, type, resources)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.domain import Environment, Resources, Severity
from orchestrator.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

SEVERITIES: dict[str, Severity] = {
    "critical": Severity.critical,
    "page": Severity.critical,
    "fatal": Severity.critical,
    "high": Severity.high,
    "error": Severity.high,
    "major": Severity.high,
    "medium": Severity.medium,
    "warning": Severity.medium,
    "warn": Severity.medium,
    "low": Severity.low,
    "minor": Severity.low,
    "info": Severity.info,
    "informational": Severity.info,
    "none": Severity.info,
}

ENVIRONMENTS: dict[str, Environment] = {
    "prod": Environment.prod,
    "production": Environment.prod,
    "prd": Environment.prod,
    "staging": Environment.staging,
    "stage": Environment.staging,
    "stg": Environment.staging,
    "dev": Environment.dev,
    "development": Environment.dev,
    "test": Environment.dev,
}

ENVIRONMENT_LABELS = ("environment", "env", "tier")
TYPE_LABELS = ("firebreak_type", "incident_type", "type")
RESOURCE_LABELS = {
    "model": ("model", "model_name"),
    "model_version": ("model_version",),
    "api_key": ("api_key", "api_key_id", "key_id"),
    "dataset": ("dataset",),
    "dataset_version": ("dataset_version",),
    "agent": ("agent",),
    "tool": ("tool",),
}
MAX_LABELS = 64
MAX_LABEL_CHARS = 1000


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


def severity(value: str | None, field: str, default: Severity = Severity.high) -> Severity:
    if value is None or value == "":
        return default
    found = SEVERITIES.get(value.strip().lower())
    if found is None:
        raise InvalidInput(f"{field}: unknown severity {value[:40]!r}", field)
    return found


def environment(value: str | None, field: str) -> Environment:
    """Missing means prod: an unlabelled alert is treated with the strictest policies."""
    if value is None or value == "":
        return Environment.prod
    found = ENVIRONMENTS.get(value.strip().lower())
    if found is None:
        raise InvalidInput(f"{field}: unknown environment {value[:40]!r}", field)
    return found


def first_label(labels: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if labels.get(name):
            return labels[name]
    return None


def slug(value: str) -> str:
    """An incident type from a free-form name: `Prompt Injection` -> `prompt_injection`."""
    cleaned = re.sub(r"[^a-z0-9_.-]+", "_", value.strip().lower()).strip("_.-")
    return cleaned[:64] or "unknown"


def resources(labels: Mapping[str, str]) -> Resources:
    return Resources(
        **{field: first_label(labels, names) for field, names in RESOURCE_LABELS.items()}
    )


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
