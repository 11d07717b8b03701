"""The merge validators' rules (`workflows.merging.check_merge`), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError

from orchestrator.domain import (
    Environment,
    IncidentState,
    IncidentStatus,
    MergedIncident,
    Role,
    Severity,
)
from tests.support.incidents import merge_request
from workflows.merging import check_merge

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def state(incident_id: str, **kw: object) -> IncidentState:
    fields: dict[str, object] = {
        "incident_id": incident_id,
        "workflow_id": incident_id.split(".")[0],
        "status": IncidentStatus.active,
        "type": "prompt_injection",
        "severity": Severity.high,
        "environment": Environment.prod,
        "title": "t",
        "correlation_key": "k",
        "opened_at": NOW,
    }
    return IncidentState.model_validate({**fields, **kw})


def refusal(request_kw: dict[str, object], st: IncidentState, *, survivor: bool) -> tuple[str, str]:
    request = merge_request("b.1", "a.1", **request_kw)
    with pytest.raises(ApplicationError) as caught:
        check_merge(request, st, survivor=survivor)
    return caught.value.type or "", str(caught.value)


def test_a_responder_in_scope_may_merge_either_side() -> None:
    check_merge(merge_request("b.1", "a.1"), state("b.1"), survivor=False)
    check_merge(merge_request("b.1", "a.1"), state("a.1"), survivor=True)


@pytest.mark.parametrize("role", [Role.auditor, Role.source])
def test_roles_that_do_not_decide_may_not_merge(role: Role) -> None:
    kind, message = refusal({"role": role}, state("b.1"), survivor=False)
    assert kind == "Forbidden" and f"role {role.value} may not merge incidents" in message


def test_scope_is_checked_on_both_sides() -> None:
    out_of_scope = {"environments": [Environment.dev]}
    for incident, survivor in (("b.1", False), ("a.1", True)):
        kind, message = refusal(out_of_scope, state(incident), survivor=survivor)
        assert kind == "Forbidden" and "prod environment" in message


def test_an_incident_into_itself_is_refused() -> None:
    request = merge_request("a.1", "a.1")
    with pytest.raises(ApplicationError, match="cannot be merged into itself"):
        check_merge(request, state("a.1"), survivor=False)


def test_closed_incidents_are_refused_with_their_outcome() -> None:
    closed = state("a.1", closed_at=NOW, outcome="resolved", status=IncidentStatus.closed)
    kind, message = refusal({}, closed, survivor=True)
    assert (
        kind == "Conflict" and "incident a.1 is closed (resolved); cannot merge into it" in message
    )
    kind, message = refusal({}, state("b.1", closed_at=NOW, outcome="aborted"), survivor=False)
    assert kind == "Conflict" and "cannot merge it" in message


def test_a_merge_sent_to_the_wrong_incident_is_refused() -> None:
    kind, message = refusal({}, state("c.1"), survivor=False)
    assert kind == "Conflict" and "not about incident c.1" in message


def test_merging_elsewhere_after_a_merge_is_refused_but_a_repeat_is_answered() -> None:
    merged = state("b.1", merged_into="a.1")
    check_merge(merge_request("b.1", "a.1"), merged, survivor=False)
    request = merge_request("b.1", "z.1")
    with pytest.raises(ApplicationError, match=r"already merged into a\.1"):
        check_merge(request, merged, survivor=False)
    absorbed = MergedIncident(
        incident_id="b.1", alert_count=3, reason="r", merged_by="carol", merged_at=NOW
    )
    closed_survivor = state("a.1", merged_from=[absorbed], closed_at=NOW, outcome="resolved")
    check_merge(merge_request("b.1", "a.1"), closed_survivor, survivor=True)


def test_an_incident_merged_away_takes_no_merge_in() -> None:
    leaving = state("a.1", merged_into="z.1")
    with pytest.raises(ApplicationError, match=r"incident a\.1 is already merged into z\.1"):
        check_merge(merge_request("b.1", "a.1"), leaving, survivor=True)
