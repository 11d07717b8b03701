"""The post-incident report folded from a real event store (SQLite and PostgreSQL): every
section from the stream as docs/events.md documents it, the ledger proof (a covering signed
checkpoint, a verification that fails once a row is altered behind the store's back), scope,
and hostile alert text staying text in Markdown and HTML."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator import db
from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.audit import schema as audit_schema
from orchestrator.domain import Actor
from orchestrator.errors import NotFound
from orchestrator.reports import render
from orchestrator.reports.service import build_report
from tests.audit.test_tamper import as_owner
from tests.support.stories import Story

HOSTILE = "<script>window.x=1</script> | **bold** [click](javascript:alert(1)) <img src=x>"
ALL_ENVS = ("dev", "staging", "prod")


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[EventStore]:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    yield EventStore(engine, signer=CheckpointSigner(tmp_path / "checkpoint.key"))
    engine.dispose()


def result(action: str, summary: str, **extra: object) -> dict[str, object]:
    return {"action": action, "changed": True, "summary": summary, **extra}


def full_story(store: EventStore) -> Story:
    """Opened at +1 s, contained at +6 s, a two-person approval, evidence, a failed attempt
    and a retry, a compensation, recovered and closed."""
    story = Story(store, title=HOSTILE).open().contain()
    story.emit(
        "AlertAttached",
        alert_id="a-2",
        source="gateway",
        status="firing",
        severity="critical",
        alert_count=2,
    )
    story.emit("PhaseStarted", phase="investigation")
    story.emit(
        "StepStarted",
        phase="investigation",
        step_id="collect",
        action="evidence.collect",
        params={},
        attempt=1,
    )
    story.emit(
        "StepSucceeded",
        phase="investigation",
        step_id="collect",
        action="evidence.collect",
        result=result("evidence.collect", "2 files", evidence=["ab" * 32]),
    )
    story.emit("EvidenceCollected", step_id="collect", digests=["ab" * 32])
    story.emit("PhaseCompleted", phase="investigation")
    story.request("quarantine", approvals=2, requested_by="alice")
    story.approve("quarantine", "bob", ["bob"], required=2)
    story.approve("quarantine", "carol", ["bob", "carol"], required=2)
    story.emit(
        "StepStarted",
        phase="eradication",
        step_id="quarantine",
        action="datasets.quarantine",
        params={},
        attempt=1,
    )
    story.emit(
        "StepFailed",
        phase="eradication",
        step_id="quarantine",
        action="datasets.quarantine",
        attempt=1,
        error=f"ProviderError: {HOSTILE}",
    )
    story.emit(
        "StepStarted",
        Actor(id="bob", role="responder"),
        phase="eradication",
        step_id="quarantine",
        action="datasets.quarantine",
        params={},
        attempt=2,
        decision_id="d-retry",
        principal="bob",
    )
    story.emit(
        "StepSucceeded",
        phase="eradication",
        step_id="quarantine",
        action="datasets.quarantine",
        result=result("datasets.quarantine", "quarantined", outputs={"version": "7"}),
    )
    story.emit(
        "StepCompensated",
        phase="eradication",
        step_id="quarantine",
        action="datasets.release",
        result=result("datasets.release", "released"),
    )
    story.emit("PhaseStarted", phase="recovery")
    story.emit("PhaseCompleted", phase="recovery")
    story.emit(
        "NotificationSent",
        step_id="quarantine",
        kind="approval",
        attempt=1,
        target=None,
        delivered=True,
    )
    return story.close()


def test_every_section_comes_from_the_stream(store: EventStore) -> None:
    story = full_story(store)
    checkpoint = store.checkpoint()
    report = build_report(store, story.incident_id, ALL_ENVS)

    assert report.title == HOSTILE
    assert report.status == "closed" and report.outcome == "resolved"
    legs = {leg.name: leg for leg in report.legs}
    assert legs["contain"].seconds == 5.0  # opened +1 s, containment completed +6 s
    assert legs["acknowledge"].seconds is None  # nobody acknowledged
    recovered = report.phases[-1].completed_at
    assert recovered is not None
    assert legs["resolve"].seconds == (recovered - report.opened_at).total_seconds()
    assert [p.phase for p in report.phases] == ["containment", "investigation", "recovery"]
    assert report.phases[0].seconds == 3.0
    assert report.alerts.count == 2 and report.alerts.sources == ["gateway"]
    assert report.alerts.severities == {"critical": 1, "high": 1}

    actions = {a.step_id: a for a in report.actions}
    assert list(actions) == ["revoke", "collect", "quarantine"]
    assert actions["quarantine"].status == "succeeded"
    assert actions["quarantine"].attempts == 2
    assert actions["quarantine"].error is None  # the retry succeeded
    assert actions["quarantine"].outputs == {"version": "7"}
    assert actions["collect"].evidence == ["ab" * 32]

    assert [(d.decision, d.principal) for d in report.decisions] == [
        ("approve", "bob"),
        ("approve", "carol"),
        ("retry", "bob"),
    ]
    assert [(c.step_id, c.action, c.ok) for c in report.compensations] == [
        ("quarantine", "datasets.release", True)
    ]
    assert [e.digest for e in report.evidence] == ["ab" * 32]
    assert report.notifications == 1

    events = store.read_stream(story.incident_id)
    assert report.ledger.events == [(e.position, e.hash) for e in events]
    assert report.ledger.verification.ok
    assert report.ledger.checkpoint == checkpoint
    assert len(report.timeline) == len(events)


def test_a_report_says_when_no_checkpoint_covers_it_and_when_the_ledger_was_altered(
    store: EventStore,
) -> None:
    story = full_story(store)
    report = build_report(store, story.incident_id, ALL_ENVS)
    assert report.ledger.checkpoint is None
    assert "No signed checkpoint covers" in " ".join(render.ledger_lines(report))

    with as_owner(store.engine) as conn:  # an insider edits an approval's reason in place
        conn.execute(
            sa.update(audit_schema.events)
            .where(audit_schema.events.c.type == "StepApproved")
            .values(payload='{"reason":"nothing to see"}')
        )
    altered = build_report(store, story.incident_id, ALL_ENVS)
    assert not altered.ledger.verification.ok
    assert altered.ledger.verification.first_bad_position is not None
    assert "Verification FAILED" in " ".join(render.ledger_lines(altered))


def test_a_checkpoint_by_a_key_this_host_lacks_is_unverified_not_a_failure(
    store: EventStore, tmp_path: Path
) -> None:
    """Another host rotated the checkpoint key and signed with the new one, whose file this
    host does not have: the report says the checkpoints are unverified, not FAILED."""
    story = full_story(store)
    store.checkpoint()
    elsewhere = tmp_path / "other-host" / "checkpoint.key"
    elsewhere.parent.mkdir()
    shutil.copy(store.signer.path, elsewhere)  # type: ignore[union-attr]
    other_host = EventStore(store.engine, signer=CheckpointSigner(elsewhere))
    other_host.rotate_signing_key(Actor(id="firebreak/cli/ops", role="system"))
    other_host.checkpoint()
    report = build_report(store, story.incident_id, ALL_ENVS)
    assert report.ledger.verification.verdict == "unverified"
    lines = " ".join(render.ledger_lines(report))
    assert "Verification: chain intact, checkpoints unverified" in lines
    assert "signed only by keys you did not trust" in lines and "FAILED" not in lines


def test_out_of_scope_and_missing_incidents_look_the_same(store: EventStore) -> None:
    story = full_story(store)  # a prod incident
    with pytest.raises(NotFound) as out_of_scope:
        build_report(store, story.incident_id, ("dev",))
    with pytest.raises(NotFound) as missing:
        build_report(store, f"incident-{uuid.uuid4().hex}.run", ALL_ENVS)
    assert type(out_of_scope.value) is type(missing.value)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_hostile_text_stays_text(store: EventStore) -> None:
    report = build_report(store, full_story(store).incident_id, ALL_ENVS)

    markdown = render.to_markdown(report)
    assert "<script>" not in markdown and "<img" not in markdown
    assert "&lt;script&gt;" in markdown
    assert "\\*\\*bold\\*\\*" in markdown and "\\[click\\]\\(javascript:alert\\(1\\)\\)" in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ProviderError")]
    assert table_rows == []  # the error's pipe is escaped inside its cell, never a new column

    page = render.to_html(report, standalone=True)
    parsed = Elements()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    assert "&lt;script&gt;window.x=1&lt;/script&gt;" in page
    assert parsed.tags.count("rect") == len(report.phases)  # one bar per phase in the SVG
    assert parsed.tags.count("circle") == 2 + len(report.decisions)  # first/last alert, decisions
    assert "<style>" in page and 'rel="stylesheet"' not in page

    linked = render.to_html(report, standalone=False)
    assert "<style>" not in linked and "/console/static/report.css" in linked
