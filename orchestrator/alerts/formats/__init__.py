"""One normaliser per webhook format: raw body + headers -> alerts.

Each raises `InvalidInput` naming the field at fault; none trusts any value it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from orchestrator.alerts.formats import alertmanager, cloudevents, generic, otlp, pagerduty
from orchestrator.alerts.models import AlertFormat, ParsedAlert

Normaliser = Callable[[bytes, Mapping[str, str], str, datetime], list[ParsedAlert]]

NORMALISERS: dict[AlertFormat, Normaliser] = {
    AlertFormat.generic: generic.normalise,
    AlertFormat.alertmanager: alertmanager.normalise,
    AlertFormat.cloudevents: cloudevents.normalise,
    AlertFormat.pagerduty: pagerduty.normalise,
    AlertFormat.otlp: otlp.normalise,
}

CONTENT_TYPES: dict[AlertFormat, frozenset[str]] = {
    AlertFormat.generic: frozenset({"application/json"}),
    AlertFormat.alertmanager: frozenset({"application/json"}),
    AlertFormat.cloudevents: cloudevents.CONTENT_TYPES,
    AlertFormat.pagerduty: frozenset({"application/json"}),
    AlertFormat.otlp: otlp.CONTENT_TYPES,
}
