"""The Metrics page's figures from a real projection: approvals waiting by environment and time
to containment by severity, only for the environments the viewer may see."""

from __future__ import annotations

from datetime import timedelta

from orchestrator import db
from orchestrator.audit import EventStore
from orchestrator.console.stats import summarise
from orchestrator.incidents.projector import IncidentProjector
from tests.support.stories import T0, Story


def test_waiting_approvals_and_containment_by_severity(sqlite_url: str) -> None:
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    store = EventStore(engine)
    Story(store).open().contain().request("q")
    Story(store, severity="critical").open().contain().request("q").request("r")
    Story(store, environment="staging").open().request("q")
    Story(store, environment="dev").open().request("q")  # outside the viewer's tiers
    IncidentProjector(engine, store).catch_up()

    summary = summarise(engine, {"prod", "staging"}, T0 + timedelta(days=1))
    engine.dispose()

    assert summary.approvals_by_environment == {"prod": 3, "staging": 1}
    assert summary.open_by_severity == {"high": 2, "critical": 1}
    by_severity = summary.containment_by_severity
    assert set(by_severity) == {"high", "critical"}
    assert by_severity["high"].count == 1 and by_severity["high"].p90 == 5.0
