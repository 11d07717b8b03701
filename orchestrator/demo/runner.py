"""Running the demo: seed, cast, fire, follow each incident's audit stream live, approve, check.

Progress comes from each incident's timeline (the audit stream), the same facts an auditor
sees, so the demo proves the ledger tells the whole story. Every expectation that fails raises
`DemoFailed`, which the CLI turns into one line and a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console

from activities.providers.local.lab import seed_demo_lab
from orchestrator.demo.cast import ALICE, AUDITOR, SOURCE, Cast, create_cast
from orchestrator.demo.client import DemoApi, DemoFailed
from orchestrator.demo.scenarios import Scenario, scenarios
from orchestrator.domain import EventType, PhaseName
from orchestrator.runtime.command import firebreak_command
from orchestrator.settings import Settings

POLL_SECONDS = 0.5
SEND_CONCURRENCY = 5
PHASES = [p.value for p in PhaseName]


@dataclass(frozen=True)
class DemoOptions:
    settings: Settings
    interactive: bool = False
    timeout_seconds: float = 300.0


@dataclass
class IncidentReport:
    """One demo incident and its audit events, oldest first."""

    scenario: Scenario
    incident_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: EventType) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind.value]

    @property
    def alert_count(self) -> int:
        counts = [e["payload"]["alert_count"] for e in self.of_type(EventType.alert_attached)]
        return max(counts, default=0)

    @property
    def phases_completed(self) -> list[str]:
        return [e["payload"]["phase"] for e in self.of_type(EventType.phase_completed)]

    @property
    def finished(self) -> bool:
        """Resolved (its recovery done) or closed: it stays resolved for the quiet period."""
        return bool(self.of_type(EventType.incident_closed) or self.resolved)

    @property
    def resolved(self) -> bool:
        return bool(self.of_type(EventType.incident_resolved))

    def acknowledged_by(self) -> str | None:
        acks = self.of_type(EventType.incident_acknowledged)
        return str(acks[0]["actor"]["id"]) if acks else None

    @property
    def time_to_contain(self) -> float | None:
        opened = self.of_type(EventType.incident_opened)
        contained = [
            e
            for e in self.of_type(EventType.phase_completed)
            if e["payload"]["phase"] == PhaseName.containment.value
        ]
        if not opened or not contained:
            return None
        return (_when(contained[0]) - _when(opened[0])).total_seconds()

    def approvals(self) -> dict[str, list[str]]:
        """Step id -> names of who approved it (people only, not timeout rules)."""
        found: dict[str, list[str]] = {}
        for event in self.of_type(EventType.step_approved):
            if event["actor"]["role"] != "system":
                step = event["payload"]["step_id"]
                found.setdefault(step, []).append(event["actor"]["id"])
        return found


async def run_demo(options: DemoOptions, console: Console) -> list[IncidentReport]:
    """Run the four scenarios against the API at `settings.api_url`; return their reports."""
    settings = options.settings
    if not settings.keyring_path.is_file():
        raise DemoFailed(
            f"no Firebreak keys in {settings.data_dir.resolve()}: run the demo with the same "
            "FIREBREAK_DATA_DIR (and FIREBREAK_DATABASE_URL) as `firebreak up`"
        )
    say = _Printer(console)
    async with DemoApi(settings.api_url) as api:
        await api.ready()
        # Off the event loop: under `up --demo` the same loop serves the API and the worker.
        lab = await asyncio.to_thread(seed_demo_lab, settings.data_dir.resolve())
        cast = await asyncio.to_thread(create_cast, settings)
        run_id = uuid.uuid4().hex[:8]
        say(f"demo {run_id}: lab in {lab.data_dir}, principals {', '.join(cast.tokens)}")
        reports = []
        # The detector scene replays its simulated traffic: also off the loop.
        for scenario in await asyncio.to_thread(scenarios, run_id, lab):
            say(f"[{scenario.key}] {scenario.headline}")
            incident_id = await _fire(api, cast, scenario)
            say(f"[{scenario.key}] incident {incident_id}")
            reports.append(IncidentReport(scenario, incident_id))
        follow = [_follow(api, cast, report, options, say) for report in reports]
        try:
            await asyncio.wait_for(asyncio.gather(*follow), timeout=options.timeout_seconds)
        except TimeoutError:
            late = [r.scenario.key for r in reports if not r.finished]
            raise DemoFailed(
                f"incidents not through recovery after {options.timeout_seconds:.0f}s: "
                + ", ".join(late)
            ) from None
        verdict = await api.verify_audit(cast.tokens[AUDITOR])
    for report in reports:
        _check(report)
    _summary(console, reports)
    if not verdict.get("ok"):
        raise DemoFailed(
            f"audit verify failed at position {verdict.get('first_bad_position')}: "
            f"{verdict.get('problem')}"
        )
    say(f"audit verify: ok ({verdict.get('checked')} events, hash chain intact)")
    return reports


async def _fire(api: DemoApi, cast: Cast, scenario: Scenario) -> str:
    """Deliver the scenario's alerts (a burst concurrently); all must land in one incident."""
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(alert: dict[str, Any]) -> list[str]:
        async with gate:
            answer = await api.post_alert(cast.tokens[SOURCE], cast.webhook_secret, alert)
        return [str(incident) for incident in answer["incidents"]]

    answers = await asyncio.gather(*(send(alert) for alert in scenario.alerts))
    ids = {incident for incidents in answers for incident in incidents}
    if len(ids) != 1:
        raise DemoFailed(
            f"{scenario.key}: {len(scenario.alerts)} alerts with one fingerprint opened "
            f"{len(ids)} incidents, expected 1"
        )
    return ids.pop()


async def _follow(
    api: DemoApi, cast: Cast, report: IncidentReport, options: DemoOptions, say: _Printer
) -> None:
    """Print the incident's events as they are appended; answer approval requests."""
    scenario = report.scenario
    while not report.finished:
        timeline = await api.timeline(cast.tokens[AUDITOR], report.incident_id)
        for event in timeline[len(report.events) :]:
            report.events.append(event)
            if _worth_showing(event):
                say(f"[{scenario.key}] {_describe(event)}")
            await _react(api, cast, report, event, options, say)
        if not report.finished:
            await asyncio.sleep(POLL_SECONDS)


async def _react(
    api: DemoApi,
    cast: Cast,
    report: IncidentReport,
    event: dict[str, Any],
    options: DemoOptions,
    say: _Printer,
) -> None:
    payload, key = event["payload"], report.scenario.key
    if event["type"] == EventType.step_failed.value:
        raise DemoFailed(f"{key}: step {payload['step_id']} failed: {payload.get('error')}")
    if event["type"] == EventType.incident_aborted.value:
        raise DemoFailed(f"{key}: incident aborted: {payload.get('reason')}")
    if event["type"] == EventType.incident_closed.value and payload.get("outcome") != "resolved":
        raise DemoFailed(
            f"{key}: incident closed as {payload.get('outcome')}: {_plain(payload.get('error'))}"
        )
    if event["type"] == EventType.incident_opened.value and not options.interactive:
        decision_id = f"demo-{report.incident_id[-12:]}-ack"
        await api.acknowledge(cast.tokens[ALICE], report.incident_id, decision_id)
        say(f"[{key}] {ALICE} acknowledged the incident")
        return
    if event["type"] != EventType.step_requested.value or not payload.get("approvals_required"):
        return
    step = payload["step_id"]
    approvers = report.scenario.approvers.get(step)
    if not approvers:
        raise DemoFailed(f"{key}: step {step} unexpectedly waits for approval")
    for name in approvers:
        if options.interactive:
            command = _approve_command(options, cast, name, report.incident_id, step)
            say(f"[{key}] waiting for you; as {name}, run:\n  {command}")
        else:
            decision_id = f"demo-{report.incident_id[-12:]}-{step}-{name}"
            await api.approve(
                cast.tokens[name], report.incident_id, step, decision_id, "demo: evidence reviewed"
            )
            say(f"[{key}] {name} approved {step}")


def _approve_command(
    options: DemoOptions, cast: Cast, name: str, incident_id: str, step: str
) -> str:
    token_file = shlex.quote(str(cast.token_file(name)))
    return (
        f"FIREBREAK_API_URL={shlex.quote(options.settings.api_url)} "
        f'FIREBREAK_TOKEN="$(cat {token_file})" '
        f"{firebreak_command()} approve {shlex.quote(incident_id)} {shlex.quote(step)}"
    )


def _check(report: IncidentReport) -> None:
    """The outcomes each scenario promises; the first one missing fails the demo."""
    scenario = report.scenario
    if report.phases_completed[:4] != PHASES:
        raise DemoFailed(
            f"{scenario.key}: phases completed {report.phases_completed}, expected {PHASES}"
        )
    if report.alert_count != len(scenario.alerts):
        raise DemoFailed(
            f"{scenario.key}: incident counts {report.alert_count} alerts, "
            f"sent {len(scenario.alerts)}"
        )
    approvals = report.approvals()
    expected = {step: sorted(names) for step, names in scenario.approvers.items()}
    if {step: sorted(who) for step, who in approvals.items()} != expected:
        raise DemoFailed(f"{scenario.key}: approvals {approvals}, expected {expected}")
    if report.time_to_contain is None:
        raise DemoFailed(f"{scenario.key}: containment never completed")
    if not report.resolved:
        raise DemoFailed(f"{scenario.key}: the incident was not resolved")


def _summary(console: Console, reports: list[IncidentReport]) -> None:
    """Per incident: alerts, time to containment, who approved what, every action taken."""
    console.print("\nsummary", markup=False)
    for report in reports:
        contained = report.time_to_contain
        approvals = "; ".join(
            f"{step} by {' and '.join(who)}" for step, who in report.approvals().items()
        )
        console.print(
            f"  {report.scenario.key}: {report.incident_id}\n"
            f"    alerts {report.alert_count}, contained in "
            f"{'-' if contained is None else f'{contained:.1f}s'}, "
            f"approved: {approvals or 'nobody (fully automatic)'}, "
            f"acknowledged by {report.acknowledged_by() or 'nobody'}, "
            f"{'resolved' if report.resolved else 'not resolved'}",
            markup=False,
        )
        for event in report.of_type(EventType.step_succeeded):
            console.print(f"    - {_action(event)}", markup=False)
        console.print(
            f"    report: firebreak incidents report {report.incident_id} --format html "
            f"--out {report.scenario.key}.html",
            markup=False,
        )


def _action(event: dict[str, Any]) -> str:
    result = event["payload"].get("result") or {}
    summary = _plain(result.get("summary", ""))
    return f"{event['payload']['step_id']}: {summary[:160]}"


def _worth_showing(event: dict[str, Any]) -> bool:
    """Everything but the bulk of an alert storm: its first alert and every tenth."""
    if event["type"] != EventType.alert_attached.value:
        return True
    count = int(event["payload"].get("alert_count") or 0)
    return count == 1 or count % 10 == 0


def _describe(event: dict[str, Any]) -> str:
    payload = event["payload"]
    kind = event["type"]
    detail = payload.get("step_id") or payload.get("phase") or payload.get("title") or ""
    if kind == EventType.alert_attached.value:
        detail = f"alert #{payload.get('alert_count')}"
    elif kind == EventType.step_succeeded.value:
        detail += f": {(payload.get('result') or {}).get('summary', '')}"
    elif kind == EventType.incident_closed.value:
        detail = f"{payload.get('outcome')} {payload.get('error') or ''}"
    elif kind == EventType.step_requested.value and payload.get("approvals_required"):
        detail += f" needs {payload['approvals_required']} approval(s)"
    return f"{kind} {_plain(detail)}".rstrip()


def _plain(value: object) -> str:
    """Alert-derived text is attacker-controlled: no control characters reach the terminal."""
    return "".join(c if c.isprintable() else " " for c in str(value))


def _when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


class _Printer:
    """Progress lines prefixed with seconds since the demo started, printed as plain text."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started = time.monotonic()

    def __call__(self, text: str) -> None:
        elapsed = time.monotonic() - self._started
        self._console.print(f"{elapsed:6.1f}s  {text}", markup=False, highlight=False)
