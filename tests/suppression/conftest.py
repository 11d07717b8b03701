"""What the suppression tests share: a clock they move by hand, windows asked for in the API's
shape, and real senders' deliveries routed by the built-in routes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.alerts.formats import NORMALISERS
from orchestrator.alerts.models import AlertFormat, ParsedAlert
from orchestrator.routing.service import load_table
from orchestrator.suppression.models import WindowRequest

ROUTING_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "routing"
START = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


@dataclass
class Clock:
    """A wall clock and a monotonic one that move only when told."""

    now: datetime = START
    ticks: float = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, delta: timedelta) -> None:
        self.now += delta
        self.ticks += delta.total_seconds()


def fixture(name: str) -> Any:
    return json.loads((ROUTING_FIXTURES / name).read_text())


def routed(fmt: str, body: Any, at: datetime = START) -> list[ParsedAlert]:
    """A delivery as the ingress sees it after routing (built-in routes only)."""
    raw = json.dumps(body).encode()
    parsed = NORMALISERS[AlertFormat(fmt)](raw, {"content-type": "application/json"}, "det", at)
    return load_table(None).apply(fmt, parsed)


def request(**fields: Any) -> WindowRequest:
    body: dict[str, Any] = {
        "match": {"labels.team": "ml-platform"},
        "reason": "CHG-1042 failover drill",
        "duration": "2h",
    }
    return WindowRequest.model_validate(body | fields)
