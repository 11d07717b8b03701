"""The ledger's metrics, scraped from the app's registry over a real store (SQLite and
PostgreSQL): head position, events since the last checkpoint, and the checkpoint's age."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.api.metrics import build_registry
from orchestrator.audit import EventStore
from tests.audit.test_tamper import fill


def ledger_samples(store: EventStore) -> dict[str, float]:
    text = generate_latest(build_registry(store.engine)).decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("firebreak_audit_") and "_append_seconds" not in s.name
    }


def test_ledger_metrics_follow_appends_and_checkpoints(store: EventStore) -> None:
    fill(store, 5)
    before = ledger_samples(store)
    assert before == {
        "firebreak_audit_head_position": 5.0,
        "firebreak_audit_events_since_checkpoint": 5.0,
    }  # no checkpoint yet: no age to report
    store.checkpoint()
    fill(store, 2)
    after = ledger_samples(store)
    assert after["firebreak_audit_head_position"] == 7.0
    assert after["firebreak_audit_events_since_checkpoint"] == 2.0
    assert 0.0 <= after["firebreak_audit_checkpoint_age_seconds"] < 3600
