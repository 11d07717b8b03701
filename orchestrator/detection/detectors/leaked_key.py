"""Leaked key: an API key used from somewhere, by something, or at a time it never was.

Per key, the detector learns the networks and agent identities that use it and its hours of
use (a 24-slot histogram of hour-of-day, UTC). After the warm-up (`warmup_events` events over
at least `warmup_seconds`), a request is unfamiliar when it shows `min_signals` (two) of: a
network the key was never used from, an agent that never used it, and (once the key has a week
of history, `hours_warmup_seconds`) an hour that, with its two neighbours, holds less than
`quiet_hour_share` of the key's history. `min_events` unfamiliar requests within
`window_seconds` alert. One signal alone is learned instead: in bench/detect.py every false
alert of a new network alone was a roaming user or a moved office, and requiring two removed
them all while the leaks (a thief's network and tooling, often at night) were still caught. A
single odd request is not an alert; a stolen key in use is. What alerted is then learned, so
one leak is one alert.

Only the keys a flush has not yet seen change are returned by `changed()`: a request learned
or counted marks its key, nothing else does. A key idle for longer than `window_seconds`
(`horizon`) holds nothing its stored baseline lacks once its held requests are learned (their
window has passed without alerting), so the engine may evict it and restore it on return.
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
    warmup_events: int = Field(default=20, ge=1, description="Events before a key's habits count.")
    warmup_seconds: int = Field(default=86_400, ge=0, description="History span before alerting.")
    min_events: int = Field(default=3, ge=1, description="Unusual requests needed to alert.")
    min_signals: int = Field(
        default=2,
        ge=1,
        le=3,
        description=(
            "Unfamiliar things a request must show at once (new network, new agent, quiet"
            " hour) to count: one alone is a roaming user or a moved office far more often"
            " than a thief (measured in bench/detect.py)."
        ),
    )
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


class _Held:
    """Unfamiliar requests of one kind being counted towards an alert, not yet learned."""

    __slots__ = ("agent", "count", "first", "hours", "network")

    def __init__(self, first: float, network: str | None, agent: str | None) -> None:
        self.first = first
        self.network = network
        self.agent = agent
        self.count = 0
        self.hours = [0] * 24


class _Key:
    __slots__ = ("agents", "candidates", "events", "first", "hours", "networks", "touched")

    def __init__(self, first: float) -> None:
        self.first = first
        self.touched = first  # event time of the latest event, for eviction
        self.events = 0
        self.hours = [0] * 24
        self.networks: set[str] = set()
        self.agents: set[str] = set()
        self.candidates: dict[str, _Held] = {}


class LeakedKeyDetector:
    """New network or agent identity for a key, or use outside its learned hours."""

    name = "leaked_key"
    alert_type = "api_key_abuse"

    def __init__(self, params: LeakedKeyParams) -> None:
        self.params = params
        self._keys: dict[str, _Key] = {}
        self._cooldown = Cooldown(params.cooldown_seconds)
        self._dirty = Dirty()
        self.horizon = float(params.window_seconds)

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        key_id = event.api_key
        if key_id is None:
            return None
        key = self._keys.get(key_id)
        if key is None:
            key = self._keys[key_id] = _Key(t)
        if t > key.touched:
            key.touched = t
        hour = int(t // 3600) % 24
        params = self.params
        if key.events >= params.warmup_events and t - key.first >= params.warmup_seconds:
            signals = self._signals(key, event, hour, t)
            if len(signals) >= params.min_signals:
                key.events += 1  # counted, not learned: see `_count`
                return self._count(key_id, key, signals, event, t, hour)
        self._learn(key, event.network, event.agent, hour, 1)
        self._dirty.subjects.add(key_id)
        return None

    def _signals(self, key: _Key, event: TelemetryEvent, hour: int, t: float) -> list[str]:
        """What is unfamiliar about this request: `network N`, `agent A`, `hour HH:00 UTC`."""
        params = self.params
        signals = []
        network, agent = event.network, event.agent
        if params.check_networks and network is not None and network not in key.networks:
            signals.append(f"network {network}")
        if params.check_agents and agent is not None and agent not in key.agents:
            signals.append(f"agent {agent}")
        if params.check_hours and t - key.first >= params.hours_warmup_seconds:
            h = key.hours
            near = h[hour] + h[(hour - 1) % 24] + h[(hour + 1) % 24]
            if near < params.quiet_hour_share * key.events:
                signals.append(f"hour {hour:02d}:00 UTC")
        return signals

    def _count(
        self,
        key_id: str,
        key: _Key,
        signals: list[str],
        event: TelemetryEvent,
        t: float,
        hour: int,
    ) -> Detection | None:
        """Count an unfamiliar request towards an alert. Counted requests are held out of
        what the key has learned while they count (or the second request from a thief's
        network would already look familiar); they are learned when they alert, or when their
        window passes without alerting (a stray request was just that)."""
        name = " + ".join(s for s in signals if not s.startswith("hour ")) or "quiet hours"
        held = key.candidates.get(name)
        if held is not None and t - held.first > self.params.window_seconds:
            self._learn(key, held.network, held.agent, None, 0, held.hours)
            held = None
        if held is None:
            held = key.candidates[name] = _Held(t, event.network, event.agent)
        held.hours[hour] += 1
        held.count += 1
        self._dirty.subjects.add(key_id)
        if held.count < self.params.min_events:
            return None
        del key.candidates[name]
        self._learn(key, held.network, held.agent, None, 0, held.hours)
        if not self._cooldown.ready(f"key:{key_id}", t):
            return None
        return self._detection(key_id, key, signals, held.count, event, t - held.first)

    def _learn(
        self,
        key: _Key,
        network: str | None,
        agent: str | None,
        hour: int | None,
        events: int,
        hours: list[int] | None = None,
    ) -> None:
        key.events += events
        if hour is not None:
            key.hours[hour] += 1
        if hours is not None:
            key.hours = [a + b for a, b in zip(key.hours, hours, strict=True)]
        limit = self.params.max_known
        if network is not None and network not in key.networks and len(key.networks) < limit:
            key.networks.add(network)
        if agent is not None and agent not in key.agents and len(key.agents) < limit:
            key.agents.add(agent)

    def _detection(
        self,
        key_id: str,
        key: _Key,
        signals: list[str],
        count: int,
        event: TelemetryEvent,
        seconds: float,
    ) -> Detection:
        words = {
            "network": "from network {}, which it had never been used from",
            "agent": "by agent {}, which had never used it",
            "hour": "at {}, an hour in which it is almost never used",
        }
        found = [signal.partition(" ") for signal in signals]
        what = "; ".join(words[kind].format(value) for kind, _, value in found)
        kinds = [kind for kind, _, _ in found]
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
            title=f"API key {key_id} used from an unfamiliar {' and '.join(kinds)}",
            explanation=(
                f"API key {key_id} made {count} requests in {seconds / 60:.0f} min {what} "
                f"(learned from {key.events:,} requests; caller {event.caller})."
            ),
            at=event.at,
            resources=resources,
            evidence={
                "unusual": kinds,
                "values": {kind: value for kind, _, value in found},
                "requests": count,
                "within_seconds": round(seconds, 1),
                "learned_requests": key.events,
                "known_networks": sorted(key.networks)[:20],
                "known_agents": sorted(key.agents)[:20],
                "hours_used": [f"{h:02d}" for h in range(24) if key.hours[h]],
                "caller": event.caller,
            },
        )

    def export(self, subject: str) -> State | None:
        key = self._keys.get(subject)
        return None if key is None else _export(key)

    def evict(self, now: float, idle: float) -> list[tuple[str, State]]:
        cutoff = now - idle
        window = self.params.window_seconds
        dirty = self._dirty.subjects
        final: list[tuple[str, State]] = []
        for key_id in [k for k, key in self._keys.items() if key.touched < cutoff]:
            key = self._keys.pop(key_id)
            for held in key.candidates.values():
                if now - held.first > window:  # passed without alerting: a stray, learned
                    self._learn(key, held.network, held.agent, None, 0, held.hours)
                    dirty.add(key_id)
            if key_id in dirty:
                dirty.discard(key_id)
                final.append((key_id, _export(key)))
        self._cooldown.prune(now)
        return final

    def held(self) -> int:
        return len(self._keys)

    def holds(self, subject: str) -> bool:
        return subject in self._keys

    def wanted(self, event: TelemetryEvent) -> tuple[str, ...]:
        return () if event.api_key is None else (event.api_key,)

    def restore(self, subject: str, state: State) -> None:
        key = _Key(float(state.get("first", 0.0)))
        key.events = int(state.get("events", 0))
        hours = state.get("hours") or [0] * 24
        key.hours = [int(h) for h in hours][:24] + [0] * max(0, 24 - len(hours))
        key.networks = set(state.get("networks", []))
        key.agents = set(state.get("agents", []))
        key.touched = 0.0  # until it is seen again: evictable, nothing to save
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


def _export(key: _Key) -> State:
    return {
        "first": key.first,
        "events": key.events,
        "hours": list(key.hours),
        "networks": sorted(key.networks),
        "agents": sorted(key.agents),
    }
