"""`firebreak worker` serves its own metrics: with FIREBREAK_WORKER_METRICS_PORT set, a real
incident's provider calls and ledger appends show on its `/metrics`, and with OTLP configured
its last export at SIGTERM carries them to a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.support.incidents import final_state, make_alert
from tests.support.otlp import otlp_receiver

ANNOUNCED = re.compile(r"worker metrics on (http://\S+/metrics)")


async def announced_url(log: Path, proc: subprocess.Popen[bytes]) -> str:
    for _ in range(600):  # a generous bound for a worker starting on a busy machine
        found = ANNOUNCED.search(log.read_text()) if log.exists() else None
        if found:
            return found.group(1)
        assert proc.poll() is None, log.read_text()
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker never announced its metrics: {log.read_text()}")


async def test_worker_metrics_over_http_and_otlp(
    temporal_dev_env: WorkflowEnvironment,
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    firebreak = Path(sys.executable).parent / "firebreak"
    with otlp_receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env |= {
            "FIREBREAK_TEMPORAL_ADDRESS": temporal_dev_env.client.service_client.config.target_host,
            "FIREBREAK_DATA_DIR": str(fb_settings.data_dir),
            "FIREBREAK_TASK_QUEUE": fb_settings.task_queue,
            "FIREBREAK_INCIDENT_QUIET_SECONDS": "0",
            "FIREBREAK_WORKER_METRICS_PORT": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_METRIC_EXPORT_INTERVAL": "3600000",  # only the export at stop
        }
        with log.open("ab") as out:
            proc = subprocess.Popen([str(firebreak), "worker"], env=env, stderr=out)
        try:
            url = await announced_url(log, proc)
            alert = make_alert(lab, "prompt_injection", Environment.dev)
            await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
            final = await final_state(dev_client, alert.workflow_id, timeout=180)
            async with httpx.AsyncClient() as http:
                text = (await http.get(url)).text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        exported = receiver.next()

    assert final.outcome == "resolved"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    revoke = (("action", "keys.revoke"), ("provider", "local"))
    assert samples[("firebreak_provider_call_seconds_count", revoke)] == 1
    assert samples[("firebreak_provider_errors_total", revoke)] == 0  # a series from the start
    suspend = (("action", "agents.suspend_tool"), ("provider", "local"))
    assert samples[("firebreak_provider_call_seconds_count", suspend)] == 1
    assert samples[("firebreak_audit_append_seconds_count", ())] > 0
    # The worker reads no projection: incident figures are the API's to serve.
    assert not any(name.startswith("firebreak_incidents") for name, _ in samples)

    request = ExportMetricsServiceRequest.FromString(exported.body)
    [resource_metrics] = request.resource_metrics
    resource = {kv.key: kv.value.string_value for kv in resource_metrics.resource.attributes}
    assert resource["firebreak.process"] == "worker"
    metrics = {m.name: m for s in resource_metrics.scope_metrics for m in s.metrics}
    calls = metrics["firebreak_provider_call_seconds"].histogram.data_points
    by_action = {
        {kv.key: kv.value.string_value for kv in p.attributes}["action"]: p.count for p in calls
    }
    assert by_action["keys.revoke"] == 1
    assert metrics["firebreak_audit_append_seconds"].histogram.data_points[0].count > 0
