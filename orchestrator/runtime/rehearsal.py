"""Rehearse a playbook: run it for one alert against a throwaway lab and say what it did.

The production engine, not a second interpreter: the real incident workflow and the real
activities on a Temporal time-skipping test server (from its wheel), over the local providers
in a temporary data dir seeded with the demo lab, with the ledger in a SQLite file there. Only
the people are scripted: each step that waits is answered as the rehearsal's decisions say
(`approve` by as many distinct responders as the policy needs, `reject`, `retry`, `skip`,
`abort`, or `timeout`: nobody answers and time skips past the deadline and escalation window,
so the step's timeout rule decides). A step nobody scripted is approved, and a failure nobody
scripted aborts the incident, so its compensations show.

What it returns is read from the incident's final state and its ledger stream: per step the
parameters as resolved (alert fields and earlier outputs filled in), the condition it found,
the approvals it asked and of whom, its outputs, and the compensations that ran.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import seed_demo_lab
from orchestrator.audit import open_event_store
from orchestrator.db import upgrade
from orchestrator.domain import (
    Alert,
    Decision,
    DecisionKind,
    Environment,
    IncidentState,
    PendingDecision,
    Playbook,
    RecordedEvent,
    Role,
)
from orchestrator.errors import InvalidInput
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.temporal.binaries import find_binary
from orchestrator.temporal.client import data_converter
from orchestrator.temporal.incidents import decide, describe, submit_alert
from orchestrator.temporal.worker import build_worker

ANSWERS = ("approve", "reject", "retry", "skip", "abort", "timeout")
"""What a rehearsal may answer a waiting step; `timeout` lets its deadline pass."""
RESPONDERS = ("rehearsal-alice", "rehearsal-bob")
"""Who approves in a rehearsal: two distinct responders, so a two-person rule can be met."""
MAX_ROUNDS = 200
"""Decisions one rehearsal may give before it calls the playbook stuck (a retry loop)."""
POLL_SECONDS = 0.05


@cache
def quiet_runtime() -> Runtime:
    """The test server is older than the SDK expects, and its core warns so on every worker
    start; a rehearsal's output is its report, so only errors of the SDK's core are printed."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


class LabSettings(Settings):
    """Settings from the rehearsal's arguments alone. The environment and the config file are
    not read: with `FIREBREAK_DATABASE_URL` or `FIREBREAK_MODELS_PROVIDER=mlflow` set for
    production, a rehearsal must still append to its own ledger and act on its own lab."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass
class StepReport:
    step_id: str
    phase: str
    action: str
    status: str
    params: dict[str, str]
    outputs: dict[str, str]
    summary: str | None = None
    error: str | None = None
    condition: dict[str, Any] | None = None
    approvals_asked: int = 0
    ask_whom: str | None = None
    escalate_to: str | None = None
    escalated: bool = False
    approved_by: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)


@dataclass
class Rehearsal:
    playbook: str
    environment: str
    outcome: str | None
    steps: list[StepReport]
    compensations: list[dict[str, Any]]
    events: list[str]

    def step(self, step_id: str) -> StepReport | None:
        return next((s for s in self.steps if s.step_id == step_id), None)


def check_answers(decisions: Mapping[str, str], playbook: Playbook) -> None:
    """Every scripted decision names a step of the playbook and a known answer."""
    ids = {s.id for ph in playbook.phases for s in ph.steps}
    for step_id, answer in decisions.items():
        if step_id not in ids:
            raise InvalidInput(
                f"decision for {step_id!r}: {playbook.id} has no such step", "decide"
            )
        if answer not in ANSWERS:
            known = "|".join(ANSWERS)
            raise InvalidInput(f"decision for {step_id!r}: {answer!r} is not {known}", "decide")


async def rehearse(
    playbook: Playbook, alert: Alert, decisions: Mapping[str, str], *, within: float = 300
) -> Rehearsal:
    """Run `playbook` for `alert` on a fresh lab and time-skipping server: the worker loads it
    from a playbooks directory of its own, as a user playbook overriding a built-in's id."""
    if alert.type not in playbook.alert_types:
        types = ", ".join(playbook.alert_types)
        raise InvalidInput(f"{playbook.id} handles {types}, not alert type {alert.type!r}", "type")
    check_answers(decisions, playbook)
    with tempfile.TemporaryDirectory(prefix="firebreak-rehearsal-") as tmp:
        root = Path(tmp)
        playbooks_dir = root / "playbooks"
        playbooks_dir.mkdir()
        doc = playbook.model_dump(mode="json", exclude={"content_hash"})
        (playbooks_dir / f"{playbook.id}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        lab = seed_demo_lab(root / "data")
        settings = LabSettings(
            data_dir=lab.data_dir,
            playbooks_dir=playbooks_dir,
            task_queue=f"rehearsal-{uuid.uuid4().hex[:8]}",
            incident_quiet_seconds=0,
        )
        upgrade(settings.db_url)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(find_binary("temporal-test-server")),
            runtime=quiet_runtime(),
        )
        async with env:
            ring = KeyRing.load_or_create(settings.keyring_path)
            config = env.client.config()
            config["data_converter"] = data_converter(ring)
            client = Client(**config)
            async with build_worker(client, settings):
                submitted = await submit_alert(client, alert, task_queue=settings.task_queue)
                answered = await asyncio.wait_for(
                    _drive(env, client, submitted.incident_id, decisions), within
                )
                final = await describe(client, submitted.incident_id)
        events = open_event_store(settings).read_stream(submitted.incident_id)
        return _report(playbook, final, events, answered)


async def _drive(
    env: WorkflowEnvironment, client: Client, incident_id: str, decisions: Mapping[str, str]
) -> dict[str, list[str]]:
    """Answer each waiting step as scripted until the incident closes; what was answered."""
    answered: dict[str, list[str]] = {}
    rounds = 0
    while True:
        state = await describe(client, incident_id)
        if state.closed_at is not None:
            return answered
        waiting = next((p for p in state.pending), None)
        if waiting is not None and waiting.reason == "triage":
            why = state.triage.reason if state.triage else "no playbook"
            raise InvalidInput(f"the playbook did not run; the incident waits in triage: {why}")
        if waiting is None:
            await asyncio.sleep(POLL_SECONDS)
            continue
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise InvalidInput(f"the rehearsal gave {MAX_ROUNDS} decisions and did not end")
        answer = _answer(waiting, decisions)
        answered.setdefault(waiting.step_id, []).append(answer)
        if answer == "timeout":
            await _let_deadline_pass(env, client, incident_id, waiting)
            continue
        await _give(client, incident_id, waiting, answer)


def _answer(waiting: PendingDecision, decisions: Mapping[str, str]) -> str:
    scripted = decisions.get(waiting.step_id)
    if waiting.reason == "failure":
        return scripted if scripted in ("retry", "skip", "abort") else "abort"
    return scripted if scripted in ("approve", "reject", "abort", "timeout") else "approve"


async def _give(client: Client, incident_id: str, waiting: PendingDecision, answer: str) -> None:
    """One decision, or for `approve` as many distinct responders as the step still needs."""
    people = [p for p in RESPONDERS if p not in waiting.approved_by]
    need = max(1, waiting.approvals_required - len(waiting.approved_by))
    for person in people[:need] if answer == "approve" else people[:1]:
        await decide(
            client,
            incident_id,
            Decision(
                decision_id=f"rehearsal-{uuid.uuid4().hex[:12]}",
                step_id=waiting.step_id,
                kind=DecisionKind(answer),
                principal=person,
                role=Role.responder,
                environments=list(Environment),
                reason="rehearsal",
            ),
        )
    await _until_moved(client, incident_id, waiting)


async def _let_deadline_pass(
    env: WorkflowEnvironment, client: Client, incident_id: str, waiting: PendingDecision
) -> None:
    """Skip time past the step's deadline, escalation included, until the step moves on."""
    for _ in range(4):
        state = await describe(client, incident_id)
        still = next((p for p in state.pending if p.step_id == waiting.step_id), None)
        if still is None or state.closed_at is not None:
            return
        if still.deadline is None:
            raise InvalidInput(f"step {waiting.step_id} waits with no deadline to let pass")
        now = await env.get_current_time()
        await env.sleep(max(timedelta(seconds=1), still.deadline - now + timedelta(seconds=1)))
        await asyncio.sleep(POLL_SECONDS * 4)


async def _until_moved(client: Client, incident_id: str, waiting: PendingDecision) -> None:
    """Wait until the step no longer waits as it did (the workflow applied the decision)."""
    for _ in range(400):
        state = await describe(client, incident_id)
        same = next((p for p in state.pending if p.step_id == waiting.step_id), None)
        if state.closed_at is not None or same is None or same != waiting:
            return
        await asyncio.sleep(POLL_SECONDS)


def _report(
    playbook: Playbook,
    final: IncidentState,
    events: list[RecordedEvent],
    answered: dict[str, list[str]],
) -> Rehearsal:
    requested = {e.payload["step_id"]: e.payload for e in events if e.type == "StepRequested"}
    escalated = {e.payload["step_id"] for e in events if e.type == "StepEscalated"}
    policies = {s.id: s.policy_for(final.environment) for ph in playbook.phases for s in ph.steps}
    steps = []
    for s in final.steps:
        asked = requested.get(s.step_id)
        steps.append(
            StepReport(
                step_id=s.step_id,
                phase=s.phase.value,
                action=s.action,
                status=s.status.value,
                params=dict(s.params),
                outputs=dict(s.result.outputs) if s.result else {},
                summary=s.result.summary if s.result else None,
                error=s.error,
                condition=s.condition.model_dump(mode="json") if s.condition else None,
                approvals_asked=int(asked["approvals_required"]) if asked else 0,
                ask_whom=f"responders in {final.environment.value}" if asked else None,
                escalate_to=policies[s.step_id].escalate_to if asked else None,
                escalated=s.step_id in escalated,
                approved_by=list(s.approved_by),
                answered=answered.get(s.step_id, []),
            )
        )
    compensations = [
        {
            "step_id": e.payload["step_id"],
            "action": e.payload["action"],
            "result": (e.payload.get("result") or {}).get("summary"),
            "error": e.payload.get("error"),
        }
        for e in events
        if e.type == "StepCompensated"
    ]
    return Rehearsal(
        playbook=final.playbook or "",
        environment=final.environment.value,
        outcome=final.outcome,
        steps=steps,
        compensations=compensations,
        events=[e.type for e in events],
    )


def render_text(report: Rehearsal) -> str:
    """The rehearsal step by step, as `firebreak playbooks test` prints it."""
    lines = [f"playbook {report.playbook} in {report.environment}"]
    for s in report.steps:
        lines.append(f"{s.phase}/{s.step_id}: {s.action} -> {s.status}")
        if s.condition is not None:
            c = s.condition
            met = "met" if c["met"] else "not met"
            lines.append(
                f"  when: {c['output']} {c['comparison']} {c['operand']!r}: "
                f"found {c['value']!r}, {met}"
            )
        for key, value in s.params.items():
            lines.append(f"  param {key} = {value!r}")
        if s.approvals_asked:
            who = (s.ask_whom or "responders") + (
                f", escalation to {s.escalate_to}" if s.escalate_to else ""
            )
            lines.append(f"  asks {s.approvals_asked} approval(s) of {who}")
            answers = ", ".join(s.answered) or "nobody"
            approved = ", ".join(s.approved_by) or "nobody"
            lines.append(f"  answered: {answers}; approved by {approved}")
            if s.escalated:
                lines.append(
                    f"  escalated to {s.escalate_to or 'the responders'}: nobody decided in time"
                )
        for key, value in s.outputs.items():
            lines.append(f"  output {key} = {value!r}")
        if s.error:
            lines.append(f"  error: {s.error}")
    for c in report.compensations:
        done = c["result"] or f"failed: {c['error']}"
        lines.append(f"compensated {c['step_id']} with {c['action']}: {done}")
    lines.append(f"outcome: {report.outcome}")
    return "\n".join(lines)
