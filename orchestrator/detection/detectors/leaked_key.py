"""Leaked key: an API key used from somewhere, by something, or at a time it never was.

Per key, the detector learns the networks and agent identities that use it and its hours of
use (a 24-slot histogram of hour-of-day, UTC). After the warm-up (`warmup_events` events over
at least `warmup_seconds`), it alerts when `min_events` requests within `window_seconds` come
from a network or agent it has not seen, or (once the key has a week of history,
`hours_warmup_seconds`) fall in an hour that, with its two neighbours, holds less than
`quiet_hour_share` of the key's history. A single odd request is not an alert;
a stolen key in use is. What alerted is then learned, so one leak is one alert.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.detection.detectors.base import Cooldown, Dirty, State
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.domain import Severity


class LeakedKeyParams(BaseModel):
    """Parameters of the leaked-key detector (defaults in docs/detection.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    warmup_events: int = Field(default=200, ge=1, description="Events before a key's habits count.")
    warmup_seconds: int = Field(default=86_400, ge=0, description="History span before alerting.")
    min_events: int = Field(default=5, ge=1, description="Unusual requests needed to alert.")
    window_seconds: int = Field(default=3600, ge=1, description="Within this long.")
    quiet_hour_share: float = Field(
        default=0.002, ge=0, lt=1, description="An hour (±1) below this share of use is unusual."
    )
    check_hours: bool = True
    hours_warmup_seconds: int = Field(
        default=7 * 86_400, ge=0, description="History span before hours are judged (a week)."
    )
    check_networks: bool = True
    check_agents: bool = True
    max_known: int = Field(default=256, ge=1, description="Networks/agents remembered per key.")
    cooldown_seconds: int = Field(
        default=21_600, ge=0, description="At most one alert per subject this often."
    )


class _Key:
    __slots__ = ("agents", "candidates", "events", "first", "hours", "networks")

    def __init__(self, first: float) -> None:
        self.first = first
        self.events = 0
        self.hours = [0] * 24
        self.networks: set[str] = set()
        self.agents: set[str] = set()
        # unusual feature -> (first seen, count) while it is being counted towards an alert
        self.candidates: dict[str, tuple[float, int]] = {}


class LeakedKeyDetector:
    """New network or agent identity for a key, or use outside its learned hours."""

    name = "leaked_key"
    alert_type = "api_key_abuse"

    def __init__(self, params: LeakedKeyParams) -> None:
        self.params = params
        self._keys: dict[str, _Key] = {}
        self._cooldown = Cooldown(params.cooldown_seconds)
        self._dirty = Dirty()

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        key_id = event.api_key
        if key_id is None:
            return None
        key = self._keys.get(key_id)
        if key is None:
            key = self._keys[key_id] = _Key(t)
        hour = int(t // 3600) % 24
        params = self.params
        found = None
        odd_hour = False
        if key.events >= params.warmup_events and t - key.first >= params.warmup_seconds:
            unusual = self._unusual(key, event, hour, t)
            if unusual is not None:
                odd_hour = unusual.startswith("hour ")
                found = self._count(key_id, key, unusual, event, t, hour if odd_hour else None)
        self._learn(key, event, None if odd_hour else hour)
        self._dirty.subjects.add(key_id)
        return found

    def _unusual(self, key: _Key, event: TelemetryEvent, hour: int, t: float) -> str | None:
        params = self.params
        network, agent = event.network, event.agent
        if params.check_networks and network is not None and network not in key.networks:
            return f"network {network}"
        if params.check_agents and agent is not None and agent not in key.agents:
            return f"agent {agent}"
        if params.check_hours and t - key.first >= params.hours_warmup_seconds:
            h = key.hours
            near = h[hour] + h[(hour - 1) % 24] + h[(hour + 1) % 24]
            if near < params.quiet_hour_share * key.events:
                return f"hour {hour:02d}:00 UTC"
        return None

    def _count(
        self,
        key_id: str,
        key: _Key,
        unusual: str,
        event: TelemetryEvent,
        t: float,
        hour: int | None,
    ) -> Detection | None:
        """Count an unusual request towards an alert. Requests at an unusual hour are held
        out of the hours histogram while they count (or the second one would already look
        familiar) and join it when they alert or their window passes without alerting."""
        first, count = key.candidates.get(unusual, (t, 0))
        if t - first > self.params.window_seconds:
            if hour is not None:
                key.hours[hour] += count
            first, count = t, 0
        count += 1
        key.candidates[unusual] = (first, count)
        if count < self.params.min_events:
            return None
        del key.candidates[unusual]
        if hour is not None:
            key.hours[hour] += count
        if not self._cooldown.ready(f"key:{key_id}", t):
            return None
        return self._detection(key_id, key, unusual, count, event, t - first)

    def _learn(self, key: _Key, event: TelemetryEvent, hour: int | None) -> None:
        key.events += 1
        if hour is not None:
            key.hours[hour] += 1
        limit = self.params.max_known
        network, agent = event.network, event.agent
        if (
            network is not None
            and network not in key.networks
            and len(key.networks) < limit
            and not self._is_candidate(key, f"network {network}")
        ):
            key.networks.add(network)
        if (
            agent is not None
            and agent not in key.agents
            and len(key.agents) < limit
            and not self._is_candidate(key, f"agent {agent}")
        ):
            key.agents.add(agent)

    def _is_candidate(self, key: _Key, feature: str) -> bool:
        """A feature still being counted towards an alert is not learned yet (or the second
        request from a stolen key's network would already look familiar)."""
        return feature in key.candidates

    def _detection(
        self,
        key_id: str,
        key: _Key,
        unusual: str,
        count: int,
        event: TelemetryEvent,
        seconds: float,
    ) -> Detection:
        kind, _, value = unusual.partition(" ")
        known = {
            "network": sorted(key.networks)[:20],
            "agent": sorted(key.agents)[:20],
            "hour": [f"{h:02d}" for h in range(24) if key.hours[h]],
        }[kind]
        what = {
            "network": f"from network {value}, which it had never been used from",
            "agent": f"by agent {value}, which had never used it",
            "hour": f"at {value}, an hour in which it is almost never used",
        }[kind]
        resources = {"api_key": key_id}
        if event.model is not None:
            resources["model"] = event.model
        if event.agent is not None:
            resources["agent"] = event.agent
        return Detection(
            detector=self.name,
            alert_type=self.alert_type,
            subject=f"key:{key_id}",
            severity=Severity.high,
            title=f"API key {key_id} used from an unfamiliar {kind}",
            explanation=(
                f"API key {key_id} made {count} requests in {seconds / 60:.0f} min {what} "
                f"(learned from {key.events:,} requests; caller {event.caller})."
            ),
            at=event.at,
            resources=resources,
            evidence={
                "unusual": kind,
                "value": value,
                "requests": count,
                "within_seconds": round(seconds, 1),
                "learned_requests": key.events,
                f"known_{kind}s": known,
                "caller": event.caller,
            },
        )

    def export(self, subject: str) -> State | None:
        key = self._keys.get(subject)
        if key is None:
            return None
        return {
            "first": key.first,
            "events": key.events,
            "hours": list(key.hours),
            "networks": sorted(key.networks),
            "agents": sorted(key.agents),
        }

    def restore(self, subject: str, state: State) -> None:
        key = _Key(float(state.get("first", 0.0)))
        key.events = int(state.get("events", 0))
        hours = state.get("hours") or [0] * 24
        key.hours = [int(h) for h in hours][:24] + [0] * max(0, 24 - len(hours))
        key.networks = set(state.get("networks", []))
        key.agents = set(state.get("agents", []))
        self._keys[subject] = key

    def describe(self, state: State) -> str:
        hours = [h for h, n in enumerate(state.get("hours", [])) if n]
        span = f"{min(hours):02d}-{max(hours):02d} UTC" if hours else "none"
        return (
            f"{state.get('events', 0):,} requests, {len(state.get('networks', []))} networks, "
            f"{len(state.get('agents', []))} agents, hours used {span}"
        )

    def subjects(self) -> list[str]:
        return list(self._keys)

    def changed(self) -> set[str]:
        return self._dirty.take()
