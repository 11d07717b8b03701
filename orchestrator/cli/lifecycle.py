"""`firebreak incidents ack|resolve|close ID`: moving an incident through its lifecycle.

Each is a decision on the incident itself (step `incident`), posted to the API under the same
role and environment rules as a step decision; the answer is one line with the incident's new
status, or pending (no worker runs yet; `firebreak decision ID incident DECISION` follows it).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.cli.approvals import DecisionId, print_answer
from orchestrator.cli.client import api_request
from orchestrator.cli.incidents import JsonFlag
from orchestrator.domain import LIFECYCLE_STEP

RequiredReason = Annotated[
    str, typer.Option("--reason", "-r", help="Why; recorded in the audit log (required).")
]
OptionalReason = Annotated[str, typer.Option("--reason", "-r", help="Recorded in the audit log.")]


def _post(
    incident_id: str, action: str, reason: str, decision_id: str | None, as_json: bool
) -> None:
    if action != "acknowledge" and not reason.strip():
        raise typer.BadParameter(f"a reason is required to {action}", param_hint="--reason")
    body: dict[str, Any] = {"reason": reason}
    if decision_id:
        body["decision_id"] = decision_id
    answer = api_request("POST", f"/v1/incidents/{incident_id}/{action}", json=body)
    print_answer(answer, action, incident_id, LIFECYCLE_STEP, as_json)


def ack(
    incident_id: str,
    reason: OptionalReason = "",
    decision_id: DecisionId = None,
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge an incident: you are on it (meets the SLA's acknowledge leg)."""
    _post(incident_id, "acknowledge", reason, decision_id, as_json)


def resolve(
    incident_id: str,
    reason: RequiredReason,
    decision_id: DecisionId = None,
    as_json: JsonFlag = False,
) -> None:
    """Resolve an open or contained incident: steps waiting for people are skipped, nothing
    else starts; it closes after the quiet period, or with `close`."""
    _post(incident_id, "resolve", reason, decision_id, as_json)


def close(
    incident_id: str,
    reason: RequiredReason,
    decision_id: DecisionId = None,
    as_json: JsonFlag = False,
) -> None:
    """Close a resolved incident before its quiet period ends."""
    _post(incident_id, "close", reason, decision_id, as_json)


def register(incidents: typer.Typer) -> None:
    incidents.command("ack")(ack)
    incidents.command("resolve")(resolve)
    incidents.command("close")(close)
