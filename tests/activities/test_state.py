"""JSON state files stay whole and lose no update under concurrent threads and processes."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from activities.providers.local.agents import LocalAgentControl
from activities.providers.local.state import JsonState
from activities.providers.protocols import ToolState
from tests.activities.conftest import Lab

ROUNDS = 40


def bump(path: str, rounds: int) -> None:
    state = JsonState(Path(path), lambda: {"count": 0})
    for _ in range(rounds):
        with state.update() as doc:
            doc["count"] += 1


def test_threads_and_processes_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "counter.json"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=bump, args=(str(path), ROUNDS)) for _ in range(3)]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: bump(str(path), ROUNDS), range(4)))
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert json.loads(path.read_text()) == {"count": 7 * ROUNDS}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_update_writes_nothing(tmp_path: Path) -> None:
    state = JsonState(tmp_path / "s.json", lambda: {"n": 0})
    with state.update() as doc:
        doc["n"] = 1
    try:
        with state.update() as doc:
            doc["n"] = 99
            raise RuntimeError("crash mid-update")
    except RuntimeError:
        pass
    assert state.read() == {"n": 1}


def suspend_all(root: str, worker: int) -> None:
    control = LocalAgentControl(Path(root))
    for i in range(ROUNDS):
        asyncio.run(
            control.suspend_tool(
                "bot", f"tool-{i % 4}", reason="test", idempotency_key=f"w{worker}-{i}"
            )
        )
        asyncio.run(control.restore_tool("bot", f"tool-{i % 4}", idempotency_key=f"w{worker}-r{i}"))


def test_concurrent_provider_calls_from_processes_keep_every_effect_record(tmp_path: Path) -> None:
    LocalAgentControl(tmp_path).add_agent("bot", [f"tool-{i}" for i in range(4)])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=suspend_all, args=(str(tmp_path), w)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    doc = json.loads((tmp_path / "agents.json").read_text())
    assert len(doc["effects"]) == 3 * ROUNDS * 2
    assert all(t["enabled"] for t in doc["agents"]["bot"]["tools"].values())


async def test_concurrent_activities_revoke_once(lab: Lab) -> None:
    """Eight attempts of one step racing in one worker: one effect, one result."""
    results = await asyncio.gather(
        *(
            lab.run(
                "agents.suspend_tool",
                {"agent": "support-bot", "tool": "send_email"},
                key="wf/contain",
            )
            for _ in range(8)
        )
    )
    assert len({r.model_dump_json() for r in results}) == 1 and results[0].changed
    doc = json.loads((lab.paths.agents / "agents.json").read_text())
    assert len(doc["effects"]) == 1
    assert ToolState.model_validate(next(iter(doc["effects"].values()))).changed
