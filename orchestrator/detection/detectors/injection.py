"""Injection campaign: one caller repeatedly tripping guardrails or injection markers.

A single guardrail finding is noise a guardrail already handled; the same caller producing
`min_hits` findings or known injection markers within `window_seconds` is someone working on
it. A canary token planted in a system prompt appearing in an output (a marker named with
`canary_prefix`) is different: the prompt has leaked, so `canary_hits` (default 1) alerts,
critical. Counting is a sliding window of hit times per caller, bounded by `min_hits`.
Nothing is stored: a caller without a hit for `window_seconds` (`horizon`) has none left to
count, and the engine may drop it.
"""

from __future__ import annotations

from collections import Counter, deque

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.detection.detectors.base import Cooldown, State
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.domain import Severity


class InjectionParams(BaseModel):
    """Parameters of the injection-campaign detector (defaults in docs/detection.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_hits: int = Field(default=5, ge=1, description="Findings/markers from one caller.")
    window_seconds: int = Field(
        default=3600, ge=1, description="Within this long (an hour: campaigns are patient)."
    )
    canary_prefix: str = Field(default="canary", description="Marker names that are canaries.")
    canary_hits: int = Field(default=1, ge=1, description="Canary appearances that alert.")
    cooldown_seconds: int = Field(
        default=21_600, ge=0, description="At most one alert per subject this often."
    )


class _Hits:
    __slots__ = ("canaries", "kinds", "times", "touched")

    def __init__(self) -> None:
        self.touched = 0.0  # event time of the latest hit, for eviction
        self.times: deque[float] = deque()
        self.canaries: deque[float] = deque()
        self.kinds: Counter[str] = Counter()


class InjectionDetector:
    """Guardrail findings, injection markers and canary hits repeated by one caller."""

    name = "injection"
    alert_type = "prompt_injection"

    def __init__(self, params: InjectionParams) -> None:
        self.params = params
        self._callers: dict[str, _Hits] = {}
        self._cooldown = Cooldown(params.cooldown_seconds)
        self.horizon = float(params.window_seconds)

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        finding, marker = event.finding, event.marker
        if finding is None and marker is None:
            return None
        hits = self._callers.get(event.caller)
        if hits is None:
            hits = self._callers[event.caller] = _Hits()
        if t > hits.touched:
            hits.touched = t
        params = self.params
        horizon = t - params.window_seconds
        canary = marker is not None and marker.startswith(params.canary_prefix)
        times = hits.canaries if canary else hits.times
        times.append(t)
        while times and times[0] < horizon:
            times.popleft()
        for kind in (finding, marker):
            if kind is not None:
                hits.kinds[kind] += 1
        needed = params.canary_hits if canary else params.min_hits
        if len(times) < needed:
            return None
        times.clear()
        if not self._cooldown.ready(f"caller:{event.caller}", t):
            return None
        return self._detection(event, hits, needed, canary)

    def _detection(self, event: TelemetryEvent, hits: _Hits, count: int, canary: bool) -> Detection:
        kinds = dict(hits.kinds.most_common(10))
        hits.kinds.clear()
        minutes = self.params.window_seconds / 60
        if canary:
            title = f"Canary token {event.marker} leaked to caller {event.caller}"
            explanation = (
                f"Canary token {event.marker}, planted in a system prompt, appeared in output "
                f"served to caller {event.caller} ({count} time(s) within {minutes:.0f} min): "
                "the system prompt has been extracted."
            )
            severity = Severity.critical
        else:
            title = f"Prompt injection campaign by caller {event.caller}"
            listed = ", ".join(f"{k} x{n}" for k, n in kinds.items())
            explanation = (
                f"Caller {event.caller} tripped guardrail findings or injection markers "
                f"{count} times within {minutes:.0f} min ({listed})."
            )
            severity = Severity.high
        resources = {
            name: value
            for name, value in (
                ("api_key", event.api_key),
                ("model", event.model),
                ("model_version", event.model_version),
                ("agent", event.agent),
            )
            if value is not None
        }
        return Detection(
            detector=self.name,
            alert_type=self.alert_type,
            subject=f"caller:{event.caller}",
            severity=severity,
            title=title,
            explanation=explanation,
            at=event.at,
            resources=resources,
            evidence={
                "hits": count,
                "window_seconds": self.params.window_seconds,
                "kinds": kinds,
                "canary": canary,
                "caller": event.caller,
            },
        )

    def export(self, subject: str) -> State | None:
        """Nothing to persist: the evidence is recent hits, not a learned baseline."""
        return None

    def restore(self, subject: str, state: State) -> None:
        return None

    def describe(self, state: State) -> str:
        return ""

    def subjects(self) -> list[str]:
        return []

    def changed(self) -> set[str]:
        return set()

    def evict(self, now: float, idle: float) -> list[tuple[str, State]]:
        cutoff = now - idle
        for caller in [c for c, hits in self._callers.items() if hits.touched < cutoff]:
            del self._callers[caller]
        self._cooldown.prune(now)
        return []

    def held(self) -> int:
        return len(self._callers)

    def holds(self, subject: str) -> bool:
        return True  # nothing to take back from the store

    def wanted(self, event: TelemetryEvent) -> tuple[str, ...]:
        return ()
