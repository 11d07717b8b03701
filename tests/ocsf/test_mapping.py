"""Every ledger event type maps to an OCSF record that validates, twice over: against the OCSF
1.5.0 schema itself (compiled from the schema repository, `schema.py`) and against the
py-ocsf-models classes; sealed fields reach the record as the store handed them over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from py_ocsf_models import OCSF_VERSION as MODELS_OCSF_VERSION
from py_ocsf_models.events.base_event import BaseEvent
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.objects.api import API
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.group import Group
from py_ocsf_models.objects.resource_details import ResourceDetails

from orchestrator.audit import EventStore
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Actor, EventType, NewEvent, RecordedEvent
from orchestrator.ocsf import OCSF_VERSION, to_ocsf
from orchestrator.security.keyring import KeyRing
from tests.ocsf import schema
from tests.ocsf.samples import INCIDENT, SAMPLES, SENSITIVE

OCCURRED = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
OCCURRED_MS = 1_796_126_400_123
E = EventType
INCIDENT_FINDING, DETECTION_FINDING, API_ACTIVITY = 2005, 2004, 6003

# type -> (class, activity_id, status_id): the mapping table of docs/ocsf.md.
EXPECTED: dict[EventType, tuple[int, int, int]] = {
    E.incident_opened: (INCIDENT_FINDING, 1, 1),
    E.incident_triaged: (INCIDENT_FINDING, 2, 3),
    E.incident_acknowledged: (INCIDENT_FINDING, 2, 2),
    E.phase_started: (INCIDENT_FINDING, 2, 2),
    E.phase_completed: (INCIDENT_FINDING, 2, 2),
    E.incident_contained: (INCIDENT_FINDING, 2, 2),
    E.sla_breached: (INCIDENT_FINDING, 2, 2),
    E.incident_merged: (INCIDENT_FINDING, 2, 2),
    E.incident_aborted: (INCIDENT_FINDING, 2, 99),
    E.incident_resolved: (INCIDENT_FINDING, 2, 4),
    E.incident_reopened: (INCIDENT_FINDING, 2, 2),
    E.incident_closed: (INCIDENT_FINDING, 3, 5),
    E.alert_received: (DETECTION_FINDING, 1, 1),
    E.alert_suppressed: (DETECTION_FINDING, 1, 3),
    E.alert_attached: (DETECTION_FINDING, 2, 2),
    E.alert_resolved: (DETECTION_FINDING, 3, 4),
    E.step_requested: (API_ACTIVITY, 1, 1),
    E.step_approved: (API_ACTIVITY, 3, 1),
    E.step_rejected: (API_ACTIVITY, 3, 1),
    E.step_escalated: (API_ACTIVITY, 99, 1),
    E.step_started: (API_ACTIVITY, 99, 1),
    E.step_succeeded: (API_ACTIVITY, 99, 1),
    E.step_failed: (API_ACTIVITY, 99, 2),
    E.step_skipped: (API_ACTIVITY, 99, 99),
    E.step_stalled: (API_ACTIVITY, 99, 99),
    E.step_compensated: (API_ACTIVITY, 99, 1),
    E.evidence_collected: (API_ACTIVITY, 1, 1),
    E.evidence_read: (API_ACTIVITY, 2, 1),
    E.notification_sent: (API_ACTIVITY, 1, 2),
    E.playbook_assigned: (API_ACTIVITY, 3, 1),
    E.playbook_assign_failed: (API_ACTIVITY, 3, 2),
    E.principal_created: (API_ACTIVITY, 1, 1),
    E.principal_revoked: (API_ACTIVITY, 4, 1),
    E.suppression_created: (API_ACTIVITY, 1, 1),
    E.suppression_ended: (API_ACTIVITY, 4, 1),
}


def recorded(
    type_: str, stream: str, actor: Actor, payload: dict[str, Any], position: int = 41
) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        stream_id=stream,
        version=3,
        id=f"evt-{type_}",
        type=type_,
        actor=actor,
        occurred_at=OCCURRED,
        recorded_at=OCCURRED + timedelta(milliseconds=5),
        payload=payload,
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def assert_valid(record: dict[str, Any]) -> None:
    """Both validators accept `record`, and it survives a JSON round trip unchanged."""
    assert schema.errors(record) == []
    assert json.loads(json.dumps(record)) == record
    BaseEvent.model_validate(record)
    if record["class_uid"] == DETECTION_FINDING:
        DetectionFinding.model_validate(record)
    elif record["class_uid"] == INCIDENT_FINDING:
        for info in record["finding_info_list"]:
            FindingInformation.model_validate(info)
        Group.model_validate(record["assignee_group"])
    else:
        API.model_validate(record["api"])
        for resource in record.get("resources", []):
            ResourceDetails.model_validate(resource)


def test_samples_and_expectations_cover_every_event_type() -> None:
    assert set(SAMPLES) == set(EventType) == set(EXPECTED)
    assert OCSF_VERSION == MODELS_OCSF_VERSION == schema.SCHEMA["version"]


@pytest.mark.parametrize("event_type", sorted(EventType), ids=str)
def test_every_event_type_maps_to_a_valid_record(event_type: EventType) -> None:
    stream, actor, payload = SAMPLES[event_type]
    event = recorded(event_type.value, stream, actor, payload)
    record = to_ocsf(event)
    assert_valid(record)
    class_uid, activity, status = EXPECTED[event_type]
    assert (record["class_uid"], record["activity_id"], record["status_id"]) == (
        class_uid,
        activity,
        status,
    )
    assert record["metadata"]["uid"] == event.id
    assert record["metadata"]["sequence"] == event.position
    assert record["metadata"]["product"]["name"] == "Firebreak"
    assert record["time"] == OCCURRED_MS
    assert record["metadata"]["logged_time"] == OCCURRED_MS + 5
    ledger = record["unmapped"]["firebreak"]
    assert ledger["payload"] == payload and ledger["hash"] == "1" * 64
    assert (ledger["type"], ledger["stream_id"], ledger["actor"]["id"]) == (
        event.type,
        stream,
        actor.id,
    )


def test_incident_findings_carry_the_incident_and_its_severity() -> None:
    stream, actor, payload = SAMPLES[E.incident_opened]
    opened = to_ocsf(recorded("IncidentOpened", stream, actor, payload))
    assert opened["finding_info_list"][0]["uid"] == INCIDENT
    assert opened["finding_info_list"][0]["types"] == ["prompt_injection"]
    assert "suspicious prompt" not in json.dumps(opened["finding_info_list"])
    assert (opened["severity_id"], opened["severity"]) == (5, "Critical")
    assert opened["metadata"]["correlation_uid"] == INCIDENT
    assert opened["metadata"]["profiles"] == ["incident"]
    contained = to_ocsf(recorded("IncidentContained", *SAMPLES[E.incident_contained]))
    assert contained["severity_id"] == 0  # the event states none: Unknown, not a guess
    away = {"merged_into": INCIDENT, "reason": "dup", "alert_count": 1, "merge_id": "m"}
    merged_away = to_ocsf(recorded("IncidentMerged", "incident-b.r", Actor.system(), away))
    assert (merged_away["status_id"], merged_away["status"]) == (99, "Merged")


def test_alert_and_api_records_name_what_happened() -> None:
    attached = to_ocsf(recorded("AlertAttached", *SAMPLES[E.alert_attached]))
    assert attached["finding_info"]["types"] == ["data_exfiltration"]
    resolved_signal = {**SAMPLES[E.alert_attached][2], "status": "resolved"}
    assert (
        to_ocsf(recorded("AlertAttached", INCIDENT, Actor.system(), resolved_signal))["status_id"]
        == 4
    )
    failed = to_ocsf(recorded("StepFailed", *SAMPLES[E.step_failed]))
    assert failed["api"]["operation"] == "revoke_api_key"
    assert failed["status_detail"] == "ProviderError: gateway answered 503"
    assert failed["actor"] == {"app_name": "firebreak/workflow"}
    approved = to_ocsf(recorded("StepApproved", *SAMPLES[E.step_approved]))
    assert approved["actor"]["user"]["uid"] == "p-ann"
    assert approved["actor"]["user"]["groups"] == [{"name": "responder", "type": "role"}]
    revoked = to_ocsf(recorded("PrincipalRevoked", *SAMPLES[E.principal_revoked]))
    assert revoked["resources"] == [{"uid": "p-bob", "type": "principal"}]
    assert "correlation_uid" not in revoked["metadata"]
    read = to_ocsf(recorded("EvidenceRead", *SAMPLES[E.evidence_read]))
    assert read["metadata"]["correlation_uid"] == INCIDENT


def test_an_unknown_type_is_kept_as_api_activity_other() -> None:
    event = recorded("ModelRetrained", "retraining", Actor.system("mlops"), {"run": "r-1"})
    record = to_ocsf(event)
    assert_valid(record)
    assert (record["class_uid"], record["activity_id"], record["activity_name"]) == (
        API_ACTIVITY,
        99,
        "ModelRetrained",
    )
    assert record["api"]["operation"] == "ModelRetrained"
    assert record["unmapped"]["firebreak"]["payload"] == {"run": "r-1"}


def test_the_validators_reject_broken_records() -> None:
    """The schema check can fail: each mutation of a valid record is caught."""
    good = to_ocsf(recorded("IncidentOpened", *SAMPLES[E.incident_opened]))
    broken: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "assignee_group"},
        {**good, "status_id": 7},
        {**good, "type_uid": 200599},
        {**good, "severity": 5},
        {**good, "finding_info_list": [{"title": "no uid"}]},
        {**good, "colour": "red"},
        {**good, "metadata": {**good["metadata"], "version": "1.4.0"}},
    ]
    for record in broken:
        assert schema.errors(record), record
    api = to_ocsf(recorded("StepStarted", *SAMPLES[E.step_started]))
    assert schema.errors({**api, "actor": {}})
    assert schema.errors({**api, "src_endpoint": {"port": 443}})


@pytest.fixture
def sealed_store(db_url: str) -> Iterator[EventStore]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield EventStore(engine, keyring=KeyRing.generate())
    engine.dispose()


def test_stored_events_map_with_sealed_fields_left_sealed(sealed_store: EventStore) -> None:
    """Every sample goes through a real store (sealed at rest); read back opened, each record
    carries the plaintext; read back sealed, the ciphertext, exactly as stored."""
    for event_type, (stream, actor, payload) in SAMPLES.items():
        sealed_stream = f"{stream}/{event_type}" if event_type in SENSITIVE else stream
        event = NewEvent(
            id=f"id-{event_type}",
            type=event_type,
            actor=actor,
            occurred_at=OCCURRED,
            payload=payload,
            sensitive=SENSITIVE.get(event_type, ()),
        )
        sealed_store.append(sealed_stream, [event])
    opened = list(sealed_store.read_all())
    assert len(opened) == len(SAMPLES)
    for event in opened:
        record = to_ocsf(event)
        assert_valid(record)
        assert (record["metadata"]["uid"], record["metadata"]["sequence"]) == (
            event.id,
            event.position,
        )
    streams = [f"{SAMPLES[t][0]}/{t}" for t in SENSITIVE]
    with sealed_store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id, payload FROM audit_events"))
        stored = {row.event_id: row.payload for row in rows}
    for event in sealed_store.first_events_sealed(streams):
        record = to_ocsf(event)
        assert_valid(record)
        (field,) = SENSITIVE[EventType(event.type)]
        carried = record["unmapped"]["firebreak"]["payload"][field]
        assert carried == json.loads(stored[event.id])[field]
        assert isinstance(carried, str) and carried != SAMPLES[EventType(event.type)][2][field]
        for secret in ("suspicious prompt", "key k-17 revoked", "feature drift"):
            assert secret not in json.dumps(record)
