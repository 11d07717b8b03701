"""One realistic ledger event of every type, with the payloads docs/events.md describes.

`SAMPLES` must name every `EventType` (tests/ocsf/test_mapping.py checks it), so a new event
type cannot reach the ledger without its OCSF record being validated.
"""

from __future__ import annotations

from typing import Any

from orchestrator.domain import Actor, EventType

E = EventType
INCIDENT = "incident-3f2a5d9c0b1e.0193d1e2-7c4b-7a11-9f00-12ab34cd56ef"
WORKFLOW = INCIDENT.split(".")[0]
ALERT = "alert-9d0c4c1f5e2b7a8a"
SYSTEM = Actor.system()
ANN = Actor(id="p-ann", role="responder")
ADMIN = Actor(id="p-root", role="admin")
STEP = {"phase": "containment", "step_id": "revoke", "action": "revoke_api_key"}
RESULT = {"ok": True, "summary": "key k-17 revoked", "outputs": {"key": "k-17"}}
SLA = {"acknowledge_seconds": 900, "contain_seconds": 3600, "resolve_seconds": 86400}

SAMPLES: dict[EventType, tuple[str, Actor, dict[str, Any]]] = {
    E.alert_received: (
        "alert-" + "ab" * 32,
        Actor(id="p-detector", role="source"),
        {
            "alert_id": ALERT,
            "source": "detector-1",
            "type": "prompt_injection",
            "severity": "high",
            "environment": "prod",
            "status": "firing",
            "fingerprint": "f" * 16,
            "format": "generic",
            "webhook_id": "wh-1",
            "route": "default",
            "route_hash": "c" * 64,
            "alert": {"title": "suspicious prompt", "labels": {"model": "m-1"}},
        },
    ),
    E.alert_suppressed: (
        "suppressed-" + "cd" * 32,
        Actor(id="p-detector", role="source"),
        {
            "alert_id": "alert-1f2e3d4c5b6a7988",
            "source": "detector-1",
            "type": "drift",
            "severity": "low",
            "environment": "staging",
            "status": "firing",
            "fingerprint": "e" * 16,
            "format": "generic",
            "webhook_id": None,
            "route": None,
            "route_hash": None,
            "window_id": "w-42",
            "alert": {"title": "feature drift"},
        },
    ),
    E.alert_attached: (
        INCIDENT,
        SYSTEM,
        {
            "alert_id": ALERT,
            "source": "detector-1",
            "status": "firing",
            "severity": "high",
            "alert_count": 2,
            "correlated": {
                "kind": "api_key",
                "value": "k-17",
                "rule": "by-key",
                "type": "data_exfiltration",
                "fingerprint": "d" * 16,
            },
        },
    ),
    E.alert_resolved: (INCIDENT, SYSTEM, {"alert_id": ALERT, "resolved_alert_count": 1}),
    E.incident_opened: (
        INCIDENT,
        SYSTEM,
        {
            "incident_id": INCIDENT,
            "workflow_id": WORKFLOW,
            "run_id": INCIDENT.split(".")[1],
            "type": "prompt_injection",
            "severity": "critical",
            "environment": "prod",
            "title": "suspicious prompt",
            "playbook": "prompt-injection",
            "playbook_hash": "a" * 64,
            "correlation_key": "prompt_injection/prod/m-1",
            "alert_id": ALERT,
            "route": "default",
            "route_hash": "c" * 64,
            "dry_run": False,
            "lifecycle": True,
            "sla": {**SLA, "escalate_to": "oncall"},
        },
    ),
    E.incident_triaged: (
        INCIDENT,
        SYSTEM,
        {"step_id": "triage", "reason": "unknown type 'odd'", "requested_by": "detector-1"},
    ),
    E.playbook_assigned: (
        INCIDENT,
        ANN,
        {
            "step_id": "triage",
            "decision_id": "d-1",
            "principal": "p-ann",
            "playbook": "prompt-injection",
            "playbook_hash": "a" * 64,
            "reason": "known pattern",
        },
    ),
    E.playbook_assign_failed: (
        INCIDENT,
        ANN,
        {
            "step_id": "triage",
            "decision_id": "d-2",
            "principal": "p-ann",
            "playbook": "nope",
            "reason": "try this",
            "error": "playbook 'nope' does not exist",
        },
    ),
    E.phase_started: (INCIDENT, SYSTEM, {"phase": "containment"}),
    E.phase_completed: (INCIDENT, SYSTEM, {"phase": "containment"}),
    E.step_requested: (
        INCIDENT,
        SYSTEM,
        {
            **STEP,
            "approvals_required": 1,
            "deadline": "2026-12-01T12:15:00+00:00",
            "requested_by": "detector-1",
        },
    ),
    E.step_approved: (
        INCIDENT,
        ANN,
        {
            "step_id": "revoke",
            "decision_id": "d-3",
            "principal": "p-ann",
            "reason": "confirmed",
            "approved_by": ["p-ann"],
            "approvals_required": 1,
        },
    ),
    E.step_rejected: (
        INCIDENT,
        Actor(id="firebreak/timeout", role="system"),
        {
            "step_id": "quarantine",
            "decision_id": "d-4",
            "principal": "firebreak/timeout",
            "reason": "deadline passed",
        },
    ),
    E.step_escalated: (
        INCIDENT,
        SYSTEM,
        {**STEP, "escalate_to": "oncall", "deadline": "2026-12-01T12:30:00+00:00"},
    ),
    E.step_started: (INCIDENT, SYSTEM, {**STEP, "params": {"key": "k-17"}, "attempt": 1}),
    E.step_succeeded: (INCIDENT, SYSTEM, {**STEP, "result": RESULT}),
    E.step_failed: (
        INCIDENT,
        SYSTEM,
        {**STEP, "attempt": 2, "error": "ProviderError: gateway answered 503"},
    ),
    E.step_skipped: (
        INCIDENT,
        ANN,
        {
            **STEP,
            "reason": "decision",
            "decision_id": "d-5",
            "principal": "p-ann",
            "note": "done by hand",
        },
    ),
    E.step_stalled: (INCIDENT, SYSTEM, {**STEP, "attempt": 1, "running_seconds": 600}),
    E.step_compensated: (
        INCIDENT,
        SYSTEM,
        {"phase": "recovery", "step_id": "revoke", "action": "restore_api_key", "result": RESULT},
    ),
    E.evidence_collected: (INCIDENT, SYSTEM, {"step_id": "snapshot", "digests": ["b" * 64]}),
    E.evidence_read: (
        "evidence-reads",
        Actor(id="p-audrey", role="auditor"),
        {
            "digest": "b" * 64,
            "incident_id": INCIDENT,
            "step_id": "snapshot",
            "via": "api",
            "bytes": 2048,
        },
    ),
    E.notification_sent: (
        INCIDENT,
        SYSTEM,
        {"step_id": "revoke", "kind": "approval", "attempt": 1, "target": None, "delivered": False},
    ),
    E.incident_merged: (
        INCIDENT,
        ANN,
        {
            "merged_from": "incident-77aa.0193d1e2-0000-7000-8000-000000000001",
            "reason": "same key",
            "alert_count": 3,
            "alert_ids": ["alert-1", "alert-2", "alert-3"],
            "merge_id": "m-1",
        },
    ),
    E.incident_acknowledged: (
        INCIDENT,
        ANN,
        {
            "decision_id": "d-6",
            "principal": "p-ann",
            "reason": "on it",
            "time_to_acknowledge_seconds": 42.5,
        },
    ),
    E.incident_contained: (INCIDENT, SYSTEM, {"time_to_contain_seconds": 61.0}),
    E.incident_resolved: (
        INCIDENT,
        SYSTEM,
        {
            "by": "playbook",
            "reason": "recovery completed",
            "time_to_resolve_seconds": 300.0,
            "round": 0,
        },
    ),
    E.incident_reopened: (
        INCIDENT,
        SYSTEM,
        {"alert_count": 4, "reopened_count": 1, "on_reopen": "responder"},
    ),
    E.sla_breached: (
        INCIDENT,
        SYSTEM,
        {
            "leg": "acknowledge",
            "target_seconds": 900,
            "elapsed_seconds": 901.2,
            "severity": "critical",
        },
    ),
    E.incident_aborted: (
        INCIDENT,
        ANN,
        {
            "decision_id": "d-7",
            "principal": "p-ann",
            "reason": "false positive",
            "step_id": "revoke",
        },
    ),
    E.incident_closed: (
        INCIDENT,
        SYSTEM,
        {
            "outcome": "resolved",
            "time_to_contain_seconds": 61.0,
            "error": None,
            "time_to_resolve_seconds": 300.0,
        },
    ),
    E.principal_created: (
        "principals",
        ADMIN,
        {"principal_id": "p-bob", "name": "bob", "role": "responder", "environments": ["prod"]},
    ),
    E.principal_revoked: (
        "principals",
        Actor(id="firebreak/cli", role="system"),
        {"principal_id": "p-bob", "name": "bob", "role": "responder", "environments": ["prod"]},
    ),
    E.suppression_created: (
        "suppression-w-42",
        ANN,
        {
            "window_id": "w-42",
            "environments": ["staging"],
            "principal": "p-ann",
            "match": {"type": "drift"},
            "reason": "retraining",
            "starts_at": "2026-12-01T12:00:00+00:00",
            "expires_at": "2026-12-01T14:00:00+00:00",
        },
    ),
    E.suppression_ended: (
        "suppression-w-42",
        ANN,
        {
            "window_id": "w-42",
            "environments": ["staging"],
            "principal": "p-ann",
            "reason": "done early",
            "expires_at": "2026-12-01T14:00:00+00:00",
        },
    ),
}
SENSITIVE: dict[EventType, tuple[str, ...]] = {
    E.alert_received: ("alert",),
    E.alert_suppressed: ("alert",),
    E.step_succeeded: ("result",),
    E.step_compensated: ("result",),
}
"""The fields the writers seal (alerts/service.py, suppression/service.py, workflows/outbox.py)."""
