"""Which of an activity's ids its span gets: the incident and step its input names, and the
action for a catalogue action; never anything else of the input."""

from __future__ import annotations

from orchestrator.domain import ActionInput, Environment
from orchestrator.telemetry.activities import ids_of
from workflows.contracts import AppendInput, Notification


def test_an_action_names_its_incident_step_and_action_but_not_its_parameters() -> None:
    action = ActionInput(
        incident_id="incident-1.run",
        step_id="revoke-key",
        action="keys.revoke",
        params={"key_id": "sk-live-secret"},
        idempotency_key="incident-1/revoke-key",
        environment=Environment.prod,
    )
    assert ids_of("keys.revoke", [action]) == {
        "firebreak.incident.id": "incident-1.run",
        "firebreak.step.id": "revoke-key",
        "firebreak.action": "keys.revoke",
    }


def test_other_activities_name_what_their_input_has() -> None:
    note = Notification(
        incident_id="incident-1.run",
        title="Leaked key sk-live-secret",
        body="the alert's text",
        severity="high",
        environment="prod",
    )
    assert ids_of("notify.send", [note]) == {"firebreak.incident.id": "incident-1.run"}
    assert ids_of("audit.append", [AppendInput(stream_id="incident-1.run", events=[])]) == {}
    assert ids_of("playbooks.resolve", []) == {}
