"""Step parameters templated from alert fields, and nothing else.

A placeholder is `{{ alert.<path> }}` where the path names an `Alert` field (`id`, `source`,
`type`, `severity`, `environment`, `title`, `fingerprint`), a resource (`resources.api_key` …)
or a label (`labels.<name>`). No expressions, filters or code: alert text is attacker-controlled
and is only ever substituted as data. A path that names no field is an error when the playbook
loads; a field that is empty in the alert is an error when the incident starts — never a
silent empty string.
"""

from __future__ import annotations

import re

from orchestrator.domain import Alert, Resources
from orchestrator.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SCALARS = frozenset({"id", "source", "type", "severity", "environment", "title", "fingerprint"})
_LABEL = re.compile(r"^labels\.[A-Za-z0-9_.\-/]{1,128}$")


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def check_path(expr: str) -> str:
    """The alert field path of a placeholder, or InvalidInput naming what is wrong."""
    if not expr.startswith("alert."):
        raise InvalidInput(f"placeholder {{{{ {expr} }}}} must start with 'alert.'", field=expr)
    path = expr.removeprefix("alert.")
    if path in _SCALARS or _LABEL.match(path):
        return path
    if path.startswith("resources.") and path.removeprefix("resources.") in Resources.model_fields:
        return path
    raise InvalidInput(f"placeholder {{{{ {expr} }}}} names no alert field", field=expr)


def alert_value(alert: Alert, path: str) -> str | None:
    if path.startswith("labels."):
        return alert.labels.get(path.removeprefix("labels."))
    if path.startswith("resources."):
        value = getattr(alert.resources, path.removeprefix("resources."))
    else:
        value = getattr(alert, path)
    return None if value is None else str(value)


def render(template: str, alert: Alert, *, where: str) -> str:
    """Substitute every placeholder; an empty alert field is an InvalidInput naming it."""

    def substitute(match: re.Match[str]) -> str:
        path = check_path(match.group(1))
        value = alert_value(alert, path)
        if not value:
            raise InvalidInput(f"{where}: alert field 'alert.{path}' is empty", field=path)
        return value

    return PLACEHOLDER.sub(substitute, template)
