"""`generic`: Firebreak's own JSON alert, for detectors that can post arbitrary JSON.

The schema is `GenericAlert` (published in docs/alert-formats.md); unknown fields are refused
so a typo in a field name is a 422, not a silently ignored value. Its fields go to routing as
sent (`type`, `severity`, `environment`, `resources.*`, `labels.*`), and the default route keeps
them: the generic format already speaks Firebreak's vocabulary. `detail` carries a detector's
own answer unchanged (an LLM Guard or Lakera Guard response), for routes to read as `detail.*`
(orchestrator/routing/examples/guardrails.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.alerts.formats.common import UNROUTED, digest, parse_json, validate
from orchestrator.alerts.formats.fields import flatten
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus, Environment, Resources, Severity, Slug


class GenericAlert(BaseModel):
    """One alert in Firebreak's generic webhook format."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Unique per alert; retries reuse it.")
    type: Slug = Field(description="Incident type, e.g. prompt_injection; selects the playbook.")
    severity: Severity = Severity.high
    environment: Environment = Environment.prod
    status: AlertStatus = AlertStatus.firing
    title: str = Field("", max_length=1000)
    description: str = Field("", max_length=20000)
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    fingerprint: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Stable identity of the condition; default: type + resources.",
    )
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The detector's own answer as it returned it (an LLM Guard or Lakera Guard"
            " response); routes read it as detail.PATH. Stored, never interpreted."
        ),
    )


def normalise(
    body: bytes, _headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    doc = validate(GenericAlert, parse_json(body))
    fingerprint = doc.fingerprint or digest(
        doc.type, doc.resources.model_dump_json(exclude_none=True)
    )
    alert = Alert(
        id=doc.id,
        source=source,
        type=UNROUTED,
        status=doc.status,
        title=doc.title,
        description=doc.description,
        labels=doc.labels,
        fingerprint=fingerprint,
        received_at=received_at,
    )
    sent = doc.model_fields_set
    fields: dict[str, str] = {
        "type": doc.type,
        **{name: getattr(doc, name).value for name in ("severity", "environment") if name in sent},
        **{f"resources.{k}": v for k, v in doc.resources.model_dump(exclude_none=True).items()},
    }
    flatten(doc.detail, "detail", fields)
    return [ParsedAlert(alert, fields=fields)]
