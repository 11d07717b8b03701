"""The auditors' endpoints over HTTP, against the real stack: uvicorn, the incident workflow on a
Temporal dev server with a real worker, and the SQLite event store."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.domain import Actor, Environment
from orchestrator.settings import Settings
from tests.ocsf import schema
from tests.support.app import bearer
from tests.support.events import new_event
from tests.support.incidents import eventually
from tests.support.principals import Tokens
from tests.support.stack import open_incident


async def test_auditor_queries_exports_and_verifies(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    url, tokens = api
    incident = await open_incident(dev_client, fb_settings, lab, Environment.dev)
    store = open_event_store(fb_settings)
    auditor = bearer(tokens.audrey)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def settled() -> bool:
            """Closed, or waiting for people (when the lab's model fails validation)."""
            r = await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.ann))
            return r.status_code == 200 and r.json()["status"] in ("closed", "awaiting_decision")

        await eventually(settled, timeout=60)
        stream = store.read_stream(incident)
        seen: list[int] = []
        cursor = 0
        while True:
            r = await http.get(
                "/v1/audit/events",
                params={"incident": incident, "limit": 4, "cursor": cursor},
                headers=auditor,
            )
            assert r.status_code == 200, r.text
            seen += [e["position"] for e in r.json()["items"]]
            if r.json()["next_cursor"] is None:
                break
            cursor = r.json()["next_cursor"]
        assert seen == [e.position for e in stream]
        opened = await http.get(
            "/v1/audit/events", params={"type": "IncidentOpened"}, headers=auditor
        )
        assert [e["stream_id"] for e in opened.json()["items"]] == [incident]
        responder = await http.get("/v1/audit/events", headers=bearer(tokens.ann))
        assert responder.status_code == 403

        ocsf = await http.get(
            "/v1/audit/export", params={"incident": incident, "format": "ocsf"}, headers=auditor
        )
        records = [json.loads(line) for line in ocsf.text.splitlines()]
        assert [r["metadata"]["uid"] for r in records] == [e.id for e in stream]
        assert [schema.errors(r) for r in records] == [[] for _ in stream]

        filler = [new_event("NotificationSent", Actor.system()) for _ in range(1100)]
        store.append("filler", filler)
        lines = 0
        chunks = 0
        async with http.stream("GET", "/v1/audit/export", headers=auditor) as export:
            assert export.headers["content-type"] == "application/x-ndjson"
            async for chunk in export.aiter_bytes():
                chunks += 1
                lines += chunk.count(b"\n")
        assert lines == store.head()[0]
        assert chunks >= 3  # streamed page by page, never as one body

        made = store.checkpoint()
        checkpoints = (await http.get("/v1/audit/checkpoints", headers=auditor)).json()
        assert checkpoints[0]["position"] == store.head()[0]
        assert checkpoints[0]["note"] == made.note
        keys = (await http.get("/v1/audit/keys", headers=auditor)).json()
        assert [k["verifier_key"] for k in keys] == [k.verifier_key for k in store.signing_keys()]
        assert keys[0]["public_key_pem"] == store.signer.public_key_pem() if store.signer else False
        refused = await http.get("/v1/audit/keys", headers=bearer(tokens.ann))
        assert refused.status_code == 403
        assert (await http.get("/v1/audit/verify", headers=auditor)).json()["ok"] is True

        metrics = (await http.get("/metrics")).text
        values = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(metrics)
            for s in f.samples
        }
        settled = {"closed", "awaiting_decision"}
        incidents = [
            v
            for (name, labels), v in values.items()
            if name == "firebreak_incidents" and dict(labels)["status"] in settled
        ]
        assert len(incidents) == 10 and sum(incidents) == 1  # 2 statuses x 5 severities
        assert values[("firebreak_time_to_containment_seconds_count", ())] == 1

        engine = db.make_engine(fb_settings.db_url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_events SET payload = '{}' WHERE position = 3"))
        engine.dispose()
        report = (await http.get("/v1/audit/verify", headers=auditor)).json()
        assert report["ok"] is False and report["first_bad_position"] == 3
