"""`firebreak approvals`, `approve`, `reject`, `decide`: answering steps that wait for people.

A decision is posted to the API, which passes it to the incident workflow's validated update.
The answer is one line: applied (the step's new state), pending (no worker runs yet; exit 0,
`firebreak decision` follows it), or a refusal (wrong role, self-approval, step not waiting …)
with exit 1.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.cli.client import api_request
from orchestrator.cli.ids import IncidentArg, resolve_incident
from orchestrator.cli.incidents import JsonFlag, console, pending_table, plain, print_json
from orchestrator.domain import LIFECYCLE_STEP, DecisionKind

# Required where no default is given (reject), optional elsewhere.
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why; recorded in the audit log.")]


def approvals(as_json: JsonFlag = False) -> None:
    """Steps waiting for a decision that you may make, oldest first."""
    page = api_request("GET", "/v1/approvals", params={"mine": "pending"})
    if as_json:
        print_json(page)
        return
    if not page["items"]:
        console().print("nothing waits for your decision", markup=False)
        return
    console().print(pending_table(page["items"], with_incident=True), markup=False)


Playbook = Annotated[
    str | None,
    typer.Option("--playbook", "-p", help="assign: the playbook to run (see `playbooks list`)."),
]
Resource = Annotated[
    list[str] | None,
    typer.Option(
        "--resource",
        help="assign: a resource the alert did not name, as KIND=VALUE (api_key, model, "
        "model_version, dataset, dataset_version, agent, tool); repeatable.",
    ),
]


def _resources(pairs: list[str]) -> dict[str, str]:
    named: dict[str, str] = {}
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        if not sep or not kind.strip() or not value.strip():
            raise typer.BadParameter(f"{pair!r} is not KIND=VALUE", param_hint="--resource")
        named[kind.strip()] = value.strip()
    return named


DecisionId = Annotated[
    str | None,
    typer.Option(
        "--decision-id",
        help="Idempotency key: sending a decision again with the same id never applies it "
        "twice (the API makes one up when absent and prints it).",
    ),
]


def _decide(
    incident_id: str,
    step_id: str,
    kind: DecisionKind,
    reason: str,
    as_json: bool,
    decision_id: str | None = None,
    **extra: object,
) -> None:
    incident_id = resolve_incident(incident_id)
    body: dict[str, object] = {"decision": kind.value, "reason": reason, **extra}
    if decision_id:
        body["decision_id"] = decision_id
    answer = api_request(
        "POST", f"/v1/incidents/{incident_id}/steps/{step_id}/decisions", json=body
    )
    print_answer(answer, kind.value, incident_id, step_id, as_json)


def print_answer(
    answer: dict[str, Any], kind: str, incident_id: str, step_id: str, as_json: bool
) -> None:
    """One line: applied with the step's new state (or, for a decision on the incident itself,
    its new status), or pending with how to follow it."""
    if as_json:
        print_json(answer)
        return
    on_incident = step_id == LIFECYCLE_STEP
    where = plain(incident_id) if on_incident else f"step {plain(step_id)} of {plain(incident_id)}"
    decision_id = plain(answer["decision_id"])
    if answer.get("state") == "pending":
        line = (
            f"{kind} pending on {where}: accepted, not yet applied (no worker is running); "
            f"follow with `firebreak decision {plain(incident_id)} {plain(step_id)} "
            f"{decision_id}` (decision {decision_id})"
        )
    elif on_incident:
        status = plain(str(answer.get("incident_status") or ""))
        line = f"{plain(answer['kind'])} applied to {where}: incident {status}"
        line += f" (decision {decision_id})"
    else:
        status = plain(str(answer["step_status"]))
        required = answer.get("approvals_required") or 0
        quorum = f", {len(answer.get('approved_by', []))}/{required} approvals" if required else ""
        line = f"{plain(answer['kind'])} applied to {where}: step {status}{quorum}"
        line += f" (decision {decision_id})"
    console().print(line, markup=False, soft_wrap=True)


def decision(
    incident_id: IncidentArg, step_id: str, decision_id: str, as_json: JsonFlag = False
) -> None:
    """Where a decision sent before stands: applied, or pending while no worker runs."""
    incident_id = resolve_incident(incident_id)
    answer = api_request(
        "GET", f"/v1/incidents/{incident_id}/steps/{step_id}/decisions/{decision_id}"
    )
    print_answer(answer, str(answer.get("kind") or "decision"), incident_id, step_id, as_json)


def approve(
    incident_id: IncidentArg, step_id: str, reason: Reason = "", as_json: JsonFlag = False
) -> None:
    """Approve a step that waits for approval."""
    _decide(incident_id, step_id, DecisionKind.approve, reason, as_json)


def reject(
    incident_id: IncidentArg, step_id: str, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Reject a step; a reason is required."""
    _decide(incident_id, step_id, DecisionKind.reject, reason, as_json)


def decide(
    incident_id: IncidentArg,
    step_id: str,
    kind: DecisionKind,
    reason: Reason = "",
    playbook: Playbook = None,
    resource: Resource = None,
    decision_id: DecisionId = None,
    as_json: JsonFlag = False,
) -> None:
    """Any decision: approve, reject, retry, skip or abort a step (reject and abort need
    --reason); for an incident in triage (step `triage`), `assign --playbook ID` or
    `close --reason TEXT`. `--decision-id` sends a pending decision again, safely."""
    extra: dict[str, object] = {}
    if playbook is not None:
        extra["playbook"] = playbook
    if resource:
        extra["resources"] = _resources(resource)
    _decide(incident_id, step_id, kind, reason, as_json, decision_id, **extra)
