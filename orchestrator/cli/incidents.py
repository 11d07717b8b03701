"""`firebreak incidents list|show|timeline|report|merge`: the responder's view of incidents over
HTTP.

`ack`, `resolve` and `close` (`orchestrator.cli.lifecycle`) join this group.

Tables are for people; `--json` prints the API's JSON unchanged for scripts. Alert-derived text
is attacker-controlled, so it is printed with rich markup disabled (never interpreted).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli.client import api_request
from orchestrator.cli.ids import IncidentArg, resolve_incident, short_ids
from orchestrator.errors import InvalidInput
from orchestrator.reports.formats import ReportFormat

incidents_app = typer.Typer(help="List and inspect incidents.", no_args_is_help=True)


def console() -> Console:
    """Made per call, so the terminal width (and COLUMNS) is read when printing."""
    return Console(highlight=False)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def plain(value: object) -> str:
    """Text as data: no rich markup, no control characters that could move the cursor."""
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else " " for c in text)


def short_time(value: str | None) -> str:
    return "" if not value else value.replace("T", " ")[:19]


def new_table(*columns: str, title: str | None = None) -> Table:
    """A table whose cells wrap (fold) in a narrow terminal instead of being cut with `…`."""
    table = Table(title=title, title_justify="left", highlight=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def keep_whole(table: Table, *names: str) -> None:
    """Columns a narrow terminal must never cut (ids to paste into the next command): the
    other columns wrap instead."""
    for column in table.columns:
        if column.header in names:
            column.no_wrap = True
            column.overflow = "ignore"


def row(*values: object) -> list[str]:
    return [plain(v) for v in values]


def countdown(due: dict[str, Any] | None, now: datetime | None = None) -> str:
    """An SLA leg's countdown: `resolve in 1h02m`, `ack overdue 5m`; empty without one."""
    if not due:
        return ""
    left = (datetime.fromisoformat(due["due_at"]) - (now or datetime.now(UTC))).total_seconds()
    minutes = int(abs(left) // 60)
    span = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    return f"{due['leg']} {'in' if left >= 0 else 'overdue'} {span}"


def sla_cell(item: dict[str, Any]) -> str:
    breached = item.get("sla_breached") or []
    parts = [countdown(item.get("sla_next"))]
    if breached:
        parts.append(f"breached: {', '.join(breached)}")
    return " · ".join(p for p in parts if p)


@incidents_app.command("list")
def list_incidents(
    status: Annotated[
        str | None,
        typer.Option(help="open, contained, resolved, closed, aborted (older: active, …)"),
    ] = None,
    type: Annotated[
        str | None, typer.Option("--type", help="Incident type, e.g. prompt_injection")
    ] = None,
    severity: Annotated[str | None, typer.Option()] = None,
    environment: Annotated[str | None, typer.Option("--env")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Incidents you may see, newest first."""
    params = {
        "status": status,
        "type": type,
        "severity": severity,
        "environment": environment,
        "limit": limit,
        "cursor": cursor,
    }
    page = api_request("GET", "/v1/incidents", params={k: v for k, v in params.items() if v})
    if as_json:
        print_json(page)
        return
    table = new_table(
        "ID", "STATUS", "SEV", "ENV", "TYPE", "PHASE", "ALERTS", "OPENED", "SLA", "TITLE"
    )
    keep_whole(table, "ID")
    shorts = short_ids(item["id"] for item in page["items"])
    for item in page["items"]:
        table.add_row(
            *row(
                shorts[item["id"]],
                item["status"],
                item["severity"],
                item["environment"],
                item["type"],
                item["phase"] or "",
                item["alert_count"],
                short_time(item["opened_at"]),
                sla_cell(item),
                item["title"],
            )
        )
    console().print(table, markup=False)
    if page.get("next_cursor"):
        console().print(f"more: --cursor {page['next_cursor']}", markup=False)


@incidents_app.command("show")
def show(incident_id: IncidentArg, as_json: JsonFlag = False) -> None:
    """One incident: phases, pending decisions, and the running workflow's steps."""
    incident = api_request("GET", f"/v1/incidents/{resolve_incident(incident_id)}")
    if as_json:
        print_json(incident)
        return
    facts = new_table("FIELD", "VALUE", title=f"incident {plain(incident['id'])}")
    for key in ("status", "type", "severity", "environment", "phase", "title", "playbook"):
        facts.add_row(*row(key, incident.get(key) or ""))
    facts.add_row(
        *row("alerts", f"{incident['alert_count']} ({incident['resolved_alert_count']} resolved)")
    )
    facts.add_row(*row("opened", short_time(incident["opened_at"])))
    if incident.get("acknowledged_at"):
        acknowledged = f"{short_time(incident['acknowledged_at'])} by {incident['acknowledged_by']}"
        facts.add_row(*row("acknowledged", acknowledged))
    facts.add_row(*row("resolved", short_time(incident.get("resolved_at"))))
    facts.add_row(*row("closed", short_time(incident["closed_at"])))
    for leg in ("acknowledge", "contain", "resolve"):
        seconds = incident.get(f"time_to_{leg}_seconds")
        if seconds is not None:
            facts.add_row(*row(f"time to {leg}", f"{seconds:.1f}s"))
    if incident.get("sla"):
        facts.add_row(*row("sla", sla_cell(incident) or "every leg met"))
    console().print(facts, markup=False)
    if incident["phases"]:
        phases = new_table("PHASE", "STARTED", "COMPLETED", title="phases")
        for name, times in incident["phases"].items():
            phases.add_row(
                *row(
                    name, short_time(times.get("started_at")), short_time(times.get("completed_at"))
                )
            )
        console().print(phases, markup=False)
    if incident["pending"]:
        console().print(pending_table(incident["pending"], with_incident=False), markup=False)
    live = incident.get("live") or {}
    if live.get("merged_into"):
        console().print(plain(f"merged into {live['merged_into']}"), markup=False)
    joined = new_table("ALERT OR INCIDENT", "TYPE", "WHY", "WHEN", title="joined")
    for alert in live.get("correlated_alerts") or []:
        why = f"{alert['kind']} {alert['value']} (rule {alert['rule']})"
        joined.add_row(
            *row(alert["alert_id"], alert["type"], why, short_time(alert["attached_at"]))
        )
    for merged in live.get("merged_from") or []:
        why = f"merged by {merged['merged_by']}: {merged['reason']}"
        count = f"{merged['alert_count']} alert(s)"
        joined.add_row(*row(merged["incident_id"], count, why, short_time(merged["merged_at"])))
    if joined.row_count:
        console().print(joined, markup=False)


def pending_table(items: list[dict[str, Any]], *, with_incident: bool) -> Table:
    columns = ["INCIDENT"] if with_incident else []
    table = new_table(
        *columns,
        "STEP",
        "ACTION",
        "WAITING FOR",
        "APPROVED BY",
        "REQUESTED",
        "DEADLINE",
        *(["INCIDENT SLA"] if with_incident else []),
        title="waiting for a decision",
    )
    keep_whole(table, "INCIDENT", "STEP")
    shorts = short_ids(item["incident_id"] for item in items) if with_incident else {}
    for item in items:
        lead = [shorts[item["incident_id"]]] if with_incident else []
        needed = {
            "approval": f"{item['approvals_required']} approval(s)",
            "triage": "assign a playbook / close",
        }.get(item["reason"], "retry/skip/abort")
        table.add_row(
            *row(
                *lead,
                item["step_id"],
                item.get("action") or "",
                needed,
                ", ".join(item["approved_by"]),
                short_time(item["requested_at"]),
                short_time(item.get("deadline")),
                *([countdown(item.get("incident_sla"))] if with_incident else []),
            )
        )
    return table


@incidents_app.command("timeline")
def timeline(incident_id: IncidentArg, as_json: JsonFlag = False) -> None:
    """The incident's audit stream, oldest first."""
    incident_id = resolve_incident(incident_id)
    events = api_request("GET", f"/v1/incidents/{incident_id}/timeline")
    if as_json:
        print_json(events)
        return
    table = new_table(
        "#", "TIME", "EVENT", "ACTOR", "DETAILS", title=f"timeline {plain(incident_id)}"
    )
    for event in events["items"]:
        details = ", ".join(
            f"{k}={v}"
            for k, v in event["payload"].items()
            if k in TIMELINE_FIELDS and v is not None
        )
        table.add_row(
            *row(
                event["version"],
                short_time(event["occurred_at"]),
                event["type"],
                event["actor"]["id"],
                details,
            )
        )
    console().print(table, markup=False)


TIMELINE_FIELDS = (
    "phase",
    "step_id",
    "action",
    "principal",
    "reason",
    "status",
    "alert_count",
    "outcome",
    "summary",
    "error",
    "merged_into",
    "merged_from",
    "leg",
    "target_seconds",
    "elapsed_seconds",
)


@incidents_app.command("report")
def report(
    incident_id: IncidentArg,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="md (Markdown), html (printable) or json")
    ] = ReportFormat.md,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write to this file instead of standard output.", dir_okay=False
        ),
    ] = None,
) -> None:
    """The post-incident report: summary, timeline, phase durations, times against the SLA,
    alerts, actions, decisions, compensations, evidence and the ledger proof."""
    path = f"/v1/incidents/{resolve_incident(incident_id)}/report"
    body = api_request("GET", path, params={"format": format})
    text = json.dumps(body, indent=2, sort_keys=True) if format is ReportFormat.json else body
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror}", field="--out") from None
    typer.echo(f"report written to {out}")


@incidents_app.command("merge")
def merge(
    incident_id: Annotated[
        str,
        typer.Argument(
            metavar="INCIDENT",
            help="The incident that closes (merged away): its id or a unique prefix.",
        ),
    ],
    into: Annotated[
        str, typer.Option("--into", help="The incident that survives: its id or a unique prefix.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why they are one; recorded in the audit log.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Merge an incident into another: its alerts move there, and it closes naming it."""
    merged, survivor = resolve_incident(incident_id), resolve_incident(into)
    answer = api_request(
        "POST", f"/v1/incidents/{merged}/merge", json={"into": survivor, "reason": reason}
    )
    if as_json:
        print_json(answer)
        return
    console().print(
        plain(
            f"merged {answer['incident_id']} into {answer['into']}: "
            f"{answer['alerts_moved']} alert(s) moved, {answer['alert_count']} in the survivor"
        ),
        markup=False,
    )
