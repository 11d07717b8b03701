"""The report as Markdown and as a printable HTML page with an SVG timeline.

Alert-derived text (titles, summaries, reasons, errors) is attacker-controlled: in HTML it goes
through the console's autoescaping templates only; in Markdown every character that Markdown or
HTML would interpret is escaped and line breaks are flattened, so a pasted report shows the text
as it was sent and never renders markup or links from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files

from orchestrator.audit import Verdict, VerificationReport
from orchestrator.console.formatting import duration, timestamp
from orchestrator.console.rendering import templates
from orchestrator.reports.models import IncidentReport

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
SVG_WIDTH = 900
ROW_HEIGHT = 26
LABEL_WIDTH = 120


def md(value: object) -> str:
    """Text as Markdown data: HTML entities for `& < >`, backslashes before Markdown's
    punctuation, one line."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def to_markdown(report: IncidentReport) -> str:
    r = report
    lines = [
        f"# Post-incident report: {md(r.title)}",
        "",
        md(r.summary),
        "",
        *_table(
            ["field", "value"],
            [
                ["incident", r.incident_id],
                ["type", r.type],
                ["severity", r.severity],
                ["environment", r.environment],
                ["status", r.status],
                ["outcome", r.outcome or ""],
                ["playbook", f"{r.playbook or ''} {r.playbook_hash or ''}".strip()],
                ["opened", timestamp(r.opened_at)],
                ["closed", timestamp(r.closed_at)],
            ],
        ),
        "## Times against targets",
        "",
        *_table(
            ["leg", "took", "target", "breached"],
            [
                [leg.name, duration(leg.seconds), duration(leg.target_seconds), _yes(leg.breached)]
                for leg in r.legs
            ],
        ),
        "## Phases",
        "",
        *_table(
            ["phase", "started", "completed", "took"],
            [
                [p.phase, timestamp(p.started_at), timestamp(p.completed_at), duration(p.seconds)]
                for p in r.phases
            ],
        ),
        "## Alerts",
        "",
        *_table(
            ["count", "resolved", "first seen", "last seen", "sources", "severities"],
            [
                [
                    r.alerts.count,
                    r.alerts.resolved,
                    timestamp(r.alerts.first_seen),
                    timestamp(r.alerts.last_seen),
                    ", ".join(r.alerts.sources),
                    ", ".join(f"{k}: {v}" for k, v in r.alerts.severities.items()),
                ]
            ],
        ),
        "## Actions",
        "",
        *_table(
            ["phase", "step", "action", "status", "attempts", "result"],
            [
                [a.phase, a.step_id, a.action, a.status, a.attempts, a.error or a.summary]
                for a in r.actions
            ],
        ),
        "## Decisions",
        "",
        *_table(
            ["when", "step", "decision", "who", "role", "why"],
            [
                [timestamp(d.at), d.step_id, d.decision, d.principal, d.role, d.reason or ""]
                for d in r.decisions
            ],
        ),
        "## Compensations",
        "",
        *_table(
            ["when", "step", "inverse", "result"],
            [
                [timestamp(c.at), c.step_id, c.action, ("ok: " if c.ok else "failed: ") + c.summary]
                for c in r.compensations
            ],
        ),
        "## Evidence",
        "",
        *_table(
            ["when", "step", "sha256"],
            [[timestamp(e.at), e.step_id, e.digest] for e in r.evidence],
        ),
        "## Ledger proof",
        "",
        *[md(line) for line in ledger_lines(r)],
        "",
        "## Timeline",
        "",
        *_table(
            ["#", "when", "event", "actor", "details"],
            [[t.position, timestamp(t.at), t.type, t.actor, t.text] for t in r.timeline],
        ),
        f"_Generated {md(timestamp(r.generated_at))} by Firebreak._",
        "",
    ]
    return "\n".join(lines)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _verification_line(check: VerificationReport) -> str:
    if check.verdict is Verdict.tampered:
        return f"Verification FAILED at position {check.first_bad_position}: {check.problem}."
    counted = (
        f"{check.checked} events and {check.checkpoints_checked} checkpoints checked;"
        f" head {check.head_position} {check.head_hash}"
    )
    if check.ok:
        return f"Verification: ok ({counted})."
    return f"Verification: chain intact, checkpoints unverified ({counted}): {check.problem}."


def ledger_lines(report: IncidentReport) -> list[str]:
    """What the ledger says about the incident's events, in sentences."""
    proof = report.ledger
    check = proof.verification
    lines = [
        f"{len(proof.events)} events at positions {proof.first_position} to {proof.last_position}.",
        _verification_line(check),
    ]
    if proof.checkpoint is not None:
        point = proof.checkpoint
        lines.append(
            f"Covered by the checkpoint at position {point.position} (head {point.head_hash}), "
            f"signed {timestamp(point.created_at)} by key {point.key_fingerprint}."
        )
    else:
        latest = proof.latest_checkpoint_position
        lines.append(
            "No signed checkpoint covers these events yet"
            + (f" (the latest is at position {latest})" if latest is not None else "")
            + "; `firebreak audit checkpoint` signs one."
        )
    return lines


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    y: float
    title: str


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    kind: str
    title: str


@dataclass(frozen=True)
class Timeline:
    """The SVG's geometry, computed here so the template only draws."""

    width: int
    height: int
    bars: list[Bar]
    marks: list[Mark]
    start: str
    end: str


def timeline(report: IncidentReport) -> Timeline:
    """One row per phase (a bar from start to completion), a row of alert arrivals (first and
    last seen) and a row of decisions, on one time axis from the opening to the close."""
    start = report.opened_at
    end = report.closed_at or max((t.at for t in report.timeline), default=start)
    span = max((end - start).total_seconds(), 1e-3)
    plot = SVG_WIDTH - LABEL_WIDTH - 10

    def x(moment: datetime | None) -> float:
        moment = moment or end
        return LABEL_WIDTH + plot * max(0.0, (moment - start).total_seconds()) / span

    bars = []
    for row, phase in enumerate(report.phases):
        left = x(phase.started_at)
        bars.append(
            Bar(
                label=phase.phase,
                x=left,
                width=max(2.0, x(phase.completed_at) - left),
                y=10 + row * ROW_HEIGHT,
                title=f"{phase.phase}: {duration(phase.seconds)}",
            )
        )
    alerts_y = 10 + len(report.phases) * ROW_HEIGHT + ROW_HEIGHT / 2
    decisions_y = alerts_y + ROW_HEIGHT
    marks = [
        Mark(x=x(moment), y=alerts_y, kind="alert", title=f"{label}: {timestamp(moment)}")
        for label, moment in (
            ("first alert", report.alerts.first_seen),
            ("last alert", report.alerts.last_seen),
        )
        if moment is not None
    ]
    marks += [
        Mark(
            x=x(d.at),
            y=decisions_y,
            kind="reject" if d.decision in ("reject", "abort") else "decision",
            title=f"{d.decision} {d.step_id} by {d.principal} at {timestamp(d.at)}",
        )
        for d in report.decisions
    ]
    return Timeline(
        width=SVG_WIDTH,
        height=int(decisions_y + ROW_HEIGHT),
        bars=bars,
        marks=marks,
        start=timestamp(start),
        end=timestamp(end),
    )


def stylesheet() -> str:
    return files("orchestrator.console").joinpath("static/report.css").read_text()


def to_html(report: IncidentReport, *, standalone: bool) -> str:
    """The printable page. `standalone` (a downloaded file) carries its stylesheet inline; the
    console's page links it, as its content security policy allows no inline style."""
    return templates.get_template("report.html").render(
        report=report,
        picture=timeline(report),
        ledger=ledger_lines(report),
        standalone=standalone,
        css=stylesheet() if standalone else "",
    )
