"""Re-record the histories the replay test checks: `python -m tests.workflows.record_histories
[SCENARIO ...]` (all scenarios when none is named).

Run it after a *deliberate* change to the incident workflow's history shape, and keep the old
files beside the new ones while incidents started by the old code may still be running. Each
scenario runs against a fresh dev server and lab; payloads are encrypted with the test-only key
ring in `histories/keyring.json`, which the replay test uses to decode them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo, seed_demo_lab
from orchestrator.audit import open_event_store
from orchestrator.db import upgrade
from orchestrator.domain import (
    LIFECYCLE_STEP,
    DecisionKind,
    Environment,
    IncidentState,
    IncidentStatus,
    Resources,
)
from orchestrator.settings import Settings
from orchestrator.temporal.binaries import find_binary
from orchestrator.temporal.incidents import decide, describe, merge, submit_alert
from orchestrator.temporal.worker import build_worker
from tests.support.events import new_event
from tests.support.incidents import (
    decision,
    encrypted_client,
    eventually,
    final_state,
    make_alert,
    merge_request,
    wait_for_pending,
)
from tests.workflows.test_failures import BrokenQuarantine, with_broken_quarantine
from workflows.checkpoints import LedgerCheckpointWorkflow

HISTORIES = Path(__file__).parent / "histories"
KEYRING = HISTORIES / "keyring.json"

Scenario = Callable[[Client, Settings, LabInfo], Awaitable[str]]


async def dev_happy_path(client: Client, settings: Settings, lab: LabInfo) -> str:
    alert = make_alert(lab, "data_poisoning")
    await submit_alert(client, alert, task_queue=settings.task_queue)
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def _two_approve_then_reject(client: Client, inc: str, workflow_id: str) -> str:
    """The model-inversion incident's rollback approved by two people, its restore rejected."""
    await decide(client, inc, decision("rollback-model"))
    await decide(client, inc, decision("rollback-model", principal="bob"))
    await wait_for_pending(client, inc, "restore-caller-key")
    await decide(client, inc, decision("restore-caller-key", kind=DecisionKind.reject))
    await final_state(client, workflow_id)
    return workflow_id


async def prod_approvals_and_storm(client: Client, settings: Settings, lab: LabInfo) -> str:
    alert = make_alert(lab, "model_inversion", Environment.prod)
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    for _ in range(20):
        more = make_alert(lab, "model_inversion", Environment.prod, fingerprint=alert.fingerprint)
        await submit_alert(client, more, task_queue=settings.task_queue)
    await wait_for_pending(client, inc, "rollback-model")
    return await _two_approve_then_reject(client, inc, alert.workflow_id)


async def failure_retry_then_abort(client: Client, settings: Settings, lab: LabInfo) -> str:
    alert = make_alert(lab, "data_poisoning")
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    await wait_for_pending(client, inc, "quarantine-dataset")
    await decide(client, inc, decision("quarantine-dataset", kind=DecisionKind.retry))
    await wait_for_pending(client, inc, "quarantine-dataset")
    await decide(client, inc, decision("quarantine-dataset", kind=DecisionKind.abort))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def local_action_failure_skipped(client: Client, settings: Settings, lab: LabInfo) -> str:
    """A failing local action (revoking a key that does not exist) asks people, then moves on."""
    resources = Resources(
        model=lab.model, api_key="key-missing", agent=lab.agent, tool=lab.tools[-1]
    )
    alert = make_alert(lab, "prompt_injection", resources=resources)
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    for step in ("revoke-caller-key", "caller-usage"):
        await wait_for_pending(client, inc, step)
        await decide(client, inc, decision(step, kind=DecisionKind.skip))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def duplicates_while_waiting(client: Client, settings: Settings, lab: LabInfo) -> str:
    """A stream of duplicates reaches an incident waiting for two approvals: batched appends."""
    alert = make_alert(lab, "model_inversion", Environment.prod)
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    await wait_for_pending(client, inc, "rollback-model")
    for _ in range(12):
        more = make_alert(lab, "model_inversion", Environment.prod, fingerprint=alert.fingerprint)
        await submit_alert(client, more, task_queue=settings.task_queue)
        await asyncio.sleep(0.2)
    return await _two_approve_then_reject(client, inc, alert.workflow_id)


async def triage_assigned(client: Client, settings: Settings, lab: LabInfo) -> str:
    """An alert whose playbook lacks a parameter waits in triage; an assignment that does not
    resolve is recorded, then one naming the missing resource runs the playbook."""
    alert = make_alert(lab, "api_key_abuse", resources=Resources(model=lab.model))
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    await wait_for_pending(client, inc, "triage")
    await decide(client, inc, decision("triage", kind=DecisionKind.assign, playbook="nope"))
    await wait_for_pending(client, inc, "triage")
    resources = Resources(api_key=lab.ingest_key)
    assign = decision("triage", kind=DecisionKind.assign, playbook="api-key-abuse")
    await decide(client, inc, assign.model_copy(update={"resources": resources}))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def triage_closed(client: Client, settings: Settings, lab: LabInfo) -> str:
    """An alert of a type no playbook handles, and its duplicates, closed from triage."""
    alert = make_alert(lab, "crypto_mining")
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    for _ in range(5):
        more = make_alert(lab, "crypto_mining", fingerprint=alert.fingerprint)
        await submit_alert(client, more, task_queue=settings.task_queue)
    await wait_for_pending(client, inc, "triage")
    await decide(client, inc, decision("triage", kind=DecisionKind.close, reason="known miner"))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def outputs_promoted_in_prod(client: Client, settings: Settings, lab: LabInfo) -> str:
    """Data poisoning in prod: the retrained version's outputs feed its evaluation and its
    promotion (`when:` met, two approvals); the failure report's condition is not met."""
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    for step, people in (
        ("quarantine-dataset", ("alice",)),
        ("rollback-model", ("alice", "bob")),
        ("promote-retrained", ("alice", "bob")),
        ("restore-ingest-key", ("carol",)),
    ):
        await wait_for_pending(client, inc, step, timeout=60)
        for person in people:
            await decide(client, inc, decision(step, principal=person))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def _merge_two(client: Client, settings: Settings, lab: LabInfo) -> tuple[str, str]:
    """Two prod incidents waiting for approvals, the later merged into the earlier, which then
    runs on. (survivor workflow id, merged workflow id)"""
    first = make_alert(lab, "model_inversion", Environment.prod)
    survivor = (await submit_alert(client, first, task_queue=settings.task_queue)).incident_id
    later = make_alert(lab, "model_inversion", Environment.prod)
    merged = (await submit_alert(client, later, task_queue=settings.task_queue)).incident_id
    await wait_for_pending(client, survivor, "rollback-model")
    await wait_for_pending(client, merged, "rollback-model")
    await merge(client, merge_request(merged, survivor))
    await final_state(client, later.workflow_id)
    await decide(client, survivor, decision("rollback-model"))
    await decide(client, survivor, decision("rollback-model", principal="bob"))

    async def restore_asked_or_closed() -> IncidentState | None:
        state = await describe(client, survivor)
        done = state.closed_at is not None or any(
            p.step_id == "restore-caller-key" for p in state.pending
        )
        return state if done else None

    state = await eventually(restore_asked_or_closed, timeout=60)
    if state.closed_at is None:  # the survivor revoked the key first (else the merged one did)
        await decide(client, survivor, decision("restore-caller-key", kind=DecisionKind.reject))
    await final_state(client, first.workflow_id)
    return first.workflow_id, later.workflow_id


async def merged_away(client: Client, settings: Settings, lab: LabInfo) -> str:
    """The history of an incident merged into another while it waited for an approval."""
    return (await _merge_two(client, settings, lab))[1]


async def merge_survivor(client: Client, settings: Settings, lab: LabInfo) -> str:
    """The history of the incident another was merged into, which then ran to its end."""
    return (await _merge_two(client, settings, lab))[0]


async def _until(client: Client, incident_id: str, status: IncidentStatus) -> None:
    async def check() -> bool:
        return (await describe(client, incident_id)).status is status

    await eventually(check, timeout=60)


async def lifecycle_ack_resolve_close(client: Client, settings: Settings, lab: LabInfo) -> str:
    """A prod incident acknowledged, resolved by a responder while a step waits for approval
    (the rest is skipped), then closed by another before its quiet period ends."""
    alert = make_alert(lab, "model_inversion", Environment.prod)
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    await wait_for_pending(client, inc, "rollback-model")
    await decide(client, inc, decision(LIFECYCLE_STEP, kind=DecisionKind.acknowledge))
    resolve = decision(LIFECYCLE_STEP, kind=DecisionKind.resolve, reason="contained by hand")
    await decide(client, inc, resolve)
    await _until(client, inc, IncidentStatus.resolved)
    close = decision(LIFECYCLE_STEP, kind=DecisionKind.close, principal="bob", reason="done")
    await decide(client, inc, close)
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def lifecycle_reopened(client: Client, settings: Settings, lab: LabInfo) -> str:
    """An incident resolved by its playbook, reopened by a late alert, resolved again by a
    responder and closed."""
    alert = make_alert(lab, "api_key_abuse")
    inc = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
    await _until(client, inc, IncidentStatus.resolved)
    late = make_alert(lab, "api_key_abuse", fingerprint=alert.fingerprint)
    await submit_alert(client, late, task_queue=settings.task_queue)
    await _until(client, inc, IncidentStatus.open)
    resolve = decision(LIFECYCLE_STEP, kind=DecisionKind.resolve, reason="same key, revoked")
    await decide(client, inc, resolve)
    await _until(client, inc, IncidentStatus.resolved)
    await decide(client, inc, decision(LIFECYCLE_STEP, kind=DecisionKind.close, reason="done"))
    await final_state(client, alert.workflow_id)
    return alert.workflow_id


async def ledger_checkpoint(client: Client, settings: Settings, lab: LabInfo) -> str:
    """The scheduled checkpoint's workflow, run once as its schedule would start it."""
    store = open_event_store(settings)
    store.append("inc-recorded", [new_event()])
    store.engine.dispose()
    workflow_id = f"checkpoint-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        LedgerCheckpointWorkflow.run, id=workflow_id, task_queue=settings.task_queue
    )
    return workflow_id


SCENARIOS: dict[str, Scenario] = {
    "dev_happy_path": dev_happy_path,
    "prod_approvals_and_storm": prod_approvals_and_storm,
    "failure_retry_then_abort": failure_retry_then_abort,
    "local_action_failure_skipped": local_action_failure_skipped,
    "duplicates_while_waiting": duplicates_while_waiting,
    "triage_assigned": triage_assigned,
    "triage_closed": triage_closed,
    "outputs_promoted_in_prod": outputs_promoted_in_prod,
    "merged_away": merged_away,
    "merge_survivor": merge_survivor,
    "lifecycle_ack_resolve_close": lifecycle_ack_resolve_close,
    "lifecycle_reopened": lifecycle_reopened,
    "ledger_checkpoint": ledger_checkpoint,
}
QUIET = {"lifecycle_ack_resolve_close": 3600, "lifecycle_reopened": 3600}
"""Scenarios that need a resolved incident to stay open for a while (default: close at once)."""


async def record(env: WorkflowEnvironment, name: str, scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = seed_demo_lab(Path(tmp) / "data")
        settings = Settings(
            data_dir=lab.data_dir,
            task_queue=f"record-{uuid.uuid4().hex[:8]}",
            keyring_file=KEYRING,
            incident_quiet_seconds=QUIET.get(name, 0),
        )
        upgrade(settings.db_url)
        client = encrypted_client(env, settings)
        broken = BrokenQuarantine()
        activities = with_broken_quarantine(settings, broken) if "failure" in name else None
        async with build_worker(client, settings, activities=activities):
            workflow_id = await scenario(client, settings, lab)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def main(names: list[str]) -> None:
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    HISTORIES.mkdir(exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        dev_server_extra_args=["--log-level", "error"],
    )
    async with env:
        for name, scenario in SCENARIOS.items():
            if names and name not in names:
                continue
            await record(env, name, scenario)
            print(f"recorded {name}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
