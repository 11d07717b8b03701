"""A span link to the trace an incident started in, from its workflow's start headers.

An approval arrives minutes or days after its alert, from a person: its request is a trace of
its own, and the incident's trace links to it (Temporal's `HandleUpdate` span). This gives the
approval's side the other direction, a link to the span that started the incident's workflow,
read from the header Temporal's tracing interceptor wrote there
(`orchestrator.temporal.incidents.start_headers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.api.common.v1 import Payload

from orchestrator.telemetry import spans


def to_started(headers: Mapping[str, Payload]) -> list[Any]:
    """`[Link]` to the span context in `headers`, or `[]` (tracing off, or the incident was
    started without tracing)."""
    active = spans.active()
    if active is None:
        return []
    from opentelemetry import trace

    tracing = active.temporal_interceptors[0]
    payload = headers.get(tracing.header_key)
    if payload is None:
        return []
    carrier = tracing.payload_converter.from_payloads([payload])[0]
    if not isinstance(carrier, dict):
        return []
    context = trace.get_current_span(tracing.text_map_propagator.extract(carrier))
    started = context.get_span_context()
    return [trace.Link(started)] if started.is_valid else []
