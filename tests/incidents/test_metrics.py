"""Prometheus metrics derived from the projection after real events."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.api.metrics import ALERTS_RECEIVED, build_registry
from orchestrator.audit import EventStore
from orchestrator.incidents.projector import IncidentProjector
from tests.support.stories import Story


def samples(projector: IncidentProjector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(build_registry(projector.engine)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_incident_metrics_follow_the_log(store: EventStore, projector: IncidentProjector) -> None:
    Story(store).open().contain().request("q").approve("q", "bob", ["bob"]).run("q").close()
    Story(store).open().contain().request("q")
    Story(store).open()
    Story(store, lifecycle=True).open().acknowledge().breach("contain").contain().contained()
    Story(store, lifecycle=True, severity="critical").open().breach("acknowledge").breach(
        "contain"
    ).resolved()
    targets = {"acknowledge_seconds": 60, "contain_seconds": 600, "resolve_seconds": 3600}
    Story(store, lifecycle=True, environment="staging", sla=targets).open().acknowledge()
    ALERTS_RECEIVED.labels(format="generic", outcome="accepted").inc(3)
    projector.catch_up()

    got = samples(projector)
    status: dict[str, float] = {}
    for (name, labels), value in got.items():
        if name == "firebreak_incidents":
            status[dict(labels)["status"]] = status.get(dict(labels)["status"], 0) + value
    assert status == {
        "active": 1,
        "awaiting_decision": 1,
        "open": 1,
        "contained": 1,
        "resolved": 1,
        "closed": 1,
        "aborted": 0,
    }
    assert got[("firebreak_incidents", (("severity", "critical"), ("status", "resolved")))] == 1
    assert got[("firebreak_incidents", (("severity", "high"), ("status", "resolved")))] == 0
    ttc = "firebreak_time_to_containment_seconds"
    assert got[(f"{ttc}_count", ())] == 3
    assert got[(f"{ttc}_sum", ())] == 10.0 + 7.0  # the lifecycle one: opened +1s, contained +8s
    assert got[(f"{ttc}_bucket", (("le", "1.0"),))] == 0
    assert got[(f"{ttc}_bucket", (("le", "5.0"),))] == 2
    assert got[("firebreak_time_to_acknowledge_seconds_count", ())] == 2  # + the SLA one
    assert got[("firebreak_time_to_resolve_seconds_count", ())] == 1
    assert got[("firebreak_time_to_resolve_seconds_sum", ())] == 5.0
    breaches = {k[1]: v for k, v in got.items() if k[0] == "firebreak_sla_breaches"}
    assert breaches == {
        (("leg", "contain"), ("severity", "high")): 1,
        (("leg", "acknowledge"), ("severity", "critical")): 1,
        (("leg", "contain"), ("severity", "critical")): 1,
    }
    prod = (("environment", "prod"),)
    assert got[("firebreak_approval_wait_seconds_count", prod)] == 1
    assert got[("firebreak_approval_wait_seconds_sum", prod)] == 1.0
    assert ("firebreak_approval_wait_seconds_count", (("environment", "dev"),)) not in got
    waiting = {k[1]: v for k, v in got.items() if k[0] == "firebreak_approvals_waiting" and v}
    assert waiting == {(("environment", "prod"), ("reason", "approval")): 1}
    # Opened long ago with a 10-minute containment target, acknowledged: contain is overdue.
    due = {k[1]: v for k, v in got.items() if k[0] == "firebreak_sla_open_legs" and v}
    assert due == {(("due", "overdue"), ("leg", "contain")): 1}
    contain_critical = (("leg", "contain"), ("severity", "critical"))
    assert got[("firebreak_sla_target_seconds", contain_critical)] == 1800  # the default SLA
    targets = [labels for name, labels in got if name == "firebreak_sla_target_seconds"]
    assert len(targets) == 12 and not any(("severity", "info") in t for t in targets)
    accepted = (("format", "generic"), ("outcome", "accepted"))
    assert got[("firebreak_alerts_received_total", accepted)] >= 3
