"""The forwarder against Debian's real rsyslogd over TLS (RFC 5425, octet-counted RFC 5424
messages): what rsyslog wrote is every event, with its id and position as structured data, the
sealed fields still ciphertext; a receiver that is down is retried and loses nothing; a server
whose certificate the sink does not trust gets nothing."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from orchestrator.audit import EventStore
from orchestrator.forwarding import Cursors, SinkForwarder, parse_sink
from orchestrator.forwarding.models import SinkError
from tests.forwarding.conftest import SECRET, fill
from tests.support.events import new_event
from tests.support.siem import Received, Rsyslog, make_ca


def url(server: Rsyslog, query: str = "") -> str:
    return f"syslog+tls://localhost:{server.port}?ca={server.ca}&name=rsyslog{query}"


def wait_for_messages(server: Rsyslog, count: int, timeout: float = 20) -> list[Received]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = server.messages()
        if len(messages) >= count:
            return messages
        time.sleep(0.05)
    raise AssertionError(f"rsyslog wrote {len(server.messages())} messages, expected {count}")


async def test_rsyslog_receives_every_event_with_id_and_position(
    store: EventStore, rsyslog: Rsyslog
) -> None:
    events = fill(store, 8)
    forwarder = SinkForwarder(store, parse_sink(url(rsyslog)), batch_size=3)
    assert await forwarder.catch_up() == 8
    await forwarder.sink.close()
    messages = await asyncio.to_thread(wait_for_messages, rsyslog, 8)
    assert [(m.params["id"], m.params["position"]) for m in messages] == [
        (e.id, str(e.position)) for e in events
    ]
    assert [m.msgid for m in messages] == [e.type for e in events]
    assert [m.params["hash"] for m in messages] == [e.hash for e in events]
    sealed = list(EventStore(store.engine).read_all(sealed=True))
    assert [m.body for m in messages] == [json.loads(e.model_dump_json()) for e in sealed]
    assert SECRET not in rsyslog.received_file.read_text()
    head, _ = store.head()
    assert Cursors(store.engine).statuses(head)[0].position == events[-1].position


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_receiver_that_is_down_is_retried_and_loses_nothing(
    store: EventStore, rsyslog: Rsyslog
) -> None:
    events = fill(store, 4)
    forwarder = SinkForwarder(store, parse_sink(url(rsyslog, "&sealed=open")), batch_size=2)
    assert await forwarder.catch_up() == 4
    await asyncio.to_thread(wait_for_messages, rsyslog, 4)
    port = rsyslog.port
    rsyslog.stop()
    more = fill(store, 3, stream="incident-2")[4:]
    with pytest.raises(SinkError, match="rsyslog: "):
        await forwarder.step()  # the open connection is gone, or refused on reconnect
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(poll=0.05, max_backoff=0.2, stop=stop))
    await asyncio.sleep(0.5)
    head, _ = store.head()
    failing = Cursors(store.engine).statuses(head)[0]
    assert failing.failing_since is not None and failing.position == events[-1].position
    await asyncio.to_thread(rsyslog.start, port)
    messages = await asyncio.to_thread(wait_for_messages, rsyslog, 7)
    stop.set()
    await task
    ids = [m.params["id"] for m in messages]
    assert set(ids) == {e.id for e in [*events, *more]}
    assert ids[-3:] == [e.id for e in more]
    assert messages[0].body["payload"].get("prompt") == SECRET  # sealed=open
    status = Cursors(store.engine).statuses(store.head()[0])[0]
    assert status.lag == 0 and status.failing_since is None and status.errors >= 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_untrusted_certificate_gets_nothing(
    store: EventStore, rsyslog: Rsyslog, tmp_path: object
) -> None:
    fill(store, 1)
    other_ca, _, _ = make_ca(rsyslog.directory / "other")
    config = parse_sink(f"syslog+tls://localhost:{rsyslog.port}?ca={other_ca}&name=rsyslog")
    forwarder = SinkForwarder(store, config)
    with pytest.raises(SinkError, match="TLS certificate not trusted"):
        await forwarder.step()
    await forwarder.sink.close()
    assert rsyslog.messages() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_large_record_arrives_whole_in_its_octet_counted_frame(
    store: EventStore, rsyslog: Rsyslog
) -> None:
    """An alert body near FIREBREAK_MAX_ALERT_BYTES, sealed (base64), between two small events:
    the framing keeps the three apart and the large one whole."""
    fill(store, 1)
    store.append("incident-big", [new_event(payload={"body": "x" * 200_000}, sensitive=("body",))])
    fill(store, 1, stream="incident-3")
    forwarder = SinkForwarder(store, parse_sink(url(rsyslog)))
    assert await forwarder.catch_up() == 3
    await forwarder.sink.close()
    messages = await asyncio.to_thread(wait_for_messages, rsyslog, 3)
    sealed = list(EventStore(store.engine).read_all(sealed=True))
    assert [m.body for m in messages] == [json.loads(e.model_dump_json()) for e in sealed]
    assert len(messages[1].body["payload"]["body"]) > 200_000
