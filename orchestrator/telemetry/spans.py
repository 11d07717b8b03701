"""The calls Firebreak's own code makes to trace, each a no-op unless tracing is on.

Code on the alert path (`orchestrator.alerts`, `orchestrator.approvals`) calls `span` and
`annotate` whether or not tracing is configured. When it is not, each is one check of a module
global: nothing of OpenTelemetry is imported or run ("free when off", measured in
`bench/ingest.py --tracing`). `orchestrator.telemetry.setup` switches them on; activities get
theirs from an interceptor that exists only then (`activities.py`).

Attribute values are Firebreak's own identifiers and vocabulary (incident, step and action
ids, alert format, type and severity), never alert text, labels, tokens or signatures: callers
pass only those (docs/observability.md, "What a span may hold").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only: importing the API at run time is what "off" must not do
    from opentelemetry.trace import Tracer

Attribute = str | bool | int | float | Sequence[str]
Attributes = Mapping[str, Attribute]

INCIDENT = "firebreak.incident.id"
STEP = "firebreak.step.id"
ACTION = "firebreak.action"
DECISION = "firebreak.decision"
ALERT_FORMAT = "firebreak.alert.format"
ALERT_TYPE = "firebreak.alert.type"
ALERT_SEVERITY = "firebreak.alert.severity"
ALERT_COUNT = "firebreak.alert.count"


@dataclass(frozen=True)
class Active:
    """What an installed tracing setup hands the hot path."""

    tracer: Tracer
    temporal_interceptors: Sequence[Any]
    """`temporalio.contrib.opentelemetry.TracingInterceptor` over `tracer`, then ours."""
    provider: Any
    """The SDK tracer provider `tracer` came from, for the instrumentations."""


_active: Active | None = None
_scope: ContextVar[Mapping[str, Attribute]] = ContextVar(
    "firebreak_trace_scope", default=MappingProxyType({})
)


def activate(active: Active | None) -> None:
    """Switch the calls below on (`setup.install`) or off again (its shutdown)."""
    global _active
    _active = active


def enabled() -> bool:
    return _active is not None


def active() -> Active | None:
    return _active


@contextlib.contextmanager
def span(
    name: str,
    attributes: Attributes | Callable[[], Attributes] | None = None,
    links: Sequence[Any] = (),
) -> Iterator[None]:
    """A span around the block, child of the current one; nothing when tracing is off.
    `attributes` may be a function, called only when tracing is on; `links` are
    `opentelemetry.trace.Link`s (`links.to_started`)."""
    if _active is None:
        yield
        return
    values = attributes() if callable(attributes) else attributes
    with _active.tracer.start_as_current_span(name, attributes=values, links=links):
        yield


def annotate(attributes: Attributes) -> None:
    """Set `attributes` on the current span (the request's, the activity's)."""
    if _active is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(attributes)


@contextlib.contextmanager
def scope(attributes: Attributes) -> Iterator[None]:
    """`annotate` the current span, and have the spans the block's HTTP calls open carry the
    same attributes (`scoped`): a provider call then names its incident, step and action."""
    if _active is None:
        yield
        return
    annotate(attributes)
    token = _scope.set({**_scope.get(), **attributes})
    try:
        yield
    finally:
        _scope.reset(token)


def scoped() -> Mapping[str, Attribute]:
    """The attributes of the innermost `scope` (empty outside one)."""
    return _scope.get()
