"""The record formats a sink can send, by name: two of those the audit export writes.

- `jsonl`: the ledger's own export line (`firebreak audit export`): the `RecordedEvent` as
  JSON, with its position, id and hashes.
- `ocsf`: the event's OCSF record (`orchestrator.ocsf.to_ocsf`, as `export --format ocsf`
  writes it), which names the event's id and position in `metadata.uid` and `metadata.sequence`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.audit import ExportFormat
from orchestrator.domain import RecordedEvent
from orchestrator.errors import ConfigError
from orchestrator.ocsf import to_ocsf

Format = Callable[[RecordedEvent], dict[str, Any]]


def jsonl(event: RecordedEvent) -> dict[str, Any]:
    """What `firebreak audit export` writes for the event, as a JSON object."""
    return event.model_dump(mode="json")


FORMATS: dict[ExportFormat, Format] = {ExportFormat.jsonl: jsonl, ExportFormat.ocsf: to_ocsf}
"""Each export format's record, as a JSON object for a sink to encode."""


def get_format(name: str) -> Format:
    """The format called `name`; `ConfigError` for a name that is not an export format."""
    try:
        return FORMATS[ExportFormat(name)]
    except (ValueError, KeyError):
        # `chain` is an export format but not a sink's: it is written from the stored rows.
        known = ", ".join(f.value for f in FORMATS)
        raise ConfigError(f"unknown format {name!r}; known: {known}") from None
