"""`firebreak audit export --format` and `GET /v1/audit/export?format=` against a real store:
`jsonl` stays byte for byte what the export always wrote, `ocsf` streams one valid OCSF record
per ledger event, and an unknown format is the user's mistake, said clearly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from orchestrator.audit import EventStore, open_event_store
from orchestrator.cli.main import app
from orchestrator.domain import EventType, NewEvent
from orchestrator.settings import load_settings
from tests.ocsf import schema
from tests.ocsf.samples import SAMPLES, SENSITIVE
from tests.support.app import bearer
from tests.support.principals import Tokens


def seed(store: EventStore) -> None:
    """One event of every type, sealed fields sealed, as the writers append them."""
    for event_type, (stream, actor, payload) in SAMPLES.items():
        event = NewEvent(
            id=f"seed-{event_type}",
            type=event_type,
            actor=actor,
            occurred_at=datetime.now(UTC),
            payload=payload,
            sensitive=SENSITIVE.get(event_type, ()),
        )
        store.append(stream, [event])


def assert_ocsf_lines(text: str, store: EventStore) -> None:
    """One valid record per stored event, in log order, each naming its event."""
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        assert schema.errors(record) == []
    stored = list(store.read_all())
    assert [(r["metadata"]["sequence"], r["metadata"]["uid"]) for r in records] == [
        (e.position, e.id) for e in stored
    ]


@pytest.fixture
def cli_store(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EventStore:
    monkeypatch.setenv("FIREBREAK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", db_url)
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    store = open_event_store(load_settings())
    seed(store)
    return store


def test_cli_exports_ocsf_and_keeps_jsonl(cli_store: EventStore, tmp_path: Path) -> None:
    runner = CliRunner()
    default = runner.invoke(app, ["audit", "export", "--out", "-"])
    explicit = runner.invoke(app, ["audit", "export", "--out", "-", "--format", "jsonl"])
    assert default.exit_code == explicit.exit_code == 0
    assert default.stdout == explicit.stdout
    assert default.stdout == "".join(e.model_dump_json() + "\n" for e in cli_store.read_all())

    target = tmp_path / "audit.ocsf.jsonl"
    ocsf = runner.invoke(app, ["audit", "export", "--out", str(target), "--format", "ocsf"])
    assert ocsf.exit_code == 0 and f"exported {len(SAMPLES)} events" in ocsf.stderr
    assert_ocsf_lines(target.read_text(), cli_store)

    failed = runner.invoke(
        app, ["audit", "export", "--out", "-", "--format", "ocsf", "--type", "StepFailed"]
    )
    (record,) = [json.loads(line) for line in failed.stdout.splitlines()]
    assert record["metadata"]["event_code"] == "StepFailed" and record["status_id"] == 2

    unknown = runner.invoke(app, ["audit", "export", "--out", "-", "--format", "cef"])
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert "--format" in unknown.stderr and "'cef' is not one of" in unknown.stderr
    assert "Traceback" not in unknown.stderr


async def test_api_streams_ocsf_and_keeps_jsonl(
    http: httpx.AsyncClient, store: EventStore, tokens: Tokens
) -> None:
    seed(store)
    auditor = bearer(tokens.audrey)
    default = await http.get("/v1/audit/export", headers=auditor)
    jsonl = await http.get("/v1/audit/export", params={"format": "jsonl"}, headers=auditor)
    assert default.status_code == jsonl.status_code == 200
    assert default.content == jsonl.content
    assert default.text == "".join(e.model_dump_json() + "\n" for e in store.read_all())
    assert default.headers["content-disposition"].endswith('filename="firebreak-audit.jsonl"')

    ocsf = await http.get(
        "/v1/audit/export", params={"format": "ocsf", "type": ["StepSucceeded"]}, headers=auditor
    )
    assert ocsf.status_code == 200 and ocsf.headers["content-type"] == "application/x-ndjson"
    assert ocsf.headers["content-disposition"].endswith('filename="firebreak-audit.ocsf.jsonl"')
    (record,) = [json.loads(line) for line in ocsf.text.splitlines()]
    assert record["metadata"]["event_code"] == EventType.step_succeeded
    everything = await http.get("/v1/audit/export", params={"format": "ocsf"}, headers=auditor)
    assert_ocsf_lines(everything.text, store)

    unknown = await http.get("/v1/audit/export", params={"format": "cef"}, headers=auditor)
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["detail"].startswith("format: ")
    responder = await http.get(
        "/v1/audit/export", params={"format": "ocsf"}, headers=bearer(tokens.ann)
    )
    assert responder.status_code == 403
