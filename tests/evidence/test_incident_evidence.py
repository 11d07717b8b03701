"""Evidence a real incident collected, read by an API on another host: a worker on the
Temporal dev server with `FIREBREAK_EVIDENCE_PROVIDER=s3` (moto, checking signatures) runs a
data-poisoning playbook, which collects access logs, model outputs and dataset manifests; an
API with its own data dir, sharing only the database and the key ring file, serves each item
to an auditor, verified, and records the reads."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from temporalio.client import Client

from activities.factory import build_evidence_reader
from activities.providers.local.lab import LabInfo
from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.domain import Environment, EventType
from orchestrator.evidence.service import READS_STREAM
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.support.app import bearer
from tests.support.incidents import eventually, make_alert, running_worker
from tests.support.principals import cast
from tests.support.providers import S3Endpoint

KINDS = {"access_logs", "model_outputs", "dataset_manifest"}


async def test_an_incidents_evidence_is_served_by_an_api_on_another_host(
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    s3_server: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    s3, bucket = s3_server.new_bucket(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    shared = {
        "evidence_provider": "s3",
        "s3_endpoint": s3_server.url,
        "s3_evidence_bucket": bucket,
        "database_url": fb_settings.db_url,
        "keyring_file": fb_settings.keyring_path,
    }
    worker_settings = fb_settings.model_copy(update=shared)
    api_settings = Settings(data_dir=tmp_path_factory.mktemp("api-host"), **shared)
    store = open_event_store(fb_settings)
    tokens = cast(store.engine)
    alert = make_alert(lab, "data_poisoning", Environment.dev)

    async with running_worker(dev_client, worker_settings):
        incident = (
            await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        ).incident_id

        def collected() -> list[str]:
            events = store.read_stream(incident)
            digests = [
                d
                for e in events
                if e.type == EventType.evidence_collected
                for d in e.payload["digests"]
            ]
            return digests if len(digests) == len(KINDS) else []

        digests = await eventually(collected, timeout=120)

    stored = s3.list_objects_v2(Bucket=bucket, Prefix="evidence/sha256/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in stored) == sorted(digests)
    assert not (api_settings.data_dir / "evidence").exists()

    app = create_app(api_settings, store=store, evidence=build_evidence_reader(api_settings))
    transport = httpx.ASGITransport(app=app)
    kinds = set()
    async with httpx.AsyncClient(transport=transport, base_url="http://api-2") as http:
        for digest in digests:
            response = await http.get(f"/v1/evidence/{digest}", headers=bearer(tokens.audrey))
            assert response.status_code == 200, response.text
            assert hashlib.sha256(response.content).hexdigest() == digest
            document = json.loads(response.content)
            assert document["incident_id"] == incident
            kinds.add(document["kind"])
    assert kinds == KINDS
    reads = store.read_stream(READS_STREAM)
    assert sorted(e.payload["digest"] for e in reads) == sorted(digests)
    assert {e.payload["incident_id"] for e in reads} == {incident}
    await dev_client.get_workflow_handle(alert.workflow_id).terminate("test finished")
