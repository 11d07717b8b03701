"""Step parameters templated from alert fields and earlier steps' declared outputs, and nothing
else.

A placeholder is `{{ steps.<id>.outputs.<name> }}` (checked against the playbook's earlier
steps by `validation`, left in place here and filled when the step comes up, by
`workflows.outputs`) or `{{ alert.<path> }}` where the path names an `Alert` field (`id`, `source`,
`type`, `severity`, `environment`, `title`, `fingerprint`), a resource (`resources.api_key` …)
or a label (`labels.<name>`). No expressions, filters or code: alert text is attacker-controlled
and is only ever substituted as data. A path that names no field is an error when the playbook
loads; a field that is empty in the alert is an error when the incident starts — never a
silent empty string — unless the placeholder says the field may be missing with a trailing
`?` (`{{ alert.resources.model_version? }}`): then it renders as nothing, for parameters whose
action reads an empty value as "not given". Senders outside Firebreak often leave fields out,
and a refinement such as "only if the alias still serves this version" must not stop their
alerts from opening incidents.
"""

from __future__ import annotations

import re

from orchestrator.domain import Alert, Resources
from orchestrator.errors import InvalidInput
from workflows.outputs import StepRef, parse_ref

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SCALARS = frozenset({"id", "source", "type", "severity", "environment", "title", "fingerprint"})
_LABEL = re.compile(r"^labels\.[A-Za-z0-9_.\-/]{1,128}$")


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def step_ref(expr: str) -> StepRef | None:
    """The earlier step's output a placeholder names, None for an alert placeholder, or
    InvalidInput when it starts with `steps.` but is no reference."""
    if not expr.startswith("steps."):
        return None
    if expr.endswith("?"):
        raise InvalidInput(
            f"placeholder {{{{ {expr} }}}}: only alert fields may be marked '?'; an output an"
            " earlier step did not return already stops the step with its reason",
            field=expr,
        )
    ref = parse_ref(expr)
    if ref is None:
        raise InvalidInput(
            f"placeholder {{{{ {expr} }}}} must read steps.<step id>.outputs.<name>", field=expr
        )
    return ref


def may_be_empty(expr: str) -> tuple[str, bool]:
    """The placeholder's expression without its `?`, and whether it had one."""
    if expr.endswith("?"):
        return expr[:-1].rstrip(), True
    return expr, False


def check_path(expr: str) -> str:
    """The alert field path of a placeholder (a trailing `?` allowed), or InvalidInput naming
    what is wrong."""
    expr, _ = may_be_empty(expr)
    if not expr.startswith("alert."):
        raise InvalidInput(
            f"placeholder {{{{ {expr} }}}} must start with 'alert.' or 'steps.'", field=expr
        )
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


def has_step_refs(params: dict[str, str]) -> bool:
    """Whether the workflow will fill step-output references into these parameters."""
    return any(step_ref(e) is not None for v in params.values() for e in placeholders(v))


def render(template: str, alert: Alert, *, where: str, refs_follow: bool = False) -> str:
    """Substitute every alert placeholder; an empty alert field is an InvalidInput naming it,
    or nothing where the placeholder ends in `?`. Step-output references stay for the workflow
    to fill when the step comes up; where it will (`refs_follow`: the step has some), alert
    text holding braces would be read as a reference there, so it is refused, not
    interpreted."""

    def substitute(match: re.Match[str]) -> str:
        if step_ref(match.group(1)) is not None:
            return match.group(0)
        expr, optional = may_be_empty(match.group(1))
        path = check_path(expr)
        value = alert_value(alert, path)
        if not value:
            if optional:
                return ""
            raise InvalidInput(f"{where}: alert field 'alert.{path}' is empty", field=path)
        if refs_follow and ("{{" in value or "}}" in value):
            raise InvalidInput(f"{where}: alert field 'alert.{path}' holds braces", field=path)
        return value

    return PLACEHOLDER.sub(substitute, template)
