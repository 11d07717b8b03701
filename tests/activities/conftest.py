"""A seeded demo lab in a temporary data dir, its providers (recorded, as the worker runs
them), the guard on a migrated SQLite store, and a way to call activities through
`temporalio.testing.ActivityEnvironment` (no server needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.effects import EffectRecords
from activities.factory import Providers, activities_for, build_providers, measured, recorded
from activities.guard import ResourceGuard
from activities.providers.local.lab import LabInfo, seed_demo_lab
from activities.providers.local.paths import LocalPaths
from orchestrator import db
from orchestrator.domain import ActionInput, ActionResult, Environment
from orchestrator.settings import Settings


class Clock:
    """A settable clock for the guard window."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Lab:
    info: LabInfo
    paths: LocalPaths
    providers: Providers
    guard: ResourceGuard
    engine: sa.Engine
    clock: Clock
    activities: dict[str, Callable[..., Any]]
    heartbeats: list[Any]

    async def run(
        self,
        action: str,
        params: dict[str, str],
        *,
        key: str | None = None,
        incident: str = "incident-a",
        dry_run: bool = False,
        heartbeat_details: list[Any] | None = None,
    ) -> ActionResult:
        env = ActivityEnvironment()
        env.info = replace(
            env.info, activity_type=action, heartbeat_details=heartbeat_details or []
        )
        env.on_heartbeat = lambda *details: self.heartbeats.append(details)
        input = ActionInput(
            incident_id=incident,
            step_id="step-1",
            action=action,
            params=params,
            idempotency_key=key or f"{incident}/{action}/{sorted(params.items())}",
            environment=Environment.prod,
            dry_run=dry_run,
        )
        result: ActionResult = await env.run(self.activities[action], input)
        return result


def tree_state(root: Path) -> dict[str, bytes]:
    """Every file under `root` and its bytes (lock files excluded: they are empty markers)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def open_lab(tmp_path: Path, database_url: str | None = None) -> Lab:
    """A lab in `tmp_path/data` whose guard and effect records live in `database_url`
    (default: a SQLite file beside the data dir, so looking at the lab's systems does not see
    the store), migrated here; the caller disposes `lab.engine`."""
    data_dir = tmp_path / "data"
    info = seed_demo_lab(data_dir)
    url = database_url or f"sqlite:///{tmp_path / 'store.db'}"
    settings = Settings(data_dir=data_dir, database_url=url)
    db.upgrade(url)
    engine = db.make_engine(url)
    providers = recorded(measured(build_providers(settings), settings), EffectRecords(engine))
    clock = Clock()
    paths = LocalPaths.under(data_dir)
    guard = ResourceGuard(engine, settings.guard_window_seconds, clock)
    callables = activities_for(providers, guard, poll_seconds=0.02)
    by_name = {fn.__temporal_activity_definition.name: fn for fn in callables}  # type: ignore[attr-defined]
    return Lab(info, paths, providers, guard, engine, clock, by_name, [])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    opened = open_lab(tmp_path)
    yield opened
    opened.engine.dispose()
