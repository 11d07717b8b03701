"""A sink's formats are the audit export's: `jsonl` is the export line, `ocsf` the record
`export --format ocsf` writes, naming the event's id and position in OCSF's own metadata."""

from __future__ import annotations

import io
import json

import pytest

from orchestrator.audit import EventStore, ExportFormat
from orchestrator.errors import ConfigError
from orchestrator.forwarding import formats
from tests.forwarding.conftest import fill


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["jsonl", "ocsf"])
def test_each_format_is_the_export_line(store: EventStore, name: str) -> None:
    fill(store, 3)
    out = io.StringIO()
    store.export(out, format=ExportFormat(name))
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    record = formats.get_format(name)
    assert len(exported) == 3
    assert [record(event) for event in store.read_all()] == exported


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ocsf_records_name_the_event_id_and_position(store: EventStore) -> None:
    events = fill(store, 2)
    records = [formats.get_format("ocsf")(event) for event in events]
    assert [(r["metadata"]["uid"], r["metadata"]["sequence"]) for r in records] == [
        (e.id, e.position) for e in events
    ]


def test_unknown_formats_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown format 'cef'; known: jsonl, ocsf"):
        formats.get_format("cef")
    with pytest.raises(ConfigError, match="unknown format 'chain'; known: jsonl, ocsf"):
        formats.get_format("chain")  # an export format, written from rows, not a sink's
