"""The format registry: `jsonl` is the export line; `ocsf` wraps `orchestrator.ocsf.to_ocsf`
(built on its own branch) and makes sure each record names its event's id and position in
OCSF's own metadata; a build without that package fails at start-up, naming it."""

from __future__ import annotations

import io
import json
import sys
from types import ModuleType
from typing import Any

import pytest

from orchestrator.audit import EventStore
from orchestrator.domain import RecordedEvent
from orchestrator.errors import ConfigError
from orchestrator.forwarding import formats
from tests.forwarding.conftest import fill


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_jsonl_is_the_export_line(store: EventStore) -> None:
    fill(store, 3)
    out = io.StringIO()
    store.export(out)
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    jsonl = formats.get_format("jsonl")
    assert len(exported) == 3
    assert [jsonl(event) for event in store.read_all()] == exported


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ocsf_wraps_to_ocsf_with_id_and_position(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    [event] = fill(store, 1)
    module = ModuleType("fake_ocsf")

    def to_ocsf(recorded: RecordedEvent) -> dict[str, Any]:
        return {"class_uid": 6003, "metadata": {"version": "1.3.0"}, "message": recorded.type}

    module.to_ocsf = to_ocsf  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_ocsf", module)
    monkeypatch.setattr(formats, "OCSF_MODULE", "fake_ocsf")
    record = formats.get_format("ocsf")(event)
    assert record == {
        "class_uid": 6003,
        "message": event.type,
        "metadata": {"version": "1.3.0", "uid": event.id, "sequence": event.position},
    }


def test_ocsf_without_its_package_and_unknown_formats_are_config_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formats, "OCSF_MODULE", "orchestrator.no_such_ocsf")
    with pytest.raises(ConfigError, match=r"format=ocsf needs the orchestrator\.no_such_ocsf"):
        formats.get_format("ocsf")
    with pytest.raises(ConfigError, match="unknown format 'cef'; known: jsonl, ocsf"):
        formats.get_format("cef")
