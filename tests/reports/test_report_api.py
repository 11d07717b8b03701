"""The report of a real incident (uvicorn, worker, Temporal dev server, SQLite store) from the
API, the CLI and the console's printable page: roles and scope, formats, and the ledger proof
once a checkpoint is signed."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.audit import open_event_store
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.cli.test_incidents_approvals import firebreak
from tests.support.app import bearer
from tests.support.incidents import eventually, make_alert
from tests.support.principals import Tokens


async def closed_dev_incident(
    http: httpx.AsyncClient, client: Client, settings: Settings, lab: LabInfo, token: str
) -> dict[str, Any]:
    """A dev prompt-injection incident, which runs through every phase with no approval."""
    alert = make_alert(lab, "prompt_injection", Environment.dev, source="detector-1")
    incident = (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id

    async def closed() -> dict[str, Any] | None:
        r = await http.get(f"/v1/incidents/{incident}", headers=bearer(token))
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] == "closed" else None

    return await eventually(closed, timeout=90)


async def test_report_of_a_real_incident_from_api_and_cli(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = api
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        incident = await closed_dev_incident(http, dev_client, fb_settings, lab, tokens.devon)
        path = f"/v1/incidents/{incident['id']}/report"

        r = await http.get(path, headers=bearer(tokens.devon))
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["status"] == "closed" and report["outcome"] == "resolved"
        assert [p["phase"] for p in report["phases"]] == [
            "containment",
            "investigation",
            "eradication",
            "recovery",
        ]
        assert report["actions"] and {a["status"] for a in report["actions"]} == {"succeeded"}
        assert report["alerts"]["count"] == incident["alert_count"] == 1
        assert report["alerts"]["sources"] == ["detector-1"]
        legs = {leg["name"]: leg for leg in report["legs"]}
        assert legs["contain"]["seconds"] == pytest.approx(incident["time_to_contain_seconds"])
        assert report["ledger"]["verification"]["ok"] is True
        assert report["ledger"]["checkpoint"] is None

        checkpoint = open_event_store(fb_settings).checkpoint()
        covered = (await http.get(path, headers=bearer(tokens.audrey))).json()
        assert covered["ledger"]["checkpoint"]["position"] == checkpoint.position
        assert covered["ledger"]["checkpoint"]["signature"] == checkpoint.signature

        html = await http.get(path, params={"format": "html"}, headers=bearer(tokens.devon))
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "script-src" not in html.headers["content-security-policy"]
        assert html.headers["content-security-policy"].startswith("default-src 'none'")
        assert "<svg" in html.text
        md = await http.get(path, params={"format": "md"}, headers=bearer(tokens.devon))
        assert md.headers["content-type"].startswith("text/markdown")
        assert md.text.startswith("# Post-incident report: ")

        refused = {
            "out of scope (prod only)": (tokens.ben, 404),
            "an alert source": (tokens.source_dev, 403),
        }
        for why, (token, status) in refused.items():
            answer = await http.get(path, headers=bearer(token))
            assert answer.status_code == status, why
        assert (await http.get(path)).status_code == 401
        bad = await http.get(path, params={"format": "pdf"}, headers=bearer(tokens.devon))
        assert bad.status_code == 422 and "format" in bad.text

        cli = partial(firebreak, monkeypatch, url, tokens.devon)
        out = tmp_path / "report.md"
        written = await cli("incidents", "report", incident["id"], "--out", str(out))
        assert written.exit_code == 0, written.error
        assert written.output.strip() == f"report written to {out}"
        assert out.read_text().startswith("# Post-incident report: ")
        as_json = await cli("incidents", "report", incident["id"], "--format", "json")
        assert as_json.exit_code == 0 and '"outcome": "resolved"' in as_json.output
        missing = await cli("incidents", "report", "incident-nope.run")
        assert missing.exit_code != 0 and "no incident" in missing.error
        assert "Traceback" not in missing.error
        unwritable = await cli(
            "incidents", "report", incident["id"], "--out", str(tmp_path / "no" / "dir.md")
        )
        assert unwritable.exit_code == 2 and "cannot write" in unwritable.error
