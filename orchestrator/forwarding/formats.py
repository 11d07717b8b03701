"""The record formats a sink can send, by name: a small registry.

- `jsonl`: the ledger's own export line (`firebreak audit export`): the `RecordedEvent` as
  JSON, with its position, id and hashes.
- `ocsf`: one OCSF record per event from `orchestrator.ocsf.to_ocsf`, with the event's id and
  position made sure of in OCSF's own `metadata.uid` and `metadata.sequence`. That package is
  looked up when a sink asks for the format, so a build without it fails at start-up, naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from orchestrator.domain import RecordedEvent
from orchestrator.errors import ConfigError

Format = Callable[[RecordedEvent], dict[str, Any]]
OCSF_MODULE = "orchestrator.ocsf"


def jsonl(event: RecordedEvent) -> dict[str, Any]:
    """What `firebreak audit export` writes for the event, as a JSON object."""
    return event.model_dump(mode="json")


def _ocsf() -> Format:
    try:
        module = importlib.import_module(OCSF_MODULE)
    except ImportError:
        raise ConfigError(
            f"format=ocsf needs the {OCSF_MODULE} package, which this build lacks"
        ) from None
    to_ocsf: Callable[[RecordedEvent], dict[str, Any]] = module.to_ocsf

    def ocsf(event: RecordedEvent) -> dict[str, Any]:
        record = dict(to_ocsf(event))
        metadata = dict(record.get("metadata") or {})
        metadata.setdefault("uid", event.id)
        metadata.setdefault("sequence", event.position)
        record["metadata"] = metadata
        return record

    return ocsf


FORMATS: dict[str, Callable[[], Format]] = {"jsonl": lambda: jsonl, "ocsf": _ocsf}
"""Each name's format, resolved when a sink starts."""


def get_format(name: str) -> Format:
    """The format called `name`; `ConfigError` for a name not in `FORMATS`."""
    if name not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]()
