"""The mapping from ledger events to OCSF 1.5.0 records, one record per event.

Three classes carry everything: Incident Finding (2005) for an incident's lifecycle, Detection
Finding (2004) for alerts, API Activity (6003) for what people and actions did; an event type
this table does not name becomes an API Activity with activity Other, so nothing is dropped.
Every record carries the ledger event id (`metadata.uid`), its global position
(`metadata.sequence`) and the whole ledger event under `unmapped.firebreak` (payload as handed
over, hashes): a SIEM deduplicates on `metadata.uid` and can still check the chain.

Plain dicts are built rather than model objects: an export maps every event of the log, and
the records are validated against the schema in the tests (tests/ocsf).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from orchestrator.domain import EventType, RecordedEvent
from orchestrator.timeutil import epoch_millis

OCSF_VERSION = "1.5.0"
"""The OCSF schema version every record states in `metadata.version`."""
PRODUCT = "Firebreak"
LOG_NAME = "firebreak.audit"

# OCSF categories and classes (uid = category * 1000 + class number).
FINDINGS, APPLICATION = 2, 6
DETECTION_FINDING, INCIDENT_FINDING, API_ACTIVITY = 2004, 2005, 6003
CLASS_NAMES = {
    DETECTION_FINDING: "Detection Finding",
    INCIDENT_FINDING: "Incident Finding",
    API_ACTIVITY: "API Activity",
}
CATEGORY_NAMES = {FINDINGS: "Findings", APPLICATION: "Application Activity"}

# activity_id (findings: Create/Update/Close; API Activity: Create/Read/Update/Delete).
CREATE, UPDATE, CLOSE = 1, 2, 3
API_CREATE, API_READ, API_UPDATE, API_DELETE = 1, 2, 3, 4
OTHER = 99
FINDING_ACTIVITIES = {CREATE: "Create", UPDATE: "Update", CLOSE: "Close"}
API_ACTIVITIES = {
    API_CREATE: "Create",
    API_READ: "Read",
    API_UPDATE: "Update",
    API_DELETE: "Delete",
}

# status_id captions per class (99 Other carries its own caption).
INCIDENT_STATUS = {1: "New", 2: "In Progress", 3: "On Hold", 4: "Resolved", 5: "Closed"}
DETECTION_STATUS = {1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived"}
API_STATUS = {1: "Success", 2: "Failure"}
NEW, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED = 1, 2, 3, 4, 5  # Incident Finding
SUPPRESSED = 3  # Detection Finding (its 1, 2 and 4 mean what the incident's do)
SUCCESS, FAILURE = 1, 2  # API Activity

SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
USER_TYPES = {"admin": (2, "Admin"), "source": (3, "System")}
"""OCSF user type by principal role; other people are type 1 User."""


@dataclass(frozen=True)
class Finding:
    """A finding event's activity and the status it leaves the finding in."""

    activity: int
    status: int
    status_caption: str | None = None
    """For status 99 (Other): Firebreak's own word for it."""


E = EventType
INCIDENT_EVENTS: dict[str, Finding] = {
    E.incident_opened: Finding(CREATE, NEW),
    E.incident_triaged: Finding(UPDATE, ON_HOLD),
    E.incident_acknowledged: Finding(UPDATE, IN_PROGRESS),
    E.phase_started: Finding(UPDATE, IN_PROGRESS),
    E.phase_completed: Finding(UPDATE, IN_PROGRESS),
    E.incident_contained: Finding(UPDATE, IN_PROGRESS),
    E.sla_breached: Finding(UPDATE, IN_PROGRESS),
    E.incident_merged: Finding(UPDATE, IN_PROGRESS),
    E.incident_aborted: Finding(UPDATE, OTHER, "Aborted"),
    E.incident_resolved: Finding(UPDATE, RESOLVED),
    E.incident_reopened: Finding(UPDATE, IN_PROGRESS),
    E.incident_closed: Finding(CLOSE, CLOSED),
}
"""Incident lifecycle → Incident Finding. `IncidentMerged` on the incident merged away
(`merged_into`) is status Other "Merged"; its `IncidentClosed` (outcome merged) follows."""

ALERT_EVENTS: dict[str, Finding] = {
    E.alert_received: Finding(CREATE, NEW),
    E.alert_suppressed: Finding(CREATE, SUPPRESSED),
    E.alert_attached: Finding(UPDATE, IN_PROGRESS),
    E.alert_resolved: Finding(CLOSE, RESOLVED),
}
"""Alerts → Detection Finding. An `AlertAttached` whose alert status is `resolved` is status
Resolved."""

API_EVENTS: dict[str, int] = {
    E.step_requested: API_CREATE,
    E.step_approved: API_UPDATE,
    E.step_rejected: API_UPDATE,
    E.step_escalated: OTHER,
    E.step_started: OTHER,
    E.step_succeeded: OTHER,
    E.step_failed: OTHER,
    E.step_skipped: OTHER,
    E.step_stalled: OTHER,
    E.step_compensated: OTHER,
    E.evidence_collected: API_CREATE,
    E.evidence_read: API_READ,
    E.notification_sent: API_CREATE,
    E.playbook_assigned: API_UPDATE,
    E.playbook_assign_failed: API_UPDATE,
    E.principal_created: API_CREATE,
    E.principal_revoked: API_DELETE,
    E.suppression_created: API_CREATE,
    E.suppression_ended: API_DELETE,
}
"""Steps, decisions, principals, suppression windows, evidence → API Activity. Activity Other
(named by the event type) where no CRUD verb fits, and for any type not listed here."""

RESOURCE_KEYS = {
    "principal_id": "principal",
    "window_id": "suppression_window",
    "digest": "evidence",
}
"""Payload keys naming what an API Activity acted on, besides the incident."""
OTHER_STREAM_TYPES = frozenset(
    {
        E.evidence_read,
        E.principal_created,
        E.principal_revoked,
        E.suppression_created,
        E.suppression_ended,
    }
)
"""Types that are not written on an incident's stream (`EvidenceRead` names its incident in
the payload); alerts' own types are neither."""
INCIDENT_STREAM_TYPES = (
    frozenset({*INCIDENT_EVENTS, *API_EVENTS, E.alert_attached, E.alert_resolved})
    - OTHER_STREAM_TYPES
)
"""Types written on an incident's own stream: the stream id is the incident id."""


def to_ocsf(event: RecordedEvent) -> dict[str, Any]:
    """One OCSF record (JSON-ready) for one ledger event, whatever its type.

    Sealed payload fields are copied as they come (ciphertext stays ciphertext): the mapper
    never opens or drops anything.
    """
    if event.type in INCIDENT_EVENTS:
        return _incident_finding(event, INCIDENT_EVENTS[event.type])
    if event.type in ALERT_EVENTS:
        return _detection_finding(event, ALERT_EVENTS[event.type])
    return _api_activity(event, API_EVENTS.get(event.type, OTHER))


def _incident_finding(event: RecordedEvent, finding: Finding) -> dict[str, Any]:
    payload = event.payload
    incident_id = _incident_id(event) or event.stream_id
    if event.type == E.incident_merged and payload.get("merged_into"):
        finding = Finding(UPDATE, OTHER, "Merged")
    incident_type = _text(payload.get("type"))
    info = {
        "uid": incident_id,
        "title": f"Firebreak incident: {incident_type}" if incident_type else "Firebreak incident",
        **({"types": [incident_type]} if incident_type else {}),
    }
    record = _base(event, INCIDENT_FINDING, FINDINGS, finding.activity, FINDING_ACTIVITIES)
    record["metadata"]["profiles"] = ["incident"]
    record.update(
        _status(finding.status, INCIDENT_STATUS, finding.status_caption),
        **_severity(payload.get("severity")),
        finding_info_list=[info],
        assignee_group={"name": "responders", "type": "role"},
    )
    if event.type == E.incident_opened:
        record["start_time"] = record["time"]
    elif event.type == E.incident_closed:
        record["end_time"] = record["time"]
    return record


def _detection_finding(event: RecordedEvent, finding: Finding) -> dict[str, Any]:
    payload = event.payload
    status = finding.status
    if event.type == E.alert_attached and payload.get("status") == "resolved":
        status = RESOLVED
    correlated = payload.get("correlated")
    alert_type = _text(payload.get("type")) or (
        _text(correlated.get("type")) if isinstance(correlated, dict) else None
    )
    info = {
        "uid": _text(payload.get("alert_id")) or event.id,
        "title": f"Firebreak alert: {alert_type}" if alert_type else "Firebreak alert",
        **({"types": [alert_type]} if alert_type else {}),
    }
    record = _base(event, DETECTION_FINDING, FINDINGS, finding.activity, FINDING_ACTIVITIES)
    record.update(
        _status(status, DETECTION_STATUS),
        **_severity(payload.get("severity")),
        finding_info=info,
        is_alert=True,
    )
    return record


def _api_activity(event: RecordedEvent, activity: int) -> dict[str, Any]:
    payload = event.payload
    status, caption, detail = SUCCESS, None, None
    if event.type in (E.step_failed, E.playbook_assign_failed) or (
        event.type == E.step_compensated and "error" in payload
    ):
        status, detail = FAILURE, _text(payload.get("error"))
    elif event.type == E.notification_sent and payload.get("delivered") is False:
        status = FAILURE
    elif event.type in (E.step_skipped, E.step_stalled):
        status, caption = OTHER, "Skipped" if event.type == E.step_skipped else "Stalled"
        detail = _text(payload.get("reason"))
    operation = _text(payload.get("action")) or event.type
    record = _base(event, API_ACTIVITY, APPLICATION, activity, API_ACTIVITIES)
    record.update(
        _status(status, API_STATUS, caption),
        severity_id=1,
        severity=SEVERITY_NAMES[1],
        actor=_actor(event),
        api={
            "operation": operation,
            "service": {"name": PRODUCT, "uid": "firebreak", "version": _product_version()},
        },
        src_endpoint={"name": "firebreak"},
    )
    if detail:
        record["status_detail"] = detail
    resources = _resources(event)
    if resources:
        record["resources"] = resources
    return record


def _base(
    event: RecordedEvent, class_uid: int, category: int, activity: int, names: dict[int, str]
) -> dict[str, Any]:
    """The attributes every class shares: ids, times, metadata and the ledger event itself."""
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "uid": event.id,
        "sequence": event.position,
        "event_code": event.type,
        "log_name": LOG_NAME,
        "log_provider": "firebreak",
        "logged_time": epoch_millis(event.recorded_at),
        "original_time": event.occurred_at.isoformat(),
        "product": {
            "name": PRODUCT,
            "vendor_name": PRODUCT,
            "uid": "firebreak",
            "version": _product_version(),
        },
    }
    incident_id = _incident_id(event)
    if incident_id:
        metadata["correlation_uid"] = incident_id
    return {
        "category_uid": category,
        "category_name": CATEGORY_NAMES[category],
        "class_uid": class_uid,
        "class_name": CLASS_NAMES[class_uid],
        "activity_id": activity,
        "activity_name": names.get(activity, event.type),
        "type_uid": class_uid * 100 + activity,
        "time": epoch_millis(event.occurred_at),
        "message": f"{event.type} on {event.stream_id}",
        "metadata": metadata,
        "unmapped": {
            "firebreak": {
                "type": event.type,
                "stream_id": event.stream_id,
                "version": event.version,
                "actor": {"id": event.actor.id, "role": event.actor.role},
                "payload": dict(event.payload),
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
        },
    }


def _status(status: int, captions: dict[int, str], other: str | None = None) -> dict[str, Any]:
    caption = captions.get(status) or other or "Other"
    return {"status_id": status, "status": caption}


def _severity(value: Any) -> dict[str, Any]:
    """Firebreak's severity as OCSF's; Unknown (0) on events that do not state one."""
    severity_id = SEVERITY_IDS.get(value, 0) if isinstance(value, str) else 0
    return {"severity_id": severity_id, "severity": SEVERITY_NAMES[severity_id]}


def _actor(event: RecordedEvent) -> dict[str, Any]:
    """A person as `actor.user` (their role as a group), Firebreak itself as `actor.app_name`."""
    actor = event.actor
    if actor.role == "system":
        return {"app_name": actor.id}
    type_id, type_name = USER_TYPES.get(actor.role, (1, "User"))
    return {
        "user": {
            "uid": actor.id,
            "type_id": type_id,
            "type": type_name,
            "groups": [{"name": actor.role, "type": "role"}],
        }
    }


def _resources(event: RecordedEvent) -> list[dict[str, Any]]:
    found = []
    incident_id = _incident_id(event)
    if incident_id:
        found.append({"uid": incident_id, "type": "incident"})
    for key, kind in RESOURCE_KEYS.items():
        value = _text(event.payload.get(key))
        if value:
            found.append({"uid": value, "type": kind})
    return found


def _incident_id(event: RecordedEvent) -> str | None:
    """The incident the event belongs to, when the ledger says: named in the payload, or the
    stream itself for the types written on an incident's stream."""
    named = _text(event.payload.get("incident_id"))
    if named:
        return named
    if event.type in INCIDENT_STREAM_TYPES:
        return event.stream_id
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@cache
def _product_version() -> str:
    try:
        return version("firebreak")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown"
