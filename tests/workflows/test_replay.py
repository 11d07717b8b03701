"""Recorded incident (and scheduled checkpoint) histories replay without non-determinism
against the current workflows.

A failure here means a change would break incidents already running: version the change with
`workflow.patched` instead, or, if it is deliberate and safe, re-record with
`python -m tests.workflows.record_histories`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestrator.security.keyring import KeyRing
from orchestrator.temporal.client import data_converter
from orchestrator.temporal.worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"), key=lambda p: p.name)
RECORDED = [p for p in FILES if p.name != "keyring.json"]


def test_histories_are_recorded() -> None:
    current = {"dev_happy_path", "prod_approvals_and_storm", "failure_retry_then_abort"}
    before_lifecycle = {
        *current,
        "local_action_failure_skipped",
        "duplicates_while_waiting",
        "triage_assigned",
        "triage_closed",
    }
    assert {p.stem for p in RECORDED} >= {
        *before_lifecycle,
        *(f"before_local_actions_{name}" for name in current),
        *(f"before_lifecycle_{name}" for name in before_lifecycle),
        "before_triage_no_playbook",
        "outputs_promoted_in_prod",
        "merged_away",
        "merge_survivor",
        "lifecycle_ack_resolve_close",
        "lifecycle_reopened",
        "ledger_checkpoint",
    }


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(KeyRing.load(HISTORIES / "keyring.json")),
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
