"""The forwarder against loopback servers speaking Splunk HEC and Elasticsearch `_bulk`
exactly, their error answers included: every event delivered with its id and position,
batches acknowledged before the cursor moves, busy and down retried, an invalid record held
loudly, sealed fields kept sealed unless the sink opens them."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore
from orchestrator.domain import RecordedEvent
from orchestrator.forwarding import Cursors, SinkForwarder, parse_sink
from orchestrator.forwarding.models import Rejected, SinkError
from tests.forwarding.conftest import SECRET, fill
from tests.support.siem import BulkServer, HecServer, hec_busy, hec_invalid_at


def sink_url(server: HecServer | BulkServer, kind: str, query: str) -> str:
    port = server.url.rsplit(":", 1)[1]
    path = "/firebreak-audit" if kind == "elasticsearch" else ""
    return f"{kind}+http://127.0.0.1:{port}{path}?{query}"


def status(store: EventStore, sink: str) -> dict[str, object]:
    head, _ = store.head()
    found = {s.sink: s for s in Cursors(store.engine).statuses(head)}
    return found[sink].model_dump()


async def test_hec_gets_every_event_once_in_batches_with_id_and_position(
    store: EventStore, hec_server: HecServer
) -> None:
    events = fill(store, 7)
    forwarder = SinkForwarder(
        store,
        parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=splunk")),
        batch_size=3,
    )
    assert await forwarder.catch_up() == 7
    assert await forwarder.catch_up() == 0
    await forwarder.sink.close()
    assert hec_server.loopback is not None
    posts = hec_server.loopback.requests
    assert len(posts) == 3  # 3 + 3 + 1
    assert {r.headers["authorization"] for r in posts} == {"Splunk hec-token-1234"}
    got = hec_server.accepted
    assert [e["fields"] for e in got] == [
        {"firebreak_id": e.id, "firebreak_position": str(e.position)} for e in events
    ]
    # The record is the export line, with the sealed prompt still ciphertext.
    sealed = EventStore(store.engine).read_all(sealed=True)
    assert [e["event"] for e in got] == [json.loads(e.model_dump_json()) for e in sealed]
    assert SECRET not in json.dumps(got)
    assert got[0]["sourcetype"] == "firebreak:audit"
    assert got[0]["time"] == pytest.approx(events[0].occurred_at.timestamp(), abs=0.001)
    row = status(store, "splunk")
    assert (row["position"], row["lag"], row["forwarded"], row["errors"]) == (
        events[-1].position,
        0,
        7,
        0,
    )


async def test_sealed_open_sends_the_clear_values(store: EventStore, hec_server: HecServer) -> None:
    fill(store, 1)
    forwarder = SinkForwarder(
        store,
        parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&sealed=open")),
    )
    await forwarder.catch_up()
    await forwarder.sink.close()
    assert hec_server.accepted[0]["event"]["payload"]["prompt"] == SECRET


async def test_busy_and_refused_token_are_retried_until_taken(
    store: EventStore, hec_server: HecServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = fill(store, 5)
    hec_server.fail_next(hec_busy, hec_busy)
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    config = sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=splunk")
    forwarder = SinkForwarder(store, parse_sink(config), batch_size=2)
    with pytest.raises(SinkError, match="HTTP 503, HEC code 9: Server is busy"):
        await forwarder.step()
    assert status(store, "splunk")["position"] == 0  # nothing acknowledged: nothing moved

    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(poll=0.05, max_backoff=0.2, stop=stop))
    for _ in range(200):
        if len(hec_server.accepted) >= 5:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert [e["fields"]["firebreak_id"] for e in hec_server.accepted] == [e.id for e in events]
    row = status(store, "splunk")
    assert row["errors"] >= 1 and row["last_error"] is None and row["failing_since"] is None

    wrong = SinkForwarder(
        store,
        parse_sink(sink_url(hec_server, "hec", "token_env=WRONG_TOKEN&name=wrong")),
    )
    with pytest.raises(SinkError, match="HTTP 403, HEC code 4: Invalid token") as raised:
        await wrong.step()
    await wrong.sink.close()
    assert "not-the-token" not in str(raised.value)


async def test_an_invalid_event_holds_the_sink_loudly_and_what_came_before_goes_on(
    store: EventStore, hec_server: HecServer, caplog: pytest.LogCaptureFixture
) -> None:
    events = fill(store, 5)
    poison = events[2]
    hec_server.fail_next(*[hec_invalid_at(poison.id)] * 50)
    config = parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=splunk"))
    forwarder = SinkForwarder(store, config, batch_size=10)
    assert await forwarder.step() == 2  # the two before it, sent on their own
    with pytest.raises(Rejected, match=f"rejected event {poison.id} at position {poison.position}"):
        await forwarder.step()

    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="orchestrator.forwarding")
    task = asyncio.create_task(forwarder.run(poll=0.05, max_backoff=0.05, stop=stop))
    await asyncio.sleep(0.5)
    row = status(store, "splunk")
    assert row["position"] == events[1].position and row["lag"] == 3
    assert row["failing_since"] is not None
    assert f"rejected event {poison.id} at position {poison.position}" in str(row["last_error"])
    assert "HEC code 6: Invalid data format" in str(row["last_error"])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and poison.id in errors[0].getMessage()  # said once, not per retry

    with hec_server.lock:
        hec_server.failures.clear()  # the operator fixed the index
    for _ in range(100):
        if status(store, "splunk")["lag"] == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    ids = [e["fields"]["firebreak_id"] for e in hec_server.accepted]
    assert ids == [e.id for e in events]  # nothing skipped, nothing twice
    assert status(store, "splunk")["last_error"] is None
    assert any("resumed" in r.getMessage() for r in caplog.records)


async def test_bulk_creates_by_event_id_and_takes_409_as_already_there(
    store: EventStore, bulk_server: BulkServer
) -> None:
    events = fill(store, 6)
    bulk_server.rejected_items[events[3].id] = (429, "es_rejected_execution_exception")
    config = parse_sink(sink_url(bulk_server, "elasticsearch", "name=es"))
    forwarder = SinkForwarder(store, config, batch_size=10)
    with pytest.raises(SinkError, match="429 es_rejected_execution_exception"):
        await forwarder.step()
    assert status(store, "es")["position"] == 0
    assert len(bulk_server.documents) == 5  # the others were indexed: sent again, they are 409

    del bulk_server.rejected_items[events[3].id]
    assert await forwarder.step() == 6
    assert set(bulk_server.documents) == {e.id for e in events}
    assert len(bulk_server.accepted) == 6  # no document twice
    assert [bulk_server.documents[e.id]["position"] for e in events] == [e.position for e in events]
    assert bulk_server.loopback is not None
    first = bulk_server.loopback.requests[0].body.decode().splitlines()
    assert json.loads(first[0]) == {"create": {"_index": "firebreak-audit", "_id": events[0].id}}
    await forwarder.sink.close()


async def test_bulk_mapping_error_holds_that_record_and_whole_request_errors_retry(
    store: EventStore, bulk_server: BulkServer
) -> None:
    events = fill(store, 4)
    bulk_server.rejected_items[events[2].id] = (400, "document_parsing_exception")
    config = parse_sink(sink_url(bulk_server, "elasticsearch", "name=es"))
    forwarder = SinkForwarder(store, config, batch_size=10)
    assert await forwarder.step() == 2
    with pytest.raises(Rejected, match=f"{events[2].id}.*400 document_parsing_exception"):
        await forwarder.step()
    assert status(store, "es")["position"] == events[1].position

    del bulk_server.rejected_items[events[2].id]
    bulk_server.fail_next(
        lambda r: (
            429,
            {"retry-after": "7"},
            {
                "error": {
                    "type": "circuit_breaking_exception",
                    "reason": "[parent] Data too large",
                },
                "status": 429,
            },
        ),
        lambda r: (
            401,
            {},
            {
                "error": {
                    "type": "security_exception",
                    "reason": "missing authentication credentials",
                },
                "status": 401,
            },
        ),
    )
    with pytest.raises(SinkError, match="HTTP 429: circuit_breaking_exception") as busy:
        await forwarder.step()
    assert busy.value.retry_after == 7.0
    with pytest.raises(SinkError, match="HTTP 401: security_exception"):
        await forwarder.step()
    assert await forwarder.step() == 2
    assert set(bulk_server.documents) == {e.id for e in events}
    await forwarder.sink.close()


async def test_cursor_moves_only_from_where_the_batch_was_read(store: EventStore) -> None:
    """Two forwarders of one sink (SQLite, or a lost lease): the second's acknowledgement of a
    batch the first already moved past changes nothing."""
    cursors = Cursors(store.engine)
    cursors.ensure("s")
    assert cursors.advance("s", 0, 5, 5)
    assert not cursors.advance("s", 0, 3, 3)
    assert cursors.position("s") == 5
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT forwarded FROM forwarder_cursors")).scalar() == 5


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_one_forwarder_per_sink_leads_on_postgresql(
    store: EventStore, hec_server: HecServer
) -> None:
    """Two workers with --forward: one holds the sink's lock and forwards, the other waits;
    when the leader's connection ends the other takes over. Other sinks lead independently."""
    events = fill(store, 3)
    config = parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=splunk"))
    first, second = SinkForwarder(store, config), SinkForwarder(store, config)
    other = SinkForwarder(
        store, parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=other"))
    )
    assert first.lease.leads() and not second.lease.leads()
    assert other.lease.leads()
    stop = asyncio.Event()
    waiting = asyncio.create_task(second.run(poll=0.05, max_backoff=0.1, stop=stop))
    await asyncio.sleep(0.3)
    assert hec_server.accepted == []  # the follower did not forward while the other led
    first.lease.release()
    for _ in range(100):
        if len(hec_server.accepted) == 3:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await waiting
    assert [e["fields"]["firebreak_id"] for e in hec_server.accepted] == [e.id for e in events]
    other.lease.release()
    for forwarder in (first, other):
        await forwarder.sink.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_hec_over_https_verifies_the_server_against_its_ca(
    store: EventStore, hec_tls_server: tuple[HecServer, Path]
) -> None:
    server, ca = hec_tls_server
    events = fill(store, 2)
    port = server.url.rsplit(":", 1)[1]
    query = "token_env=TEST_HEC_TOKEN&name=splunk"
    untrusted = SinkForwarder(store, parse_sink(f"hec+https://localhost:{port}?{query}"))
    with pytest.raises(SinkError, match=r"splunk: ConnectError: .*CERTIFICATE_VERIFY_FAILED"):
        await untrusted.step()
    await untrusted.sink.close()
    assert server.accepted == []
    trusted = SinkForwarder(store, parse_sink(f"hec+https://localhost:{port}?{query}&ca={ca}"))
    assert await trusted.catch_up() == 2
    await trusted.sink.close()
    assert [e["fields"]["firebreak_id"] for e in server.accepted] == [e.id for e in events]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_format_that_fails_on_an_event_holds_the_sink_at_it(
    store: EventStore, hec_server: HecServer
) -> None:
    """A mapping bug (say, OCSF meeting a payload it does not expect) is a record the sink
    cannot get: the events before it go on, it holds the sink, named, and nothing crashes."""
    events = fill(store, 4)
    config = parse_sink(sink_url(hec_server, "hec", "token_env=TEST_HEC_TOKEN&name=splunk"))
    forwarder = SinkForwarder(store, config)
    plain = forwarder.format

    def fragile(event: RecordedEvent) -> dict[str, Any]:
        if event.id == events[2].id:
            raise KeyError("severity_id")
        return plain(event)

    forwarder.format = fragile
    assert await forwarder.step() == 2
    with pytest.raises(Rejected) as held:
        await forwarder.step()
    assert held.value.detail == (
        f"rejected event {events[2].id} at position {events[2].position} (held there until the"
        " sink accepts it): splunk: format jsonl failed: KeyError: 'severity_id'"
    )
    forwarder.format = plain
    assert await forwarder.catch_up() == 2
    await forwarder.sink.close()
    assert [e["fields"]["firebreak_id"] for e in hec_server.accepted] == [e.id for e in events]
