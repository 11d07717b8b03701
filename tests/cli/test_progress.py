"""Long commands say how far they are: `audit verify` and `audit export` on stderr, at most
once a second, the first and the last update always, by default only on a terminal (a real
pty here)."""

from __future__ import annotations

import io
import os

from orchestrator.audit import open_event_store
from orchestrator.cli.progress import Progress, wanted
from orchestrator.settings import load_settings
from tests.cli.test_db_audit_keys import env, run
from tests.support.events import new_event

__all__ = ["env"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_updates_are_rate_limited_but_the_first_and_last_always_show() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress("verified", stream=out, every=1.0, clock=clock)
    for done, at in [(5_000, 0.0), (10_000, 0.5), (15_000, 1.2), (19_000, 1.3), (20_000, 1.4)]:
        clock.now = 100.0 + at
        progress(done, 20_000)
    assert out.getvalue().splitlines() == [
        "verified: 5,000 of 20,000 events (25%)",
        "verified: 15,000 of 20,000 events (75%)",
        "verified: 20,000 of 20,000 events (100%)",
    ]
    empty = io.StringIO()
    Progress("verified", stream=empty)(0, 0)
    assert empty.getvalue() == "verified: 0 of 0 events\n"
    unknown = io.StringIO()
    Progress("exported", stream=unknown)(1_000, None)
    assert unknown.getvalue() == "exported: 1,000 events so far\n"


def test_shown_by_default_only_on_a_terminal() -> None:
    leader, follower = os.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            assert wanted(None, terminal) is True
            assert wanted(False, terminal) is False
    finally:
        os.close(leader)
        os.close(follower)
    assert wanted(None, io.StringIO()) is False
    assert wanted(True, io.StringIO()) is True


def test_audit_verify_reports_its_walk_when_asked(env: dict[str, str]) -> None:
    assert run("db", "upgrade")[0] == 0
    store = open_event_store(load_settings())
    for batch in range(12):
        store.append(f"inc-{batch}", [new_event("StepStarted") for _ in range(1_000)])
    store.engine.dispose()

    code, out, err = run("audit", "verify", "--progress")
    assert code == 0 and out.startswith("intact: 12000 events")
    lines = err.splitlines()
    assert lines[0] == "verified: 5,000 of 12,000 events (42%)"
    assert lines[-1] == "verified: 12,000 of 12,000 events (100%)"
    assert set(lines[1:-1]) <= {"verified: 10,000 of 12,000 events (83%)"}, "a slow second"
    for quiet in (["--no-progress"], []):  # the test runner's stderr is no terminal
        code, out, err = run("audit", "verify", *quiet)
        assert code == 0 and out.startswith("intact: 12000 events") and err == ""

    code, out, err = run("audit", "export", "--out", "-", "--format", "chain", "--progress")
    assert code == 0 and len(out.splitlines()) == 12_000
    lines = err.splitlines()
    assert lines[0] == "exported: 1,000 events so far" and lines[-1] == "exported 12000 events"
    code, out, err = run("audit", "export", "--out", "-", "--stream", "inc-3")
    assert code == 0 and err == "exported 1000 events\n"
