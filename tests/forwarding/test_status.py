"""What the API says about forwarding, read from the cursor table whichever process forwards:
`/readyz` names a failing or stalled sink (degraded, never not ready) and `/metrics` exports
each sink's lag, failing state and totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.audit import EventStore
from orchestrator.forwarding import Cursors
from orchestrator.forwarding.models import cursors
from tests.forwarding.conftest import fill


def samples(text: str) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("sink", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("firebreak_forwarder")
    }


async def test_readyz_and_metrics_report_each_sink(
    http: httpx.AsyncClient, store: EventStore
) -> None:
    ready = (await http.get("/readyz")).json()
    assert ready["checks"]["forwarding"] == {
        "state": "none",
        "detail": "no SIEM sink has a cursor",
    }
    events = fill(store, 5)
    tracked = Cursors(store.engine)
    for sink in ("es", "splunk"):
        tracked.ensure(sink)
    assert tracked.advance("es", 0, events[-1].position, 5)
    assert tracked.advance("splunk", 0, events[1].position, 2)
    tracked.failed("splunk", "splunk: HTTP 503, HEC code 9: Server is busy")
    tracked.failed("splunk", "splunk: HTTP 503, HEC code 9: Server is busy")

    response = await http.get("/readyz")
    assert response.status_code == 200  # a failing sink never takes the API out of service
    body = response.json()
    assert body["status"] == "degraded"
    check = body["checks"]["forwarding"]
    assert check["state"] == "failing"
    assert check["detail"].startswith("splunk: failing since ")
    assert check["detail"].endswith(", lag 3: splunk: HTTP 503, HEC code 9: Server is busy")
    assert "es" not in check["detail"].split(":")[0]

    metrics = samples((await http.get("/metrics")).text)
    assert metrics[("firebreak_forwarder_lag_events", "splunk")] == 3
    assert metrics[("firebreak_forwarder_lag_events", "es")] == 0
    assert metrics[("firebreak_forwarder_failing", "splunk")] == 1
    assert metrics[("firebreak_forwarder_failing", "es")] == 0
    assert metrics[("firebreak_forwarder_errors_total", "splunk")] == 2
    assert metrics[("firebreak_forwarder_records_total", "es")] == 5

    assert tracked.advance("splunk", events[1].position, events[-1].position, 3)
    fill(store, 1, stream="incident-2")
    with store.engine.begin() as conn:  # no forwarder has touched es for ten minutes
        old = datetime.now(UTC) - timedelta(minutes=10)
        conn.execute(sa.update(cursors).where(cursors.c.sink == "es").values(updated_at=old))
    stalled = (await http.get("/readyz")).json()["checks"]["forwarding"]
    assert stalled["state"] == "behind"
    assert stalled["detail"].startswith("es: lag 1, no forwarder progress since ")
    assert "splunk" not in stalled["detail"]
