"""Leaked key: a key in use from a new network, by a new agent, or at an hour it never is."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from orchestrator.detection import DetectionEngine
from orchestrator.detection.inputs.common import network_of
from orchestrator.detection.models import TelemetryEvent
from tests.detection.streams import START, benign, merge, spaced
from tests.detection.support import only, run

DAYS = 4


def busiest(events: list[TelemetryEvent]) -> TelemetryEvent:
    """An event of the key with the most history (well past the 200-request warm-up)."""
    top, _ = Counter(e.api_key for e in events).most_common(1)[0]
    return next(e for e in events if e.api_key == top)


def test_known_networks_agents_and_hours_raise_nothing() -> None:
    found = run(DetectionEngine(only("leaked_key")), benign(60, DAYS, seed=21))
    assert found == [], [d.explanation for d in found]


def test_a_roaming_address_in_the_same_network_is_not_a_new_network() -> None:
    assert network_of("203.0.113.7") == network_of("203.0.113.200:51234") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert network_of("gateway-eu") == "gateway-eu"


def test_a_stolen_key_used_from_another_network_is_one_alert() -> None:
    history = benign(30, DAYS, seed=22)
    owner = next(e for e in history if e.api_key == "key-4")
    thief_at = START + timedelta(days=DAYS, hours=11)
    theft = spaced(owner, thief_at, 40, 30.0, network="198.51.100.0/24", caller="user-4")
    found = run(DetectionEngine(only("leaked_key")), merge(history, theft))

    assert len(found) == 1
    alert = found[0]
    assert alert.alert_type == "api_key_abuse"
    assert alert.subject == "key:key-4"
    assert alert.resources["api_key"] == "key-4"
    assert alert.evidence["unusual"] == "network"
    assert alert.evidence["value"] == "198.51.100.0/24"
    assert alert.evidence["requests"] == 5
    assert "never been used from" in alert.explanation


def test_one_stray_request_from_a_new_network_is_not_an_alert() -> None:
    history = benign(30, DAYS, seed=23)
    owner = next(e for e in history if e.api_key == "key-7")
    stray = [
        replace(owner, at=START + timedelta(days=DAYS, hours=10 + i * 3), network=f"192.0.2.{i}")
        for i in range(3)
    ]  # three different networks, hours apart: a laptop on hotel Wi-Fi, not a thief
    found = run(DetectionEngine(only("leaked_key")), merge(history, stray))
    assert found == []


def test_a_key_used_by_a_new_agent_identity_is_caught() -> None:
    history = [replace(e, agent="billing-agent") for e in benign(10, DAYS, seed=24)]
    owner = busiest(history)
    other = spaced(owner, START + timedelta(days=DAYS, hours=9), 6, 60.0, agent="unknown-agent")
    found = run(DetectionEngine(only("leaked_key")), merge(history, other))
    assert [(d.subject, d.evidence["unusual"]) for d in found] == [
        (f"key:{owner.api_key}", "agent")
    ]


def test_use_at_an_hour_the_key_never_sees_is_caught() -> None:
    office = benign(10, 8, seed=25)  # hours are judged after a week of history
    office = [e for e in office if 8 <= e.at.hour < 18]  # strictly office hours
    owner = busiest(office)
    night = spaced(owner, START + timedelta(days=8, hours=3), 10, 60.0)
    found = run(DetectionEngine(only("leaked_key")), merge(office, night))
    assert [(d.subject, d.evidence["unusual"]) for d in found] == [(f"key:{owner.api_key}", "hour")]
    assert "03:00 UTC" in found[0].explanation


def test_nothing_alerts_before_the_warm_up() -> None:
    young = benign(5, 0.5, seed=26)  # half a day of history
    owner = young[0]
    theft = spaced(owner, young[-1].at + timedelta(minutes=1), 20, 10.0, network="198.51.100.0/24")
    assert run(DetectionEngine(only("leaked_key")), merge(young, theft)) == []
