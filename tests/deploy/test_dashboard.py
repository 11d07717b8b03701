"""The Grafana dashboard under deploy/ asks only for metrics Firebreak exports: every metric an
expression names is in a real scrape of the app's registry (on a migrated database with
incidents, approvals, alerts, a signed checkpoint and a SIEM sink's cursor) or of a worker's own
`/metrics` (after a real provider call and a real witness publish), and the panels are laid out
on Grafana's 24-column grid without overlapping. The metrics table of docs/observability.md is
held to the same scrapes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from activities.factory import build_providers, measured
from activities.providers.local.lab import seed_demo_lab
from activities.witnesses import CheckpointActivities, DirectoryWitness
from orchestrator import db
from orchestrator.api.metrics import ALERTS_RECEIVED, build_registry
from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.forwarding import Cursors
from orchestrator.incidents.projector import IncidentProjector
from orchestrator.settings import Settings
from orchestrator.temporal.worker import worker_metrics
from tests.support.stories import Story

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "firebreak.json"
DOCS = ROOT / "docs" / "observability.md"
METRIC = re.compile(r"\bfirebreak_[a-z0-9_]+")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def expressions() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


@pytest.fixture
def exported(sqlite_url: str, tmp_path: Path) -> set[str]:
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    store = EventStore(engine, signer=CheckpointSigner(tmp_path / "k.pem"))
    Story(store).open().contain().request("q").approve("q", "bob", ["bob"]).run("q").close()
    point = store.checkpoint()
    published, _ = asyncio.run(
        CheckpointActivities(store, [DirectoryWitness(tmp_path / "witness")]).publish(point)
    )
    assert published, "the worker's witness counter has an ok sample"
    IncidentProjector(engine, store).catch_up()
    Cursors(engine).ensure("siem")  # a SIEM sink's cursor: the forwarder's metrics have a sample
    ALERTS_RECEIVED.labels(format="generic", outcome="accepted").inc()
    text = generate_latest(build_registry(engine)).decode()
    engine.dispose()
    families = list(text_string_to_metric_families(text + worker_scrape(tmp_path)))
    # A family with no sample yet (no SLA breach) is still exported: its name counts too.
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def worker_scrape(tmp_path: Path) -> str:
    """A worker's `/metrics` over HTTP after one real provider call that failed."""
    lab = seed_demo_lab(tmp_path / "data")
    settings = Settings(data_dir=lab.data_dir, worker_metrics_port=0)
    keys = measured(build_providers(settings), settings).keys
    with pytest.raises(Exception, match="no-such-key"):
        asyncio.run(keys.usage("no-such-key"))
    with worker_metrics(settings, None, lambda line: None) as url:
        assert url is not None
        return httpx.get(url).text


def test_the_docs_table_names_exported_metrics(exported: set[str]) -> None:
    table = [line for line in DOCS.read_text().splitlines() if line.startswith("| `firebreak_")]
    named = {m for line in table for m in METRIC.findall(line.split("|")[1])}
    assert len(named) >= 15
    for name in named:
        assert name in exported or f"{name}_bucket" in exported, name


def test_every_expression_names_an_exported_metric(exported: set[str]) -> None:
    exprs = expressions()
    assert exprs
    for expr in exprs:
        named = METRIC.findall(expr)
        assert named, f"no Firebreak metric in {expr!r}"
        missing = [m for m in named if m not in exported]
        assert not missing, f"{expr!r} asks for {missing}; exported: {sorted(exported)}"
        assert expr.count("(") == expr.count(")"), expr


def test_panels_fit_the_grid_and_use_the_input_datasource() -> None:
    board = dashboard()
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
